import type { GrantPlugin } from "../../core/types";
import {
  AzureGrant,
  AzureResolved,
  azureConnectionExtra,
  azureExtraForApply,
  azureExtraInPlanTerms,
  identityName,
  planAzureGrant,
  staleAzureGrant,
} from "./plan";
import { AzureInput, azureInputSchema, refineAzureInput } from "./schema";

/**
 * Azure: federated identity credentials for the Deployment's Kubernetes service accounts on a
 * user-assigned managed identity, its role assignment on a scope, and an `azure` connection.
 */
export const azurePlugin: GrantPlugin<AzureInput, AzureGrant, AzureResolved> = {
  cloud: "azure",
  schema: azureInputSchema,
  reservedExtraKeys: [
    "managed_identity_client_id",
    "workload_identity_tenant_id",
    "subscriptionId",
    "extra__azure__subscriptionId",
  ],
  refusedExtraKeys: Object.fromEntries(
    ["tenantId", "extra__azure__tenantId"].map((key) => [
      key,
      "would switch the Azure hook from the managed identity to client-secret authentication (login and password); remove it: workload_identity_tenant_id is set by the resource",
    ]),
  ),
  forbiddenExtraKeys: /^(extra__azure__)?(key_path|key_json|client_secret|certificate|certificate_path|sas_token)$/i,
  refine: refineAzureInput,
  plan(input) {
    const grant = planAzureGrant(input);
    return { grant, connType: "azure", extra: azureConnectionExtra(grant) };
  },
  replaces: (old, next) => (old.identity.toLowerCase() === next.identity.toLowerCase() ? [] : ["grant.identity"]),
  stale: staleAzureGrant,
  idOf: (grant) => identityName(grant.identity),
  extraForApply: azureExtraForApply,
  extraInPlanTerms: azureExtraInPlanTerms,
  summarize(grant) {
    const assignment = grant.roleAssignment;
    const risks: string[] = [];
    if (assignment && BROAD_ROLES.has(assignment.role)) {
      risks.push(`${assignment.role} is a broad role: it grants writes (or more) at ${assignment.scope}`);
    }
    if (assignment && /^\/subscriptions\/[^/]+\/?$/.test(assignment.scope)) {
      risks.push(`the role assignment covers a whole subscription (${assignment.scope})`);
    }
    return {
      target: `managed identity ${grant.identity}`,
      entries: [
        ...grant.credentials.map((c) => `federated credential ${c.name}: ${c.subject} from ${c.issuer}`),
        ...(assignment ? [`role ${assignment.role} at ${assignment.scope}`] : []),
      ],
      risks,
    };
  },
  deploymentSettings: {
    customerManagedIdentity: () => ({
      ok: false,
      reason:
        "cannot be set on Azure: Astro's API refuses a workload identity on Azure Deployments (UpdateDeployment answers 400). " +
        "On Azure the Deployment's pods already act as your managed identity through the federated credentials this resource " +
        "creates; remove customerManagedIdentity",
    }),
    secretsBackend: () => ({
      ok: false,
      reason:
        "is offered for AWS (Secrets Manager) and GCP (Secret Manager); on Azure, set AIRFLOW__SECRETS__BACKEND to Key Vault's " +
        "backend with the managed identity's client id yourself, or remove secretsBackend",
    }),
    reservedKwargs: [],
  },
};

export type { AzureGrant, AzureResolved } from "./plan";
export type { AzureInput } from "./schema";

const BROAD_ROLES = new Set(["Owner", "Contributor", "User Access Administrator"]);
