// Azure: the Deployment's Kubernetes service accounts federate with a user-assigned managed identity
// of yours (one federated identity credential each, as the command shown by the Astro UI makes), the
// identity gets a role on the resource the Deployment needs, and an `azure` connection names the
// identity. The identity must exist; the resource never creates or deletes it.
import * as pulumi from "@pulumi/pulumi";
import { DeploymentAuthorization, type ServiceAccountComponent } from "pulumi-deployment-authorization";

const config = new pulumi.Config();

const lake = new DeploymentAuthorization("lake", {
  // No workloadIdentity on Azure: the Deployment's Kubernetes service accounts federate with the identity.
  azure: {
    // /subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.ManagedIdentity/userAssignedIdentities/<name>
    identity: config.require("identity"),
    // The Deployment's cluster OIDC issuer (on Astro, the Deployment's oidcIssuerUrl) and its namespace;
    // either may be an output of whatever creates the Deployment.
    issuerUrl: config.require("issuerUrl"),
    namespace: config.require("namespace"),
    // Default: scheduler, worker, triggerer and dag-processor, four credentials, so five Deployments fit
    // on one identity (Entra allows 20 federated identity credentials per identity).
    serviceAccounts: config.getObject<ServiceAccountComponent[]>("serviceAccounts"),
    // The guide's step 1: the identity's role on a subscription, resource group or resource.
    roleAssignment: {
      scope: config.require("scope"),
      role: config.get("role") ?? "Storage Blob Data Reader",
    },
  },
  connection: {
    // Type azure; extra: managed_identity_client_id, workload_identity_tenant_id and subscriptionId.
    // Needs apache-airflow-providers-microsoft-azure >= 8.2.0 in the Deployment.
    connectionId: config.get("connectionId") ?? "azure_default",
    airflow: {
      // https://<org>.astronomer.run/<deployment>; the token comes from
      // `pulumi config set --secret deployment-authorization:airflowToken <Astro API token>`.
      url: config.require("airflowUrl"),
      auth: { kind: "token" },
    },
  },
});

// Enter the identity in the Deployment's Workload Identity settings in Astro (Details → Workload Identity).
export const clientId = lake.grant.clientId;
export const credentials = lake.grant.credentials;
export const roleAssignment = lake.grant.roleAssignment;
export const connection = lake.connection;
