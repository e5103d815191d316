"""A GCP project role grant and its Airflow connection, from Python through the provider plugin."""
import pulumi
import pulumi_deployment_authorization as da

config = pulumi.Config()
auth = da.DeploymentAuthorization(
    "analytics",
    workload_identity=config.require("workloadIdentity"),
    gcp=da.GcpGrantArgs(
        project=config.require("project"),
        grant=da.GcpGrantProjectRoleArgs(kind="projectRole", role="roles/bigquery.dataViewer"),
    ),
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
pulumi.export("members", auth.grant.apply(lambda grant: grant.members))
pulumi.export("connection", auth.connection)
