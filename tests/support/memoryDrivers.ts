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
import type { ClaimLedger, GrantDriver } from "../../provider/core/types";
import {
  type AzureGrant,
  type AzureResolved,
  type FederatedCredential,
  isOtherDeploymentsCredential,
} from "../../provider/grants/azure/plan";
import { CLAIM_TAG_PREFIX, TAG_LIMIT } from "../../provider/grants/azure/driver";
import { airflowSink } from "../../provider/connections/airflow";
import { createProvider, type ProviderMethods } from "../../provider/core/provider";
import { awsGrantDriver } from "../../provider/grants/aws";
import { assignmentKey, credentialKey } from "../../provider/grants/azure/claimKeys";
import { GRANT_PLANNERS } from "../../provider/grants";
import { parseInputs } from "../../provider/inputs";
import { foreignPolicy } from "./fixtures";
import {
  TrustPolicy,
  entriesFoundIn,
  grantHolds,
  liveShare,
  withGrant,
  withoutGrant,
} from "../../provider/grants/aws/trustPolicy";

/**
 * The real provider methods over an in-memory IAM (one role, `data-reader`, holding the foreign
 * statements of the fixtures) and an in-memory Airflow, for the lifecycle's unit tests.
 */
/**
 * `foundMayBeForeign`: the trust entries ensure finds are reported as a Google member found
 * granted is (`foundGranted`: perhaps a stranger's, relied on and not owned), for the lifecycle's
 * tests of units whose owner hands them over.
 */
export function memoryAwsProvider(env: NodeJS.ProcessEnv = {}, options: { foundMayBeForeign?: boolean } = {}) {
  const trust = new MemoryTrust();
  trust.addRole("data-reader", foreignPolicy());
  const connections = new MemoryConnections();
  const aws = awsGrantDriver(trust);
  const planners = options.foundMayBeForeign
    ? GRANT_PLANNERS.map((p) =>
        p.cloud === "aws"
          ? { ...p, foundGranted: (_g: unknown, r: Record<string, unknown>) => (r.entriesFound as string[]) ?? [] }
          : p,
      )
    : GRANT_PLANNERS;
  const driver: GrantDriver = options.foundMayBeForeign
    ? {
        ...aws,
        async ensure(grant, previous, progress) {
          const { found, ...ensured } = await aws.ensure(grant as AwsGrant, previous as never, progress);
          return { ...ensured, resolved: { ...ensured.resolved, entriesFound: found ?? [] } };
        },
      }
    : (aws as GrantDriver);
  const provider = createProvider({
    planners: planners as typeof GRANT_PLANNERS,
    loadParser: () => parseInputs,
    makeDrivers: () => ({ grants: { aws: driver }, connections: { airflow: airflowSink(connections) } }),
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
    const foundEntries = entriesFoundIn(r.policy, grant);
    if (grantHolds(r.policy, grant)) return { roleArn: r.arn, changed: false, foundEntries };
    r.policy = withGrant(r.policy, grant);
    this.writes++;
    await this.verification;
    return { roleArn: r.arn, changed: true, foundEntries };
  }

  async remove(grant: GrantOnRole) {
    const r = this.role(grant.role);
    const next = withoutGrant(r.policy, grant);
    if (next === r.policy) return { removed: false };
    r.policy = next;
    this.writes++;
    return { removed: true };
  }

  /** Each role's claim tags: instance → digests. */
  readonly claims = new Map<string, Map<string, string[]>>();

  private claimsOf(role: string) {
    this.role(role);
    const name = role.slice(role.lastIndexOf("/") + 1);
    if (!this.claims.has(name)) this.claims.set(name, new Map());
    return this.claims.get(name)!;
  }

  async listClaims(role: string) {
    return new Map(this.claimsOf(role));
  }

  async recordClaim(role: string, instance: string, digests: string[]) {
    this.claimsOf(role).set(instance, [...digests]);
  }

  async releaseClaim(role: string, instance: string) {
    this.claims.get(role.slice(role.lastIndexOf("/") + 1))?.delete(instance);
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

/**
 * The real provider methods over an in-memory ARM (managed identities with their credentials and
 * tags, role assignments) and an in-memory Airflow, for the lifecycle's unit tests on Azure.
 */
export function memoryAzureProvider(env: NodeJS.ProcessEnv = {}) {
  const azure = new MemoryAzure();
  const connections = new MemoryConnections();
  const provider = createProvider({
    planners: GRANT_PLANNERS,
    loadParser: () => parseInputs,
    makeDrivers: () => ({ grants: { azure }, connections: { airflow: airflowSink(connections) } }),
    env,
  }) as ProviderMethods<AzureGrant>;
  return { azure, connections, provider };
}

interface MemoryIdentity {
  principalId: string;
  clientId: string;
  tenantId: string;
  credentials: Map<string, FederatedCredential>;
  tags: Map<string, string>;
}

/**
 * ARM as the Azure driver sees it, with the same contract: credentials by name, role assignments
 * by their derived name (kept while another Deployment of ours federates with the identity), and
 * claims as the identity's tags, one per instance.
 */
export class MemoryAzure implements GrantDriver<AzureGrant, AzureResolved> {
  readonly identities = new Map<string, MemoryIdentity>();
  /** Role assignments by name. */
  readonly assignments = new Map<string, { scope: string; role: string; principalId: string }>();

  addIdentity(id: string, tags: Record<string, string> = {}) {
    const n = this.identities.size + 1;
    this.identities.set(id.toLowerCase(), {
      principalId: `principal-${n}`,
      clientId: `client-${n}`,
      tenantId: "tenant",
      credentials: new Map(),
      tags: new Map(Object.entries(tags)),
    });
  }

  private identity(id: string): MemoryIdentity {
    const found = this.identities.get(id.toLowerCase());
    if (!found) throw new TargetMissingError(`managed identity ${id} does not exist`);
    return found;
  }

  /** The claim tags on an identity: instance → digests. */
  claimTags(id: string): Map<string, string[]> {
    const claims = new Map<string, string[]>();
    for (const [key, value] of this.identity(id).tags) {
      if (key.startsWith(CLAIM_TAG_PREFIX)) claims.set(key.slice(CLAIM_TAG_PREFIX.length), value.split(" "));
    }
    return claims;
  }

  async read(grant: AzureGrant, resolved: AzureResolved) {
    const identity = this.identity(grant.identity);
    const credentials = grant.credentials.filter((c) => identity.credentials.has(c.name));
    const assignment = grant.roleAssignment;
    const roleAssignment = assignment && this.assignments.has(assignment.name) ? assignment : null;
    return { grant: { ...grant, credentials, roleAssignment }, resolved };
  }

  /** A credential someone made by hand (another name than ours), as adoptExistingCredentials finds it. */
  addCredential(id: string, credential: FederatedCredential) {
    this.identity(id).credentials.set(credential.name, { ...credential });
  }

  async ensure(grant: AzureGrant) {
    const identity = this.identity(grant.identity);
    let changed = false;
    const adopted: string[] = [];
    const found = [
      ...grant.credentials
        .filter((c) => {
          const live = identity.credentials.get(c.name);
          return live?.issuer === c.issuer && live.subject === c.subject;
        })
        .map((c) => credentialKey(grant, c)),
      ...(grant.roleAssignment && this.assignments.has(grant.roleAssignment.name) ? [assignmentKey(grant)] : []),
    ];
    for (const c of grant.credentials) {
      const twin = [...identity.credentials.values()].find(
        (l) => l.name !== c.name && l.issuer === c.issuer && l.subject === c.subject,
      );
      if (twin && grant.adoptExistingCredentials) adopted.push(twin.name);
      if (twin || identity.credentials.has(c.name)) continue;
      identity.credentials.set(c.name, { ...c });
      changed = true;
    }
    const assignment = grant.roleAssignment;
    if (assignment && !this.assignments.has(assignment.name)) {
      this.assignments.set(assignment.name, {
        scope: assignment.scope,
        role: assignment.role,
        principalId: identity.principalId,
      });
      changed = true;
    }
    const { principalId, clientId, tenantId } = identity;
    return {
      changed,
      resolved: { principalId, clientId, tenantId, ...(adopted.length > 0 ? { adoptedCredentials: adopted } : {}) },
      found,
    };
  }

  async remove(grant: AzureGrant, resolved: AzureResolved) {
    const identity = this.identity(grant.identity);
    let removed = false;
    for (const c of grant.credentials) removed = identity.credentials.delete(c.name) || removed;
    for (const name of resolved.adoptedCredentials ?? []) removed = identity.credentials.delete(name) || removed;
    const assignment = grant.roleAssignment;
    const othersFederate = [...identity.credentials.values()].some((c) => isOtherDeploymentsCredential(c, grant));
    if (assignment && !othersFederate) removed = this.assignments.delete(assignment.name) || removed;
    return { removed };
  }

  readonly ledger: ClaimLedger<AzureGrant> = {
    record: async (grant, instance, digests) => {
      const tags = this.identity(grant.identity).tags;
      const key = `${CLAIM_TAG_PREFIX}${instance}`;
      if (!tags.has(key) && tags.size >= TAG_LIMIT) {
        throw new AuthorizationError("QUOTA_EXCEEDED", `managed identity ${grant.identity} has ${tags.size} tags`);
      }
      tags.set(key, digests.join(" "));
    },
    release: async (grant, instance) => {
      this.identities.get(grant.identity.toLowerCase())?.tags.delete(`${CLAIM_TAG_PREFIX}${instance}`);
    },
    records: async (grant) => this.claimTags(grant.identity),
  };
}
