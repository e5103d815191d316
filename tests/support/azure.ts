import { AuthorizationManagementClient, type RoleAssignment } from "@azure/arm-authorization";
import { type FederatedIdentityCredential, type Identity, ManagedServiceIdentityClient } from "@azure/arm-msi";
import { randomBytes, randomUUID } from "node:crypto";
import { fakeAdmin } from "./fakeAdmin";

export { fakeAdmin };

/** The access token the sandbox's azure server takes (any non-empty bearer token passes). */
export const SANDBOX_AZURE_TOKEN = "sandbox-azure-token";

/** The only audience Microsoft supports on a managed identity's federated credential today. */
export const TOKEN_EXCHANGE_AUDIENCE = "api://AzureADTokenExchange";

/** Built-in roles the fake knows, by name, with their well-known role definition GUIDs. */
export const BUILT_IN_ROLES = {
  Owner: "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
  Contributor: "b24988ac-6180-42a0-ab88-20f7382dd24c",
  Reader: "acdd72a7-3385-48ef-bd42-f606fba81ae7",
  "User Access Administrator": "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",
  "Storage Blob Data Reader": "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
  "Storage Blob Data Contributor": "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
  "Storage Blob Data Owner": "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
  "Key Vault Secrets User": "4633458b-17de-408a-b874-0445c86b69e6",
  "Key Vault Secrets Officer": "b86a8fe4-44ce-4948-aee5-eccb2c155cd7",
} as const;
export type BuiltInRole = keyof typeof BUILT_IN_ROLES;

/** The operations the fake serves, as Microsoft's specifications name them. */
export type AzureOperation =
  | "UserAssignedIdentities_Get"
  | "FederatedIdentityCredentials_List"
  | "FederatedIdentityCredentials_Get"
  | "FederatedIdentityCredentials_CreateOrUpdate"
  | "FederatedIdentityCredentials_Delete"
  | "RoleAssignments_ListForScope"
  | "RoleAssignments_Get"
  | "RoleAssignments_Create"
  | "RoleAssignments_Delete"
  | "RoleDefinitions_List"
  | "RoleDefinitions_Get"
  | "Tags_GetAtScope"
  | "Tags_UpdateAtScope"
  | "Tags_CreateOrUpdateAtScope"
  | "Tags_DeleteAtScope";

export interface AzureClients {
  msi: ManagedServiceIdentityClient;
  authorization: AuthorizationManagementClient;
}

/** A credential that always hands out the sandbox token, as `@azure/identity` would a real one. */
export const sandboxCredential = {
  getToken: async () => ({ token: SANDBOX_AZURE_TOKEN, expiresOnTimestamp: Date.now() + 3600e3 }),
};

/**
 * The official SDK clients for `subscriptionId`, pointed at `endpoint` (the sandbox's https front,
 * so every call goes through Prism). The process must trust the sandbox CA (NODE_EXTRA_CA_CERTS,
 * set by the global setup). `maxRetries` overrides the SDKs' default of 3 retries.
 */
export function azureClients(endpoint: string, subscriptionId: string, options: { maxRetries?: number } = {}) {
  const common = {
    endpoint,
    ...(options.maxRetries === undefined ? {} : { retryOptions: { maxRetries: options.maxRetries } }),
  };
  return {
    msi: new ManagedServiceIdentityClient(sandboxCredential, subscriptionId, common),
    authorization: new AuthorizationManagementClient(sandboxCredential, subscriptionId, common),
  } satisfies AzureClients;
}

/** A subscription of its own for each test: role assignments are inherited by everything below. */
export const uniqueSubscriptionId = (): string => randomUUID();

/** A name valid for resource groups, identities and federated credentials, unique per call. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString("hex")}`;
}

/** `/subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.Storage/storageAccounts/{name}` */
export function storageAccountScope(subscriptionId: string, resourceGroup: string, name: string): string {
  return `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.Storage/storageAccounts/${name}`;
}

export const resourceGroupScope = (subscriptionId: string, resourceGroup: string): string =>
  `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}`;

/** The subscription-level id of a built-in role, as Azure lists it. */
export function roleDefinitionId(subscriptionId: string, role: BuiltInRole): string {
  return `/subscriptions/${subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${BUILT_IN_ROLES[role]}`;
}

export interface CredentialSeed {
  name: string;
  issuer: string;
  subject: string;
  audiences?: string[];
}

/** What the fake returns for an identity: ARM's JSON, properties not flattened. */
export interface FakeIdentity {
  id: string;
  name: string;
  type: string;
  location: string;
  tags?: Record<string, string>;
  properties: { tenantId: string; principalId: string; clientId: string; isolationScope?: string };
  subscriptionId: string;
  resourceGroup: string;
}

/**
 * A user-assigned identity (and its resource group, when missing) in a subscription of its own
 * unless one is given, with `credentials` someone else already added.
 */
export async function createIdentity(
  fakeUrl: string,
  options: {
    subscriptionId?: string;
    resourceGroup?: string;
    name?: string;
    location?: string;
    tags?: Record<string, string>;
    credentials?: CredentialSeed[];
  } = {},
): Promise<FakeIdentity> {
  const {
    subscriptionId = uniqueSubscriptionId(),
    resourceGroup = uniqueName("rg"),
    name = uniqueName("id"),
    ...rest
  } = options;
  const identity = await fakeAdmin<Omit<FakeIdentity, "subscriptionId" | "resourceGroup">>(
    fakeUrl,
    "POST",
    "identities",
    {
      subscriptionId,
      resourceGroup,
      name,
      ...rest,
    },
  );
  return { ...identity, subscriptionId, resourceGroup };
}

export async function deleteIdentity(fakeUrl: string, id: string): Promise<void> {
  await fakeAdmin(fakeUrl, "DELETE", `identities?id=${encodeURIComponent(id)}`);
}

export async function createResourceGroup(
  fakeUrl: string,
  subscriptionId: string,
  name = uniqueName("rg"),
  location = "eastus",
): Promise<{ id: string; name: string }> {
  return fakeAdmin(fakeUrl, "POST", "resourceGroups", { subscriptionId, name, location });
}

/** `n` credentials from another issuer, as another team's workloads would have added them. */
export function foreignCredentials(n: number, prefix = "foreign"): CredentialSeed[] {
  return Array.from({ length: n }, (_, i) => ({
    name: `${prefix}-${i}`,
    issuer: "https://oidc.prod-aks.azure.com/00000000-0000-0000-0000-000000000000/",
    subject: `system:serviceaccount:team-${i}:runner`,
    audiences: [TOKEN_EXCHANGE_AUDIENCE],
  }));
}

/** The credentials stored for an identity, as ARM JSON. */
export async function storedCredentials(
  fakeUrl: string,
  identityId: string,
): Promise<FederatedIdentityCredentialJson[]> {
  return fakeAdmin(fakeUrl, "GET", `credentials?identity=${encodeURIComponent(identityId)}`);
}

export interface FederatedIdentityCredentialJson {
  id: string;
  name: string;
  type: string;
  properties: Required<Pick<FederatedIdentityCredential, "issuer" | "subject" | "audiences">>;
}

export interface RoleAssignmentJson {
  id: string;
  name: string;
  type: string;
  properties: Required<Pick<RoleAssignment, "roleDefinitionId" | "principalId" | "principalType" | "scope">> &
    Pick<RoleAssignment, "description" | "condition" | "conditionVersion">;
}

/** Role assignments stored at exactly `scope` (any casing), optionally for one principal. */
export async function storedRoleAssignments(
  fakeUrl: string,
  scope: string,
  principalId?: string,
): Promise<RoleAssignmentJson[]> {
  const query = new URLSearchParams({ scope, ...(principalId ? { principalId } : {}) });
  return fakeAdmin(fakeUrl, "GET", `roleAssignments?${query}`);
}

/**
 * Someone else's role assignment at `scope` (its resource group is created when missing); the
 * principal is a new user unless given.
 */
export async function seedRoleAssignment(
  fakeUrl: string,
  options: {
    scope: string;
    role?: BuiltInRole;
    roleDefinitionId?: string;
    principalId?: string;
    principalType?: "User" | "Group" | "ServicePrincipal";
    name?: string;
    description?: string;
    condition?: string;
  },
): Promise<RoleAssignmentJson> {
  const { role = "Reader", ...rest } = options;
  return fakeAdmin(fakeUrl, "POST", "roleAssignments", { roleName: role, ...rest });
}

type Target = { identity: string } | { scope: string } | Record<string, never>;
const query = (target: Target) => new URLSearchParams(target as Record<string, string>).toString();

/** Calls received per operation (e.g. `FederatedIdentityCredentials_CreateOrUpdate`) for one identity or scope. */
export async function callCounts(fakeUrl: string, target: Target): Promise<Partial<Record<AzureOperation, number>>> {
  return fakeAdmin(fakeUrl, "GET", `calls?${query(target)}`);
}

export interface Fault {
  operation: AzureOperation;
  /**
   * schema: the answer carries a field the contract does not allow (Prism turns it into a 500);
   * throttle: 429 with Retry-After; error500 / error503: ARM's server errors; concurrentWrite:
   * 409 as if another writer held the identity (credential writes only); forbidden: 403
   * AuthorizationFailed, naming the action the caller lacks.
   */
  kind: "schema" | "throttle" | "error500" | "error503" | "concurrentWrite" | "forbidden";
  count?: number;
  retryAfterSeconds?: number;
  identity?: string;
  scope?: string;
}

/** The next `count` (default 1) calls of `operation` (for that identity or scope) meet the fault. */
export async function injectFault(fakeUrl: string, fault: Fault): Promise<void> {
  await fakeAdmin(fakeUrl, "POST", "faults", fault);
}

/** The identity's tags as the fake holds them (the claims this package keeps are among them). */
export async function storedTags(fakeUrl: string, identityId: string): Promise<Record<string, string>> {
  return fakeAdmin(fakeUrl, "GET", `tags?identity=${encodeURIComponent(identityId)}`);
}

/** The identity as the SDK returns it, for comparisons with FakeIdentity. */
export function sdkView(identity: FakeIdentity): Identity {
  const { id, name, type, location, tags, properties } = identity;
  return { id, name, type, location, ...(tags ? { tags } : {}), ...properties };
}
