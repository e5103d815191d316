"""One Astro Deployment's default workload identity gets a role on one of your projects: from Python."""
import pulumi
import pulumi_deployment_authorization as da

config = pulumi.Config()

bigquery = da.DeploymentAuthorization(
    "bigquery",
    # Astro UI → Deployment → Details → Workload Identity (Default Identity), such as
    # astro-celestial-galaxy-1234@astronomer-prod.iam.gserviceaccount.com
    workload_identity=config.require("workloadIdentity"),
    gcp=da.GcpGrantArgs(
        # The project to grant the role on, and the connection's `project`. Default: stack config gcp:project.
        project=config.get("project"),
        # Only this member/role pair is added to the project's IAM policy; everything else stays as it is.
        grant=da.GcpGrantProjectRoleArgs(kind="projectRole", role=config.get("role") or "roles/bigquery.dataViewer"),
    ),
    connection=da.ConnectionArgs(
        connection_id=config.get("connectionId") or "google_cloud_default",
        airflow=da.ConnectionAirflowArgs(
            url=config.require("airflowUrl"),
            auth=da.ConnectionAirflowAuthTokenArgs(kind="token"),
        ),
    ),
)

pulumi.export("grant", bigquery.grant)
pulumi.export("connection", bigquery.connection)
