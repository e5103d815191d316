import { z } from "zod";
import {
  issuerUrlSchema,
  namespaceSchema,
  serviceAccountNamesSchema,
  serviceAccountsSchema,
} from "../../astro/namingSchema";
import type { CommonInputs, IssueSink } from "../../core/types";
import { mustBe, orUnknown, shown } from "../../core/schema";
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
    z
      .object({
        subscriptionId: z.string({ error: "must be a subscription id as a string" }).regex(new RegExp(`^${GUID}$`), {
          error: mustBe("a subscription id, a GUID such as 00000000-0000-0000-0000-000000000000"),
        }),
        resourceGroup: z
          .string({ error: "must be a resource group name as a string" })
          .regex(new RegExp(`^${RESOURCE_GROUP}$`, "u"), {
            error: mustBe(
              "a resource group name: 1-90 letters, digits, underscores, hyphens, periods and parentheses, not ending in a period, such as airflow-rg",
            ),
          }),
        name: z.string({ error: "must be a managed identity name as a string" }).regex(IDENTITY_NAME_ONLY, {
          error: mustBe(
            "a managed identity name: 3-128 letters, digits, hyphens and underscores, starting with a letter or digit, such as airflow-lake",
          ),
        }),
      })
      .strict(),
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
export const azureInputSchema = z
  .object({
    /** The user-assigned managed identity: its resource id, or {subscriptionId, resourceGroup, name}. */
    identity: orUnknown(identity),
    /** The Deployment's cluster OIDC issuer (Astro: the Deployment's `oidcIssuerUrl`); may be an Output. */
    // Microsoft Graph federatedIdentityCredential.issuer: at most 600 characters.
    issuerUrl: issuerUrlSchema({
      example: "https://westus2.oic.prod-aks.azure.com/<tenant>/<guid>/",
      maxLength: 600,
      port: true,
      source: "Entra's limit on a federated credential's issuer",
    }),
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
          z.string({ error: "must be a resource id as a string" }).regex(SCOPE, { error: mustBe(SCOPE_RULE) }),
        ),
        /** A built-in role's name (Storage Blob Data Reader) or a role definition id (a GUID or its full id). */
        role: orUnknown(role),
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
