import { z } from "zod";
import {
  issuerUrlSchema,
  namespaceSchema,
  serviceAccountNamesSchema,
  serviceAccountsSchema,
} from "../../core/astroSchema";
import type { CommonInputs, IssueSink } from "../../core/types";
import { orUnknown } from "../../core/schema";
import { GUID, IDENTITY_ID, RESOURCE_GROUP, SCOPE } from "./names";

/**
 * The `extra` keys apache-airflow-providers-microsoft-azure reads as key material or a secret, in
 * AzureBaseHook (the `azure` connection type) and in the other hooks a DAG may point at the same
 * connection; each is also read as `extra__<conn type>__<key>`.
 */
export const SECRET_AZURE_EXTRA_KEYS: Readonly<Record<string, string>> = {
  key_path: "the path of a service principal's auth file (AzureBaseHook)",
  key_json: "a service principal's auth file, with its client secret (AzureBaseHook)",
  client_secret: "a service principal's client secret",
  certificate: "a PEM certificate with its private key (AzureDataExplorerHook)",
  certificate_path: "the path of a certificate with its private key (KiotaRequestAdapterHook, msgraph)",
  certificate_data: "a certificate with its private key (KiotaRequestAdapterHook, msgraph)",
  connection_string:
    "a storage connection string, which holds the account key (WasbHook, AzureDataLakeStorageV2Hook, AzureFileShareHook, AzureContainerVolumeHook)",
  shared_access_key: "a storage account key (WasbHook)",
  account_key: "a storage account key (WasbHook)",
  sas_token: "a shared access signature (WasbHook, AzureFileShareHook)",
  credential: "a Service Bus credential (AzureServiceBus hooks)",
};

const identity = z.union(
  [
    z.string().regex(IDENTITY_ID, {
      error:
        "must be a user-assigned managed identity: its resource id (/subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.ManagedIdentity/userAssignedIdentities/<name>) or {subscriptionId, resourceGroup, name}",
    }),
    z
      .object({
        subscriptionId: z.string().regex(new RegExp(`^${GUID}$`), { error: "must be a subscription id (a GUID)" }),
        resourceGroup: z.string().regex(new RegExp(`^${RESOURCE_GROUP}$`), { error: "must be a resource group name" }),
        name: z.string().regex(/^[a-zA-Z0-9][-\w]{2,127}$/, {
          error: "must be a managed identity name (3-128 letters, digits, hyphens and underscores)",
        }),
      })
      .strict(),
  ],
  {
    error:
      "must be a user-assigned managed identity: its resource id (/subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.ManagedIdentity/userAssignedIdentities/<name>) or {subscriptionId, resourceGroup, name}",
  },
);

/** `inputs.azure`: the managed identity the Deployment federates with, and what that identity may do. */
export const azureInputSchema = z
  .object({
    /** The user-assigned managed identity: its resource id, or {subscriptionId, resourceGroup, name}. */
    identity: orUnknown(identity),
    /** The Deployment's cluster OIDC issuer (Astro: the Deployment's `oidcIssuerUrl`); may be an Output. */
    issuerUrl: issuerUrlSchema("https://westus2.oic.prod-aks.azure.com/<tenant>/<guid>/"),
    /** The Deployment's namespace; may be an output of the resource that creates the Deployment. */
    namespace: namespaceSchema,
    /** Default: scheduler, worker, triggerer, dag-processor (four, so five Deployments fit in Entra's 20 credentials). */
    serviceAccounts: serviceAccountsSchema,
    /** Full Kubernetes service account names, instead of the components' Astro names. */
    serviceAccountNames: serviceAccountNamesSchema,
    /** The identity's role assignment on the resource the Deployment needs (the guide's step 1). */
    roleAssignment: z
      .object({
        /** The resource id to assign at: a subscription, a resource group or a resource. */
        scope: orUnknown(
          z.string({ error: "must be a resource id as a string" }).regex(SCOPE, {
            error:
              "must be a resource id such as /subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.Storage/storageAccounts/<name>",
          }),
        ),
        /** A built-in role's name (Storage Blob Data Reader) or a role definition id (a GUID or its full id). */
        role: orUnknown(z.string({ error: "must be a role name or role definition id" }).min(1).max(512)),
      })
      .strict()
      .optional(),
    /**
     * Take over a credential that already federates the same issuer and subject under another name
     * (made by hand). Without it, such a credential is an error, since Entra allows only one.
     */
    adoptExistingCredentials: z.boolean({ error: "must be true or false" }).optional(),
  })
  .strict()
  .refine((a) => !(a.serviceAccounts && a.serviceAccountNames), {
    error: "give serviceAccounts (components) or serviceAccountNames, not both",
  });

export type AzureInput = z.infer<typeof azureInputSchema>;

/** The Deployment federates through its Kubernetes service accounts: its own workload identity is not used. */
export function refineAzureInput(_input: AzureInput, common: CommonInputs, issue: IssueSink): void {
  if (common.workloadIdentity !== undefined) {
    issue(
      ["workloadIdentity"],
      "is not used on Azure: the Deployment's Kubernetes service accounts federate with azure.identity",
    );
  }
}
