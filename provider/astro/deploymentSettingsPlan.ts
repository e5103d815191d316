import { sortedRecord } from "../core/plan";
import type {
  DeploymentChange,
  DeploymentSettings,
  ExtraValue,
  GrantPlanner,
  LiveDeploymentSettings,
  Resolved,
  SecretsBackend,
} from "../core/types";

/** The Deployment variables a secrets backend is: the only ones this resource ever writes. */
export const SECRETS_BACKEND_KEYS = ["AIRFLOW__SECRETS__BACKEND", "AIRFLOW__SECRETS__BACKEND_KWARGS"] as const;

/** The variables for a backend, with what apply resolved filled in (a role given by name gets its ARN). */
export function secretsBackendVariables(
  plugin: Pick<GrantPlanner, "extraForApply">,
  backend: SecretsBackend,
  resolved: Resolved,
): Record<string, string> {
  return {
    AIRFLOW__SECRETS__BACKEND: backend.backend,
    AIRFLOW__SECRETS__BACKEND_KWARGS: JSON.stringify(sortedRecord(plugin.extraForApply(backend.kwargs, resolved))),
  };
}

/**
 * The backend as live, in the plan's terms (undefined when the Deployment has neither variable).
 * kwargs that are not a JSON object read as one `unparsed` key, so the diff shows what is there.
 */
export function secretsBackendInPlanTerms(
  plugin: Pick<GrantPlanner, "extraInPlanTerms">,
  live: Record<string, string>,
  planned: SecretsBackend | undefined,
  resolved: Resolved,
): SecretsBackend | undefined {
  const [backendKey, kwargsKey] = SECRETS_BACKEND_KEYS;
  if (live[backendKey] === undefined && live[kwargsKey] === undefined) return undefined;
  let kwargs: Record<string, ExtraValue>;
  try {
    const parsed: unknown = JSON.parse(live[kwargsKey] ?? "{}");
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("not an object");
    kwargs = {};
    for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
      const scalar = value === null || ["string", "number", "boolean"].includes(typeof value);
      const asExtra = scalar ? (value as ExtraValue) : JSON.stringify(value);
      kwargs[key] = plugin.extraInPlanTerms(key, asExtra, planned?.kwargs ?? {}, resolved);
    }
  } catch {
    kwargs = { unparsed: live[kwargsKey] ?? null };
  }
  return { backend: live[backendKey] ?? "", kwargs: sortedRecord(kwargs) };
}

/** The settings as live, in the plan's terms: the identity shown, and the backend found. */
export function settingsInPlanTerms(
  plugin: Pick<GrantPlanner, "extraInPlanTerms">,
  planned: DeploymentSettings,
  live: LiveDeploymentSettings,
  resolved: Resolved,
): DeploymentSettings {
  const settings: DeploymentSettings = { organizationId: planned.organizationId, deploymentId: planned.deploymentId };
  if (planned.workloadIdentity) {
    settings.workloadIdentity = {
      ...planned.workloadIdentity,
      identity: live.effectiveWorkloadIdentity ?? "(none)",
    };
  }
  if (planned.secretsBackend) {
    const backend = secretsBackendInPlanTerms(plugin, live.environmentVariables, planned.secretsBackend, resolved);
    if (backend) settings.secretsBackend = backend;
  }
  return settings;
}

/** The variable keys a stored setting wrote. */
export function ownedKeysOf(settings: DeploymentSettings | undefined): string[] {
  return settings?.secretsBackend ? [...SECRETS_BACKEND_KEYS] : [];
}

/** What one apply sends: the identity to set (ours, or the previous one back), our variables, and what we owned. */
export function deploymentChange(
  plugin: Pick<GrantPlanner, "extraForApply">,
  settings: DeploymentSettings,
  resolved: Resolved,
  owned: readonly string[],
  restoreIdentity?: string,
): DeploymentChange {
  const identity = settings.workloadIdentity?.identity ?? restoreIdentity;
  return {
    organizationId: settings.organizationId,
    deploymentId: settings.deploymentId,
    ...(identity !== undefined ? { workloadIdentity: identity } : {}),
    environmentVariables: settings.secretsBackend
      ? secretsBackendVariables(plugin, settings.secretsBackend, resolved)
      : {},
    ownedKeys: owned,
  };
}
