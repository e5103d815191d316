"""An AWS grant and its Airflow connection, from Python through the provider plugin."""
import pulumi
import pulumi_deployment_authorization as da

config = pulumi.Config()
auth = da.DeploymentAuthorization(
    "analytics",
    workload_identity=config.require("workloadIdentity"),
    aws=da.AwsGrantArgs(target_role=config.require("targetRole"), region="us-east-1"),
    connection=da.ConnectionArgs(
        connection_id=config.require("connectionId"),
        description=config.require("description"),
        airflow=da.ConnectionAirflowArgs(
            url=config.require("airflowUrl"),
            auth=da.ConnectionAirflowAuthPasswordArgs(
                kind="password",
                username=config.require("airflowUsername"),
                password=config.require_secret("airflowPassword"),
            ),
        ),
    ),
)
pulumi.export("grant", auth.grant)
# The grant is typed (outputs.Grant): its fields read as attributes.
pulumi.export("roleArn", auth.grant.apply(lambda grant: grant.role_arn))
pulumi.export("connection", auth.connection)
