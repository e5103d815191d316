import type { ExtraValue } from "../../core/types";
import { UNKNOWN } from "../../core/unknown";
import { identityName } from "./names";
import type { AzureResolved } from "./plan";

/**
 * What an Azure grant only knows once applied: the managed identity's client id, tenant and
 * principal. The plan names them in words, apply writes the values, and state keeps the words (so a
 * refresh shows no change). No schema here.
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
