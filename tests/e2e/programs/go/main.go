// A Go program using the generated Go SDK (sdks/go): compiled by tests/e2e/sdks.test.ts.
package main

import (
	da "github.com/pulumi-deployment-authorization/pulumi-deployment-authorization/sdks/go/deploymentauthorization"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

func main() {
	pulumi.Run(func(ctx *pulumi.Context) error {
		auth, err := da.NewDeploymentAuthorization(ctx, "analytics", &da.DeploymentAuthorizationArgs{
			WorkloadIdentity: pulumi.String("arn:aws:iam::123456789012:role/astro-d1234567"),
			Aws: &da.AwsGrantArgs{
				TargetRole: pulumi.String("arn:aws:iam::123456789012:role/data-reader"),
				Region:     pulumi.String("us-east-1"),
			},
			Connection: &da.ConnectionArgs{
				ConnectionId: pulumi.String("aws_default"),
				Airflow: &da.ConnectionAirflowArgs{
					Url:  pulumi.String("https://example.astronomer.run/d1234567"),
					Auth: da.ConnectionAirflowAuthTokenArgs{Kind: pulumi.String("token")},
				},
			},
		})
		if err != nil {
			return err
		}
		ctx.Export("grant", auth.Grant)
		return nil
	})
}
