"""One Astro Deployment, Astro's default workload identity, one of your IAM roles: from Python."""
import pulumi
import pulumi_deployment_authorization as da

config = pulumi.Config()

analytics = da.DeploymentAuthorization(
    "analytics",
    # Astro UI → Deployment → Details → Workload Identity
    workload_identity=config.require("workloadIdentity"),
    aws=da.AwsGrantArgs(
        # The role your Deployment should act as; it must exist. Only one statement is added to it.
        target_role=config.require("targetRoleArn"),
        region=config.get("region") or "us-east-1",
    ),
    connection=da.ConnectionArgs(
        connection_id="aws_default",
        airflow=da.ConnectionAirflowArgs(
            # https://<org>.astronomer.run/<deployment>; the token comes from
            # `pulumi config set --secret deployment-authorization:airflowToken <Astro API token>`.
            url=config.require("airflowUrl"),
            auth=da.ConnectionAirflowAuthTokenArgs(kind="token"),
        ),
    ),
)

pulumi.export("grant", analytics.grant)
pulumi.export("connection", analytics.connection)
