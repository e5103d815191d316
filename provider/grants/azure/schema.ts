import { z } from "zod";
import {
  issuerUrlSchema,
  namespaceSchema,
  serviceAccountNamesSchema,
  serviceAccountsSchema,
} from "../../astro/namingSchema";
import type { CommonInputs, IssueSink } from "../../core/types";
import { mustBe, orUnknown, shown, strictObject } from "../../core/schema";
import { UNKNOWN } from "../../core/unknown";
import { CREDENTIAL_PREFIX, credentialName } from "./plan";
import {
  GUID,
  IDENTITY_ID,
  IDENTITY_NAME_ONLY,
  LOOKS_LIKE_A_ROLE_ID,
  RESOURCE_GROUP,
  ROLE_DEFINITION_ID,
  SCOPE,
} from "./names";

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

const IDENTITY_RULE =
  "a user-assigned managed identity: its resource id (/subscriptions/<subscription GUID>/resourceGroups/<group>/providers/Microsoft.ManagedIdentity/userAssignedIdentities/<name>) or {subscriptionId, resourceGroup, name}, such as /subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/airflow/providers/Microsoft.ManagedIdentity/userAssignedIdentities/airflow-lake";

const identity = z.union(
  [
    z.string().regex(IDENTITY_ID, { error: mustBe(IDENTITY_RULE) }),
    strictObject({
      /** The identity's subscription id, a GUID such as 00000000-0000-0000-0000-000000000000. */
      subscriptionId: z
        .string({ error: "must be a subscription id as a string" })
        .regex(new RegExp(`^${GUID}$`), {
          error: mustBe("a subscription id, a GUID such as 00000000-0000-0000-0000-000000000000"),
        })
        .describe("The identity's subscription id, a GUID such as 00000000-0000-0000-0000-000000000000."),
      /** The identity's resource group, such as airflow-rg. */
      resourceGroup: z
        .string({ error: "must be a resource group name as a string" })
        .regex(new RegExp(`^${RESOURCE_GROUP}$`, "u"), {
          error: mustBe(
            "a resource group name: 1-90 letters, digits, underscores, hyphens, periods and parentheses, not ending in a period, such as airflow-rg",
          ),
        })
        .describe("The identity's resource group, such as airflow-rg."),
      /** The identity's name, such as airflow-lake. */
      name: z
        .string({ error: "must be a managed identity name as a string" })
        .regex(IDENTITY_NAME_ONLY, {
          error: mustBe(
            "a managed identity name: 3-128 letters, digits, hyphens and underscores, starting with a letter or digit, such as airflow-lake",
          ),
        })
        .describe("The identity's name, such as airflow-lake."),
    }),
  ],
  {
    error: (issue) =>
      typeof issue.input === "string" || issue.input === null || typeof issue.input !== "object"
        ? `must be ${IDENTITY_RULE}`
        : `must be ${IDENTITY_RULE}`,
  },
);

const SCOPE_RULE =
  "a resource id to assign the role at: a subscription (/subscriptions/<GUID>), a resource group (…/resourceGroups/<group>) or a resource in one (…/providers/<Namespace.Service>/<type>/<name>, then any /<child type>/<child name> pairs), such as /subscriptions/<GUID>/resourceGroups/data/providers/Microsoft.Storage/storageAccounts/lake";

/**
 * A built-in or custom role's name (at most 512 characters), or a role definition id: its GUID, or
 * its full id (/subscriptions/<GUID>/providers/Microsoft.Authorization/roleDefinitions/<GUID>).
 */
const role = z
  .string({ error: "must be a role name or role definition id as a string" })
  .min(1, { error: "must be a role name (such as Storage Blob Data Reader) or a role definition id" })
  .max(512, { error: "must be at most 512 characters: a role name or a role definition id" })
  .refine((v) => !LOOKS_LIKE_A_ROLE_ID.test(v) || ROLE_DEFINITION_ID.test(v), {
    error: mustBe(
      "a role definition id, when not a role name: a GUID such as 2a2b9908-6ea1-4ae2-8e65-a410df84e7d1, or /subscriptions/<GUID>/providers/Microsoft.Authorization/roleDefinitions/<GUID>",
    ),
  });

/** `inputs.azure`: the managed identity the Deployment federates with, and what that identity may do. */
export const azureInputSchema = strictObject({
  /**
   * The user-assigned managed identity: its resource id, or { subscriptionId, resourceGroup, name }, such
   * as
   * /subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/airflow/providers/Microsoft.ManagedIdentity/userAssignedIdentities/airflow-lake.
   * It must exist; it is never created or deleted. Changing it replaces the resource.
   */
  identity: orUnknown(identity).describe(
    "The user-assigned managed identity: its resource id, or { subscriptionId, resourceGroup, name }, such as /subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/airflow/providers/Microsoft.ManagedIdentity/userAssignedIdentities/airflow-lake. It must exist; it is never created or deleted. Changing it replaces the resource.",
  ),
  /**
   * The Deployment's cluster OIDC issuer (Astro: the Deployment's `oidcIssuerUrl`), an https URL of at most
   * 600 characters, such as https://westus2.oic.prod-aks.azure.com/<tenant>/<guid>/; may be an output. With
   * `deployment`, read from the Deployment.
   */
  // Microsoft Graph federatedIdentityCredential.issuer: at most 600 characters.
  issuerUrl: issuerUrlSchema({
    example: "https://westus2.oic.prod-aks.azure.com/<tenant>/<guid>/",
    maxLength: 600,
    port: true,
    source: "Entra's limit on a federated credential's issuer",
  }).describe(
    "The Deployment's cluster OIDC issuer (Astro: the Deployment's `oidcIssuerUrl`), an https URL of at most 600 characters, such as https://westus2.oic.prod-aks.azure.com/<tenant>/<guid>/; may be an output. With `deployment`, read from the Deployment.",
  ),
  /**
   * The Deployment's Kubernetes namespace, such as astronomer-celestial-galaxy-1234; may be an output of
   * the resource that creates the Deployment. With `deployment`, read from the Deployment.
   */
  namespace: namespaceSchema.describe(
    "The Deployment's Kubernetes namespace, such as astronomer-celestial-galaxy-1234; may be an output of the resource that creates the Deployment. With `deployment`, read from the Deployment.",
  ),
  /**
   * The Deployment's components to federate, one credential each, of scheduler, worker, triggerer,
   * dag-processor, webserver, api-server and kpo, such as ["worker"]; not with serviceAccountNames.
   * Default: scheduler, worker, triggerer, dag-processor (four, so five Deployments fit in Entra's 20
   * credentials).
   */
  serviceAccounts: serviceAccountsSchema.describe(
    "The Deployment's components to federate, one credential each, of scheduler, worker, triggerer, dag-processor, webserver, api-server and kpo, such as [\"worker\"]; not with serviceAccountNames. Default: scheduler, worker, triggerer, dag-processor (four, so five Deployments fit in Entra's 20 credentials).",
  ),
  /**
   * Full Kubernetes service account names, instead of the components' Astro names, such as
   * ["astronomer-celestial-galaxy-1234-worker-serviceaccount"]; not with serviceAccounts.
   */
  serviceAccountNames: serviceAccountNamesSchema.describe(
    'Full Kubernetes service account names, instead of the components\' Astro names, such as ["astronomer-celestial-galaxy-1234-worker-serviceaccount"]; not with serviceAccounts.',
  ),
  /**
   * The identity's role assignment on the resource the Deployment needs (the guide's step 1), { scope, role
   * }. Default: none.
   */
  roleAssignment: strictObject({
    /**
     * The resource id to assign at: a subscription, a resource group or a resource, such as
     * /subscriptions/<GUID>/resourceGroups/data/providers/Microsoft.Storage/storageAccounts/lake.
     */
    scope: orUnknown(
      z.string({ error: "must be a resource id as a string" }).regex(SCOPE, { error: mustBe(SCOPE_RULE) }),
    ).describe(
      "The resource id to assign at: a subscription, a resource group or a resource, such as /subscriptions/<GUID>/resourceGroups/data/providers/Microsoft.Storage/storageAccounts/lake.",
    ),
    /**
     * A built-in role's name or a role definition id (a GUID or its full id), such as Storage Blob Data
     * Reader.
     */
    role: orUnknown(role).describe(
      "A built-in role's name or a role definition id (a GUID or its full id), such as Storage Blob Data Reader.",
    ),
  })
    .optional()
    .describe(
      "The identity's role assignment on the resource the Deployment needs (the guide's step 1), { scope, role }. Default: none.",
    ),
  /**
   * Take over a credential that already federates the same issuer and subject under another name (made by
   * hand). Without it, such a credential is an error, since Entra allows only one. Default: false.
   */
  adoptExistingCredentials: z
    .boolean({ error: "must be true or false" })
    .optional()
    .describe(
      "Take over a credential that already federates the same issuer and subject under another name (made by hand). Without it, such a credential is an error, since Entra allows only one. Default: false.",
    ),
})
  .refine((a) => !(a.serviceAccounts && a.serviceAccountNames), {
    error: "give serviceAccounts (components) or serviceAccountNames, not both",
  })
  .describe(
    "Grant in Azure: federated identity credentials for the Deployment's Kubernetes service accounts on a user-assigned managed identity, and optionally the identity's role assignment. { identity, issuerUrl, namespace, serviceAccounts?, serviceAccountNames?, roleAssignment?, adoptExistingCredentials? }.",
  );

export type AzureInput = z.infer<typeof azureInputSchema>;

/** The Deployment federates through its Kubernetes service accounts: its own workload identity is not used. */
export function refineAzureInput(input: AzureInput, common: CommonInputs, issue: IssueSink): void {
  if (common.workloadIdentity !== undefined) {
    issue(
      ["workloadIdentity"],
      "is not used on Azure: the Deployment's Kubernetes service accounts federate with azure.identity",
    );
  }
  // Entra credential names allow only [A-Za-z0-9-_] and 120 characters: two service accounts whose
  // names differ only in what the credential name cannot hold would need one credential.
  const names = Array.isArray(input?.serviceAccountNames) ? input.serviceAccountNames : [];
  const issuer = typeof input?.issuerUrl === "string" && input.issuerUrl !== UNKNOWN ? input.issuerUrl : "";
  const seen = new Map<string, string>();
  for (const name of names) {
    if (typeof name !== "string" || name === UNKNOWN) continue;
    const credential = credentialName(issuer, name);
    const other = seen.get(credential);
    if (other !== undefined && other !== name) {
      issue(
        ["azure", "serviceAccountNames"],
        `name ${shown(other)} and ${shown(name)}, which map to one federated credential name (${credential.slice(CREDENTIAL_PREFIX.length + 9)} after the issuer's hash: Entra's names hold only letters, digits, - and _, at most 120 characters); give names that differ in those`,
      );
      return;
    }
    seen.set(credential, name);
  }
}
