"""The Deployment's Kubernetes service accounts federate with one of your managed identities: from Python."""
import pulumi
import pulumi_deployment_authorization as da

config = pulumi.Config()

lake = da.DeploymentAuthorization(
    "lake",
    # No workload_identity on Azure: the Deployment's Kubernetes service accounts federate with the identity.
    azure=da.AzureGrantArgs(
        # /subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.ManagedIdentity/userAssignedIdentities/<name>
        identity=config.require("identity"),
        # The Deployment's cluster OIDC issuer (on Astro, the Deployment's oidcIssuerUrl) and its namespace.
        issuer_url=config.require("issuerUrl"),
        namespace=config.require("namespace"),
        # The identity's role on a subscription, resource group or resource.
        role_assignment=da.AzureGrantRoleAssignmentArgs(
            scope=config.require("scope"),
            role=config.get("role") or "Storage Blob Data Reader",
        ),
    ),
    connection=da.ConnectionArgs(
        # Needs apache-airflow-providers-microsoft-azure >= 8.2.0 in the Deployment.
        connection_id=config.get("connectionId") or "azure_default",
        airflow=da.ConnectionAirflowArgs(
            url=config.require("airflowUrl"),
            auth=da.ConnectionAirflowAuthTokenArgs(kind="token"),
        ),
    ),
)

# Enter the identity in the Deployment's Workload Identity settings in Astro (Details → Workload Identity).
pulumi.export("grant", lake.grant)
pulumi.export("connection", lake.connection)
