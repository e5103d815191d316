import { createHash } from "node:crypto";
import { serviceAccountName } from "../../astro/naming";
import type { ExtraValue } from "../../core/types";
import { UNKNOWN } from "../../core/unknown";
import { IDENTITY_ID, ROLE_DEFINITION_ID } from "./names";
import { plannedClientId, plannedPrincipal, plannedTenantId } from "./resolved";
import type { AzureInput } from "./schema";

/**
 * Pure planning of the Azure grant: one federated identity credential per Kubernetes service
 * account on the managed identity, and (optionally) the identity's role assignment on a scope.
 */

export const AUDIENCE = "api://AzureADTokenExchange";
/** Every credential this package writes starts so: ownership is the exact name, and people can tell. */
export const CREDENTIAL_PREFIX = "airflowda-";
/** Entra's limit of federated identity credentials on one managed identity. */
export const MAX_CREDENTIALS_PER_IDENTITY = 20;
/** Four service accounts per Deployment, so five Deployments fit on one identity (Astro's guidance). */
export const AZURE_DEFAULT_SERVICE_ACCOUNTS = ["scheduler", "worker", "triggerer", "dag-processor"] as const;

export interface FederatedCredential {
  name: string;
  issuer: string;
  subject: string;
  audiences: string[];
}

export interface PlannedRoleAssignment {
  /** Deterministic GUID of (scope, identity, role): retries are idempotent, and equal grants share it. */
  name: string;
  scope: string;
  /** As given: a built-in role's name or a role definition id. */
  role: string;
  principal: string;
}

/** The Azure grant as planned (and as state holds it). */
export interface AzureGrant {
  cloud: "azure";
  /** The managed identity's resource id. */
  identity: string;
  /** The Deployment's cluster issuer and namespace: whose credentials these are. */
  issuer: string;
  namespace: string;
  /** Our credentials: planned, or as live after a refresh (one missing: deleted by hand). */
  credentials: FederatedCredential[];
  roleAssignment: PlannedRoleAssignment | null;
  adoptExistingCredentials: boolean;
}

/** What apply learned about the identity and the assignment. */
export interface AzureResolved {
  [key: string]: unknown;
  principalId: string;
  clientId: string;
  tenantId: string;
  roleDefinitionId?: string;
  /** An equal assignment under another name existed before us: never deleted by us. */
  preExistingAssignment?: string;
  /** Credentials made by hand that this resource took over (adoptExistingCredentials). */
  adoptedCredentials?: string[];
}

export function identityId(identity: AzureInput["identity"]): string {
  if (identity === UNKNOWN || typeof identity === "string") return identity;
  return `/subscriptions/${identity.subscriptionId}/resourceGroups/${identity.resourceGroup}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${identity.name}`;
}

function hash(text: string, length: number): string {
  return createHash("sha256").update(text).digest("hex").slice(0, length);
}

/** A GUID made from text (RFC 4122 layout, version 5 style), for deterministic assignment names. */
export function guidOf(text: string): string {
  const h = createHash("sha256").update(text).digest("hex");
  const variant = ((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/**
 * `airflowda-<issuer hash>-<service account>`: Entra names are 3-120 of `[A-Za-z0-9-_]`; the issuer
 * hash keeps two clusters' same-named namespaces apart.
 */
export function credentialName(issuer: string, serviceAccount: string): string {
  return `${CREDENTIAL_PREFIX}${hash(issuer, 8)}-${serviceAccount.replace(/[^A-Za-z0-9-_]/g, "-")}`.slice(0, 120);
}

export function planAzureGrant(input: AzureInput): AzureGrant {
  const identity = identityId(input.identity);
  const { namespace, issuerUrl } = input;
  const names =
    namespace === UNKNOWN
      ? [UNKNOWN]
      : (input.serviceAccountNames ??
        (input.serviceAccounts ?? AZURE_DEFAULT_SERVICE_ACCOUNTS).map((c) => serviceAccountName(namespace, c)));
  const credentials = names.map((ksa) =>
    ksa === UNKNOWN || issuerUrl === UNKNOWN
      ? { name: UNKNOWN, issuer: issuerUrl, subject: UNKNOWN, audiences: [AUDIENCE] }
      : {
          name: credentialName(issuerUrl, ksa),
          issuer: issuerUrl,
          subject: `system:serviceaccount:${namespace}:${ksa}`,
          audiences: [AUDIENCE],
        },
  );
  const a = input.roleAssignment;
  const roleAssignment = a
    ? {
        name: [a.scope, identity, a.role].includes(UNKNOWN)
          ? UNKNOWN
          : guidOf(`${a.scope.toLowerCase()} ${identity.toLowerCase()} ${a.role.toLowerCase()}`),
        scope: a.scope,
        role: a.role,
        principal: plannedPrincipal(identity),
      }
    : null;
  return {
    cloud: "azure",
    identity,
    issuer: issuerUrl,
    namespace,
    credentials,
    roleAssignment,
    adoptExistingCredentials: input.adoptExistingCredentials ?? false,
  };
}

/** The role definition id a role given by id names; undefined for a role given by name. */
export function roleDefinitionGuid(role: string): string | undefined {
  const m = ROLE_DEFINITION_ID.exec(role);
  return m ? (m[1] ?? m[2]) : undefined;
}

/**
 * The Azure connection with a managed identity through workload identity, read by
 * apache-airflow-providers-microsoft-azure 8.2.0 and later. Client and tenant ids are resolved at
 * apply from the identity; the plan says so.
 */
export function azureConnectionExtra(grant: AzureGrant): Record<string, ExtraValue> {
  const subscription =
    grant.roleAssignment?.scope.match(/^\/subscriptions\/([^/]+)/i)?.[1] ??
    IDENTITY_ID.exec(grant.identity)?.[1] ??
    UNKNOWN;
  return {
    managed_identity_client_id: plannedClientId(grant.identity),
    workload_identity_tenant_id: plannedTenantId(grant.identity),
    subscriptionId: subscription,
  };
}

/**
 * Whether a credential on the identity belongs to another Deployment of ours: our name prefix, and
 * another issuer or namespace. While one does, a shared role assignment stays.
 */
export function isOtherDeploymentsCredential(
  credential: { name?: string; issuer?: string; subject?: string },
  grant: Pick<AzureGrant, "issuer" | "namespace">,
): boolean {
  if (!credential.name?.startsWith(CREDENTIAL_PREFIX)) return false;
  return (
    credential.issuer !== grant.issuer || !credential.subject?.startsWith(`system:serviceaccount:${grant.namespace}:`)
  );
}

/** Credentials the new plan no longer has, and the assignment when it moved. */
export function staleAzureGrant(old: AzureGrant, next: AzureGrant): AzureGrant | undefined {
  const kept = new Set(next.credentials.map((c) => c.name));
  const credentials = old.credentials.filter((c) => !kept.has(c.name));
  const assignmentMoved = old.roleAssignment !== null && old.roleAssignment.name !== next.roleAssignment?.name;
  if (credentials.length === 0 && !assignmentMoved) return undefined;
  return { ...old, credentials, roleAssignment: assignmentMoved ? old.roleAssignment : null };
}
