import type { GrantPlugin } from "../../core/types";
import { AzureGrant, AzureResolved, azureConnectionExtra, planAzureGrant } from "./plan";
import { azurePlanner } from "./planner";
import { AzureInput, SECRET_AZURE_EXTRA_KEYS, azureInputSchema, refineAzureInput } from "./schema";

/**
 * Azure: federated identity credentials for the Deployment's Kubernetes service accounts on a
 * user-assigned managed identity, its role assignment on a scope, and an `azure` connection.
 */
export const azurePlugin: GrantPlugin<AzureInput, AzureGrant, AzureResolved> = {
  ...azurePlanner,
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
  secretExtraKeys: SECRET_AZURE_EXTRA_KEYS,
  refine: refineAzureInput,
  plan(input) {
    const grant = planAzureGrant(input);
    return { grant, connType: "azure", extra: azureConnectionExtra(grant) };
  },
};

export { azurePlanner } from "./planner";
export type { AzureGrant, AzureResolved } from "./plan";
export type { AzureInput } from "./schema";
