import { AuthorizationError } from "../core/errors";
import { withLock } from "../core/lock";
import { defaultSleep } from "../core/retry";
import type { Credentials, DeploymentChange, DeploymentSettingsDriver, LiveDeploymentSettings } from "../core/types";
import { AstroApi, AstroApiOptions, RetryBody, deploymentUrl, missingDeployment } from "./api";

/** The Deployment as GetDeployment answers it: the fields an UpdateDeployment must send back. */
export interface DeploymentRecord {
  id: string;
  name: string;
  description?: string;
  workspaceId: string;
  type?: "STANDARD" | "DEDICATED" | "HYBRID";
  executor?: "CELERY" | "KUBERNETES" | "ASTRO";
  effectiveWorkloadIdentity?: string;
  isCicdEnforced: boolean;
  isDagDeployEnabled: boolean;
  isHighAvailability?: boolean;
  isDevelopmentMode?: boolean;
  schedulerSize?: string;
  schedulerAu?: number;
  schedulerReplicas?: number;
  defaultTaskPodCpu?: string;
  defaultTaskPodMemory?: string;
  resourceQuotaCpu?: string;
  resourceQuotaMemory?: string;
  taskPodNodePoolId?: string;
  contactEmails?: string[];
  environmentVariables?: Array<{ key: string; value?: string; isSecret: boolean }>;
  workerQueues?: Array<{
    id?: string;
    name: string;
    isDefault: boolean;
    astroMachine?: string;
    nodePoolId?: string;
    minWorkerCount: number;
    maxWorkerCount: number;
    workerConcurrency: number;
    podEphemeralStorage?: string;
  }>;
  remoteExecution?: {
    enabled: boolean;
    allowedIpAddressRanges?: string[];
    taskLogBucket?: string;
    taskLogUrlPattern?: string;
  };
  scalingSpec?: {
    hibernationSpec?: {
      override?: { isHibernating?: boolean; overrideUntil?: string };
      schedules?: Array<{ hibernateAtCron: string; wakeAtCron: string; isEnabled: boolean; description?: string }>;
    };
  };
}

export type UpdateDeploymentBody = Record<string, unknown>;

/**
 * The UpdateDeployment body that keeps the Deployment as read, with only the given changes. The
 * call is a full replace, so every field goes back; secret variables go back without `value` (GET
 * leaves it out, and a variable without one keeps its stored value). The identity is sent only when
 * one is set here: echoing `effectiveWorkloadIdentity` would pin Astro's default as if chosen.
 */
export function updateDeploymentBody(
  d: DeploymentRecord,
  change: { workloadIdentity?: string; set?: Record<string, string>; drop?: readonly string[] } = {},
): UpdateDeploymentBody {
  const set = change.set ?? {};
  const drop = new Set(change.drop ?? []);
  const kept = (d.environmentVariables ?? [])
    .filter((v) => !drop.has(v.key) && !(v.key in set))
    .map((v) => (v.isSecret ? { key: v.key, isSecret: true } : { key: v.key, isSecret: false, value: v.value ?? "" }));
  const ours = Object.entries(set).map(([key, value]) => ({ key, isSecret: false, value }));
  const common = compact({
    name: d.name,
    description: d.description,
    workspaceId: d.workspaceId,
    executor: d.executor,
    isCicdEnforced: d.isCicdEnforced,
    isDagDeployEnabled: d.isDagDeployEnabled,
    contactEmails: d.contactEmails,
    environmentVariables: [...kept, ...ours],
    workerQueues: d.workerQueues?.length
      ? d.workerQueues.map((q) =>
          compact({
            id: q.id,
            name: q.name,
            isDefault: q.isDefault,
            astroMachine: q.astroMachine,
            nodePoolId: q.nodePoolId,
            minWorkerCount: q.minWorkerCount,
            maxWorkerCount: q.maxWorkerCount,
            workerConcurrency: q.workerConcurrency,
            podEphemeralStorage: q.podEphemeralStorage,
          }),
        )
      : undefined,
    workloadIdentity: change.workloadIdentity,
  });
  if (d.type === "HYBRID") {
    return compact({
      ...common,
      type: "HYBRID",
      scheduler: { au: d.schedulerAu ?? 5, replicas: d.schedulerReplicas ?? 1 },
      taskPodNodePoolId: d.taskPodNodePoolId,
    });
  }
  const hibernation = d.scalingSpec?.hibernationSpec;
  return compact({
    ...common,
    type: d.type ?? "STANDARD",
    isHighAvailability: d.isHighAvailability ?? false,
    isDevelopmentMode: d.isDevelopmentMode,
    schedulerSize: d.schedulerSize ?? "SMALL",
    defaultTaskPodCpu: d.defaultTaskPodCpu,
    defaultTaskPodMemory: d.defaultTaskPodMemory,
    resourceQuotaCpu: d.resourceQuotaCpu,
    resourceQuotaMemory: d.resourceQuotaMemory,
    remoteExecution: d.remoteExecution
      ? compact({
          enabled: d.remoteExecution.enabled,
          allowedIpAddressRanges: d.remoteExecution.allowedIpAddressRanges,
          taskLogBucket: d.remoteExecution.taskLogBucket,
          taskLogUrlPattern: d.remoteExecution.taskLogUrlPattern,
        })
      : undefined,
    // The override's isActive is a read-only status: the request takes isHibernating and overrideUntil.
    scalingSpec: hibernation
      ? {
          hibernationSpec: compact({
            override: hibernation.override
              ? compact({
                  isHibernating: hibernation.override.isHibernating,
                  overrideUntil: hibernation.override.overrideUntil,
                })
              : undefined,
            schedules: hibernation.schedules,
          }),
        }
      : undefined,
  });
}

function compact<T extends Record<string, unknown>>(record: T): T {
  return Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined)) as T;
}

export interface AstroDeploymentSettingsOptions extends AstroApiOptions {
  /** Reads of the Deployment while waiting for a new identity to show (default 20, up to ~60 s). */
  identityReads?: number;
}

/**
 * The Deployment's own settings through the Astro Platform API: its workload identity and the
 * variables this resource owns. UpdateDeployment replaces the whole Deployment and takes no version
 * to check, so every write is a fresh read-modify-write under a per-Deployment lock, sent as soon as
 * its read is answered (and each retry of it rebuilt from a read of its own, after the pause),
 * verified by reading back: a concurrent writer elsewhere that replaced our settings is detected,
 * and the write made again, a bounded number of times. What nothing can detect is an edit someone
 * else makes between our read being served and our write landing: our write undoes it. That window
 * is the read's way back plus the write's way there, about one call's latency, on every try.
 */
export class AstroDeploymentSettings implements DeploymentSettingsDriver {
  private readonly api: AstroApi;

  constructor(private readonly options: AstroDeploymentSettingsOptions = {}) {
    this.api = new AstroApi(options);
  }

  get calls() {
    return this.api.calls;
  }

  async read(
    deployment: Pick<DeploymentChange, "organizationId" | "deploymentId">,
    keys: readonly string[],
    credentials: Credentials,
  ): Promise<LiveDeploymentSettings> {
    const d = await this.get(deployment, credentials);
    if (!d) {
      // A deleted Deployment shows nothing of ours: the next update says it is missing.
      return { environmentVariables: {} };
    }
    return {
      ...(d.effectiveWorkloadIdentity !== undefined ? { effectiveWorkloadIdentity: d.effectiveWorkloadIdentity } : {}),
      environmentVariables: variablesOf(d, keys),
    };
  }

  async apply(change: DeploymentChange, credentials: Credentials) {
    return withLock(lockKey(change), async () => {
      let previous: string | undefined;
      for (let attempt = 1; ; attempt++) {
        const d = await this.get(change, credentials);
        if (!d) throw missingDeployment(this.api, change.organizationId, change.deploymentId);
        if (attempt === 1) {
          previous = d.effectiveWorkloadIdentity;
          this.refuseForeignValues(d, change);
        }
        const pending = this.pendingChange(d, change);
        if (pending) await this.update(change, credentials, d, (fresh) => updateDeploymentBody(fresh, pending));
        if (await this.settled(change, credentials)) break;
        if (attempt >= 3) {
          throw new AuthorizationError(
            "CONFLICT",
            `Deployment ${change.deploymentId} (organization ${change.organizationId}) does not keep ${describe(change)}: ` +
              `another writer replaced its settings ${attempt} times while this resource wrote them. ` +
              `Stop the other writer (a CI job, the Astro CLI, another stack) and run pulumi up again`,
          );
        }
      }
      return change.workloadIdentity !== undefined && previous !== undefined
        ? { previousWorkloadIdentity: previous }
        : {};
    });
  }

  async remove(change: Omit<DeploymentChange, "environmentVariables">, credentials: Credentials) {
    await withLock(lockKey(change), async () => {
      const d = await this.get(change, credentials);
      if (!d) return;
      const drop = change.ownedKeys.filter((k) => d.environmentVariables?.some((v) => v.key === k));
      const identity =
        change.workloadIdentity !== undefined && change.workloadIdentity !== d.effectiveWorkloadIdentity
          ? change.workloadIdentity
          : undefined;
      if (drop.length === 0 && identity === undefined) return;
      await this.update(change, credentials, d, (fresh) =>
        updateDeploymentBody(fresh, { drop, ...(identity !== undefined ? { workloadIdentity: identity } : {}) }),
      );
      if (identity !== undefined) await this.awaitIdentity(change, identity, credentials);
    });
  }

  /** What of the change the Deployment does not show yet; undefined when nothing. */
  private pendingChange(d: DeploymentRecord, change: DeploymentChange) {
    const wanted = Object.keys(change.environmentVariables);
    const live = variablesOf(d, wanted);
    const set = Object.fromEntries(
      Object.entries(change.environmentVariables).filter(([key, value]) => live[key] !== value),
    );
    const drop = change.ownedKeys.filter((k) => !(k in change.environmentVariables) && hasKey(d, k));
    const identity =
      change.workloadIdentity !== undefined && d.effectiveWorkloadIdentity !== change.workloadIdentity
        ? change.workloadIdentity
        : undefined;
    if (Object.keys(set).length === 0 && drop.length === 0 && identity === undefined) return undefined;
    return { set, drop, ...(identity !== undefined ? { workloadIdentity: identity } : {}) };
  }

  /** Waits for the identity to show; true when the variables show ours too. */
  private async settled(change: DeploymentChange, credentials: Credentials): Promise<boolean> {
    if (change.workloadIdentity !== undefined) await this.awaitIdentity(change, change.workloadIdentity, credentials);
    const d = await this.get(change, credentials);
    if (!d) throw missingDeployment(this.api, change.organizationId, change.deploymentId);
    return this.pendingChange(d, change) === undefined;
  }

  /** A variable we would write that already holds another value, set by someone else: never overwritten. */
  private refuseForeignValues(d: DeploymentRecord, change: DeploymentChange) {
    for (const [key, value] of Object.entries(change.environmentVariables)) {
      if (change.ownedKeys.includes(key)) continue;
      const existing = d.environmentVariables?.find((v) => v.key === key);
      if (!existing || (!existing.isSecret && existing.value === value)) continue;
      throw new AuthorizationError(
        "CONFLICT",
        `Deployment ${change.deploymentId} already has ${key} set${existing.isSecret ? " (as a secret)" : ` to ${existing.value}`}, ` +
          `not by this resource: remove the variable from the Deployment (Astro UI: Environment → Environment Variables, ` +
          `or astro deployment variable), or leave deployment.secretsBackend out to keep it`,
      );
    }
  }

  /** Astro shows a new identity a little after the update: read until it does, with a bound. */
  private async awaitIdentity(
    deployment: Pick<DeploymentChange, "organizationId" | "deploymentId">,
    identity: string,
    credentials: Credentials,
  ) {
    const reads = this.options.identityReads ?? 20;
    const sleep = this.options.sleep ?? defaultSleep;
    let shown: string | undefined;
    for (let i = 0; i < reads; i++) {
      const d = await this.get(deployment, credentials);
      if (!d) throw missingDeployment(this.api, deployment.organizationId, deployment.deploymentId);
      shown = d.effectiveWorkloadIdentity;
      if (shown === identity) return;
      await sleep(Math.min(5000, (this.options.baseDelayMs ?? 250) * 2 ** Math.min(i, 4)));
    }
    throw new AuthorizationError(
      "REMOTE_FAILED",
      `Deployment ${deployment.deploymentId} still shows workload identity ${shown ?? "(none)"} after ${reads} reads, ` +
        `not ${identity} as set: check the Deployment in the Astro UI (Details → Workload Identity) and run pulumi up again`,
    );
  }

  private get(deployment: Pick<DeploymentChange, "organizationId" | "deploymentId">, credentials: Credentials) {
    return this.api.call<DeploymentRecord>(credentials.token, "GET", this.url(deployment), undefined, true);
  }

  /**
   * UpdateDeployment with the body `build` makes from the Deployment as read: from `read` for the
   * first try, and from a new read for each retry, so a retry after a pause (a 5xx, a timeout) does
   * not undo what someone else changed meanwhile. The change is idempotent: a first try that landed
   * unseen shows in that read, and building on it changes nothing more.
   */
  private async update(
    deployment: Pick<DeploymentChange, "organizationId" | "deploymentId">,
    credentials: Credentials,
    read: DeploymentRecord,
    build: (d: DeploymentRecord) => UpdateDeploymentBody,
  ) {
    const again = async () => {
      const fresh = await this.get(deployment, credentials);
      if (!fresh) throw missingDeployment(this.api, deployment.organizationId, deployment.deploymentId);
      return build(fresh);
    };
    await this.api.call(credentials.token, "POST", this.url(deployment), new RetryBody(build(read), again));
  }

  private url(deployment: Pick<DeploymentChange, "organizationId" | "deploymentId">) {
    return deploymentUrl(this.api, deployment.organizationId, deployment.deploymentId);
  }
}

function variablesOf(d: DeploymentRecord, keys: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of d.environmentVariables ?? []) {
    // A secret's value is never shown: it reads as a marker, which differs from anything we write.
    if (keys.includes(v.key)) out[v.key] = v.isSecret ? "(secret)" : (v.value ?? "");
  }
  return out;
}

const hasKey = (d: DeploymentRecord, key: string) => (d.environmentVariables ?? []).some((v) => v.key === key);
const lockKey = (d: Pick<DeploymentChange, "organizationId" | "deploymentId">) =>
  `astro-deployment:${d.organizationId}/${d.deploymentId}`;

function describe(change: DeploymentChange): string {
  const parts = Object.keys(change.environmentVariables);
  if (change.workloadIdentity !== undefined) parts.unshift(`workload identity ${change.workloadIdentity}`);
  return parts.join(" and ") || "its settings";
}
