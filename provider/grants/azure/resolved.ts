import type { ExtraValue } from "../../core/types";
import { UNKNOWN } from "../../core/unknown";
import { identityName } from "./names";
import type { AzureGrant, AzureResolved } from "./plan";

/**
 * What an Azure grant only knows once applied: the managed identity's client id, tenant and
 * principal. The plan names them in words, apply writes the values, state keeps the words (so a
 * refresh shows no change) and the component's outputs show the values. The program loads this
 * module: no schema here.
 */

const words = (what: string) => (identity: string) =>
  identity === UNKNOWN ? UNKNOWN : `(${what} of ${identityName(identity)}, resolved at apply)`;

export const plannedClientId = words("client id");
export const plannedTenantId = words("tenant");
export const plannedPrincipal = words("principal");

export function azureExtraForApply(extra: Record<string, ExtraValue>, resolved: AzureResolved) {
  return { ...extra, managed_identity_client_id: resolved.clientId, workload_identity_tenant_id: resolved.tenantId };
}

/** A live `extra` value in the plan's terms: the identity's client id and tenant read as the plan's words. */
export function azureExtraInPlanTerms(
  key: string,
  live: ExtraValue,
  planned: Record<string, ExtraValue>,
  resolved: AzureResolved,
): ExtraValue {
  if (key === "managed_identity_client_id" && live === resolved.clientId) return planned[key] ?? live;
  if (key === "workload_identity_tenant_id" && live === resolved.tenantId) return planned[key] ?? live;
  return live;
}

/**
 * `extra` from state as the connection holds it: the client id and tenant in the plan's words become
 * the identity's. Any other value is what a refresh found (drift) and stays; so do the words while
 * the values are not known (a preview).
 */
export function azureExtraAsApplied(
  extra: Record<string, ExtraValue>,
  grant: Pick<AzureGrant, "identity">,
  resolved: Partial<AzureResolved>,
): Record<string, ExtraValue> {
  const applied = { ...extra };
  const facts = [
    ["managed_identity_client_id", plannedClientId(grant.identity), resolved.clientId],
    ["workload_identity_tenant_id", plannedTenantId(grant.identity), resolved.tenantId],
  ] as const;
  for (const [key, planned, value] of facts) {
    if (typeof value === "string" && key in applied && applied[key] === planned) applied[key] = value;
  }
  return applied;
}
