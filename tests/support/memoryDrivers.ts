import { AuthorizationError, ConnectionExistsError, TargetMissingError } from "../../provider/core/errors";
import type {
  ApiVersion,
  ConnectionDriver,
  ConnectionPayload,
  ConnectionTarget,
  DeploymentChange,
  DeploymentSettingsDriver,
} from "../../provider/core/types";
import type { AwsGrant, GrantOnRole, TrustDriver } from "../../provider/grants/aws/types";
import { airflowSink } from "../../provider/connections/airflow";
import { createProvider, type ProviderMethods } from "../../provider/core/provider";
import { awsGrantDriver } from "../../provider/grants/aws";
import { GRANT_PLANNERS } from "../../provider/grants";
import { parseInputs } from "../../provider/inputs";
import { foreignPolicy } from "./fixtures";
import { TrustPolicy, grantHolds, liveShare, withGrant, withoutGrant } from "../../provider/grants/aws/trustPolicy";

/**
 * The real provider methods over an in-memory IAM (one role, `data-reader`, holding the foreign
 * statements of the fixtures) and an in-memory Airflow, for the lifecycle's unit tests.
 */
export function memoryAwsProvider(env: NodeJS.ProcessEnv = {}) {
  const trust = new MemoryTrust();
  trust.addRole("data-reader", foreignPolicy());
  const connections = new MemoryConnections();
  const provider = createProvider({
    planners: GRANT_PLANNERS,
    loadParser: () => parseInputs,
    makeDrivers: () => ({ grants: { aws: awsGrantDriver(trust) }, connections: { airflow: airflowSink(connections) } }),
    env,
  }) as ProviderMethods<AwsGrant>;
  return { trust, connections, provider };
}

/** In-memory stand-ins with the same contract as the real drivers, for the lifecycle's unit tests. */
export class MemoryTrust implements TrustDriver {
  readonly roles = new Map<string, { arn: string; policy: TrustPolicy }>();
  writes = 0;

  addRole(name: string, policy: TrustPolicy, account = "123456789012") {
    this.roles.set(name, { arn: `arn:aws:iam::${account}:role/${name}`, policy });
  }

  private role(role: string) {
    const name = role.slice(role.lastIndexOf("/") + 1);
    const found = this.roles.get(name);
    if (!found) throw new TargetMissingError(`IAM role ${name} does not exist`);
    return found;
  }

  async read(grant: GrantOnRole) {
    const r = this.role(grant.role);
    return { roleArn: r.arn, statement: liveShare(r.policy, grant) };
  }

  /** When set, ensure writes, reports the ARN, then waits for this before it returns (a read-back). */
  verification: Promise<void> | undefined;

  async ensure(grant: GrantOnRole, roleArnKnown?: (roleArn: string) => void) {
    const r = this.role(grant.role);
    roleArnKnown?.(r.arn);
    if (grantHolds(r.policy, grant)) return { roleArn: r.arn, changed: false };
    r.policy = withGrant(r.policy, grant);
    this.writes++;
    await this.verification;
    return { roleArn: r.arn, changed: true };
  }

  async remove(grant: GrantOnRole) {
    const r = this.role(grant.role);
    const next = withoutGrant(r.policy, grant);
    if (next === r.policy) return { removed: false };
    r.policy = next;
    this.writes++;
    return { removed: true };
  }
}

export class MemoryConnections implements ConnectionDriver {
  readonly store = new Map<string, ConnectionPayload & { password?: string }>();
  writes = 0;
  failNextCreate: Error | undefined;
  seenCredentials: Array<ConnectionTarget["credentials"]> = [];

  constructor(private readonly version: ApiVersion = "v2") {}

  private key(target: ConnectionTarget, id: string) {
    this.seenCredentials.push(target.credentials);
    return `${target.url}|${id}`;
  }

  async apiVersion(target: ConnectionTarget) {
    return target.apiVersion === "detect" ? this.version : target.apiVersion;
  }

  async read(target: ConnectionTarget, id: string) {
    const found = this.store.get(this.key(target, id));
    return found
      ? { conn_type: found.conn_type, description: found.description, extra: { ...found.extra } }
      : undefined;
  }

  async create(target: ConnectionTarget, id: string, payload: ConnectionPayload) {
    if (this.failNextCreate) {
      const error = this.failNextCreate;
      this.failNextCreate = undefined;
      throw error;
    }
    const key = this.key(target, id);
    if (this.store.has(key))
      throw new ConnectionExistsError(`connection ${id} already exists; set connection.adoptExisting`);
    this.store.set(key, structuredClone(payload));
    this.writes++;
  }

  async update(target: ConnectionTarget, id: string, payload: ConnectionPayload) {
    const key = this.key(target, id);
    this.store.set(key, { ...this.store.get(key), ...structuredClone(payload) });
    this.writes++;
  }

  async remove(target: ConnectionTarget, id: string) {
    const removed = this.store.delete(this.key(target, id));
    if (removed) this.writes++;
    return { removed };
  }

  async descriptions(target: ConnectionTarget) {
    return [...this.store].filter(([key]) => key.startsWith(`${target.url}|`)).map(([, c]) => c.description);
  }
}

/** A Deployment's identity and variables, with the driver contract of AstroDeploymentSettings. */
export class MemoryDeploymentSettings implements DeploymentSettingsDriver {
  readonly deployments = new Map<string, { defaultIdentity: string; identity?: string; vars: Map<string, string> }>();
  writes = 0;

  addDeployment(id: string, defaultIdentity: string, vars: Record<string, string> = {}) {
    this.deployments.set(id, { defaultIdentity, vars: new Map(Object.entries(vars)) });
  }

  effective(id: string) {
    const d = this.deployments.get(id)!;
    return d.identity ?? d.defaultIdentity;
  }

  async read(deployment: Pick<DeploymentChange, "deploymentId">, keys: readonly string[]) {
    const d = this.deployments.get(deployment.deploymentId);
    if (!d) return { environmentVariables: {} };
    const vars = Object.fromEntries([...d.vars].filter(([k]) => keys.includes(k)));
    return { effectiveWorkloadIdentity: d.identity ?? d.defaultIdentity, environmentVariables: vars };
  }

  async apply(change: DeploymentChange) {
    const d = this.deployments.get(change.deploymentId);
    if (!d) throw new TargetMissingError(`Deployment ${change.deploymentId} does not exist`);
    for (const [key, value] of Object.entries(change.environmentVariables)) {
      if (d.vars.has(key) && d.vars.get(key) !== value && !change.ownedKeys.includes(key)) {
        throw new AuthorizationError("CONFLICT", `Deployment ${change.deploymentId} already has ${key} set`);
      }
    }
    const previous = d.identity ?? d.defaultIdentity;
    for (const key of change.ownedKeys) d.vars.delete(key);
    for (const [key, value] of Object.entries(change.environmentVariables)) d.vars.set(key, value);
    if (change.workloadIdentity !== undefined) d.identity = change.workloadIdentity;
    this.writes++;
    return change.workloadIdentity !== undefined ? { previousWorkloadIdentity: previous } : {};
  }

  async remove(change: Omit<DeploymentChange, "environmentVariables">) {
    const d = this.deployments.get(change.deploymentId);
    if (!d) return;
    for (const key of change.ownedKeys) d.vars.delete(key);
    if (change.workloadIdentity !== undefined) d.identity = change.workloadIdentity;
    this.writes++;
  }
}
