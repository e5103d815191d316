import type { CloudInputs } from "../../core/types";
import { AzureGrant, azureConnectionExtra, planAzureGrant } from "./plan";
import { AzureInput, SECRET_AZURE_EXTRA_KEYS, azureInputSchema, refineAzureInput } from "./schema";

/**
 * Azure's inputs: a user-assigned managed identity and a role assignment, planned as federated
 * identity credentials for the Deployment's Kubernetes service accounts and an `azure` connection.
 */
export const azureInputs: CloudInputs<AzureInput, AzureGrant> = {
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
