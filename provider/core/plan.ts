import { withoutClaim } from "./claims";
import { AuthorizationError } from "./errors";
import { pluginFor } from "./plugins";
import { reviewAuthorization } from "./review";
import type {
  AuthorizationState,
  ConnectionPayload,
  DeploymentSettings,
  ExtraValue,
  GrantBase,
  GrantPlanner,
  GrantPlugin,
  PlannedAuthorization,
  Resolved,
} from "./types";
import type { DeploymentInput } from "./schema";
import { UNKNOWN } from "./unknown";

/**
 * Pure planning: from validated inputs to the exact grant and connection payload the resource will
 * converge to. `check` returns this as the resource's inputs, so `pulumi preview --diff` shows it.
 */

/** The inputs `check` has validated, with the one cloud key that selects the plug-in. */
export interface ValidInputs {
  owner: string;
  workloadIdentity?: string;
  connection: {
    connectionId: string;
    description?: string;
    extra?: Record<string, ExtraValue> | typeof UNKNOWN;
    adoptExisting?: boolean;
    target?: "airflow" | "astro";
    airflow?: {
      url: string;
      apiVersion?: "v1" | "v2" | "detect";
      auth: { kind: "token" } | { kind: "password"; username: string };
    };
    astro?: { organizationId: string; deploymentId?: string; workspaceId?: string; linkedDeploymentIds?: string[] };
  };
  credentials?: { token?: string; password?: string; astroToken?: string };
  deployment?: DeploymentInput;
  [cloud: string]: unknown;
}

export function normalizeUrl(url: string): string {
  return url === UNKNOWN ? url : url.replace(/\/+$/, "");
}

export function defaultDescription(owner: string): string {
  return `Managed by Pulumi (DeploymentAuthorization ${owner}); edits by hand are reverted on the next update.`;
}

/** The owner (`<project>/<stack>/<name>`) a connection's description names, when it is our default one. */
export function ownerInDescription(description: string | null | undefined): string | undefined {
  return description?.match(/^Managed by Pulumi \(DeploymentAuthorization ([^)]+)\);/)?.[1];
}

export function planAuthorization(plugin: GrantPlugin, inputs: ValidInputs): PlannedAuthorization {
  const common = {
    owner: inputs.owner,
    ...(inputs.workloadIdentity !== undefined ? { workloadIdentity: inputs.workloadIdentity } : {}),
  };
  const { grant, connType, extra: contributed } = plugin.plan(inputs[plugin.cloud], common);
  const extra = inputs.connection.extra === UNKNOWN ? {} : (inputs.connection.extra ?? {});
  const planned: PlannedAuthorization = {
    ...common,
    grant,
    connection: {
      ...connectionTarget(inputs.connection),
      connectionId: inputs.connection.connectionId,
      adoptExisting: inputs.connection.adoptExisting ?? false,
      payload: {
        conn_type: connType,
        description: inputs.connection.description ?? defaultDescription(inputs.owner),
        extra: { ...sortedRecord(extra), ...contributed },
      },
    },
  };
  const settings = planDeploymentSettings(plugin, inputs.deployment, grant, contributed);
  if (settings) planned.deploymentSettings = settings;
  if (
    inputs.credentials &&
    (inputs.credentials.token || inputs.credentials.password || inputs.credentials.astroToken)
  ) {
    planned.credentials = inputs.credentials;
  }
  return planned;
}

/** The Deployment's settings this resource owns, when it asks for any (check has vetted that the grant allows them). */
function planDeploymentSettings(
  plugin: GrantPlanner,
  deployment: DeploymentInput | undefined,
  grant: GrantBase,
  extra: Record<string, ExtraValue>,
): DeploymentSettings | undefined {
  if (!deployment || (!deployment.customerManagedIdentity && !deployment.secretsBackend)) return undefined;
  const settings: DeploymentSettings = {
    organizationId: deployment.organizationId,
    deploymentId: deployment.deploymentId,
  };
  const rules = plugin.deploymentSettings;
  const cmi = deployment.customerManagedIdentity;
  if (cmi) {
    const identity = rules.customerManagedIdentity(grant);
    if (!identity.ok)
      throw new AuthorizationError("INVALID_INPUT", `deployment.customerManagedIdentity ${identity.reason}`);
    settings.workloadIdentity = {
      identity: identity.value,
      restoreOnDelete: typeof cmi === "object" && cmi.restoreOnDelete === true,
    };
  }
  if (deployment.secretsBackend) {
    const backend = rules.secretsBackend(extra);
    if (!backend.ok) throw new AuthorizationError("INVALID_INPUT", `deployment.secretsBackend ${backend.reason}`);
    const given = deployment.secretsBackend === true ? {} : deployment.secretsBackend;
    settings.secretsBackend = {
      backend: given.backend ?? backend.value.backend,
      kwargs: sortedRecord({ ...backend.value.kwargs, ...given.kwargs }),
    };
  }
  return settings;
}

/** Where the connection lives, as the plan (and so the preview) names it. */
function connectionTarget(
  connection: ValidInputs["connection"],
): Pick<PlannedAuthorization["connection"], "airflow" | "astro"> {
  const { airflow, astro } = connection;
  if (astro) {
    return {
      astro: {
        organizationId: astro.organizationId,
        scope: astro.deploymentId !== undefined ? "DEPLOYMENT" : "WORKSPACE",
        scopeEntityId: astro.deploymentId ?? astro.workspaceId!,
        links: astro.linkedDeploymentIds ?? [],
      },
    };
  }
  return {
    airflow: {
      url: normalizeUrl(airflow!.url),
      apiVersion: airflow!.apiVersion ?? "detect",
      auth: airflow!.auth,
    },
  };
}

export function sortedRecord<T>(record: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => a.localeCompare(b)));
}

/**
 * The payload as read from Airflow, in the plan's terms: a masked value (`***`) cannot be compared,
 * so it counts as what we wrote; values the plug-in resolved at apply read as the plan's words, and
 * the description's claim (see claims.ts) is left out, so a refresh shows no change where there is
 * none.
 */
export function livePayloadInPlanTerms<R extends Resolved>(
  plugin: Pick<GrantPlanner<GrantBase, R>, "extraInPlanTerms">,
  live: ConnectionPayload,
  planned: ConnectionPayload,
  resolved: R,
): ConnectionPayload {
  const extra: Record<string, ExtraValue> = {};
  for (const [key, value] of Object.entries(live.extra)) {
    if (value === "***" && key in planned.extra) extra[key] = planned.extra[key] ?? null;
    else extra[key] = plugin.extraInPlanTerms(key, value, planned.extra, resolved);
  }
  return { ...live, description: withoutClaim(live.description, planned.description), extra: sortedRecord(extra) };
}

export interface DiffDecision {
  changes: boolean;
  replaces: string[];
  deleteBeforeReplace: boolean;
}

/** Replace when what we manage is another object (another target, connection or Airflow); update otherwise. */
export function diffAuthorization(
  plugins: ReadonlyMap<string, GrantPlanner>,
  olds: AuthorizationState,
  news: PlannedAuthorization,
): DiffDecision {
  const review = reviewAuthorization(plugins, olds, news);
  return { changes: review.changed, replaces: review.replaces, deleteBeforeReplace: review.deleteBeforeReplace };
}

export { pluginFor };
