import { DEFAULT_SERVICE_ACCOUNTS, SERVICE_ACCOUNT_COMPONENTS, serviceAccountName } from "../../provider/core/astro";
import { SENSITIVE_EXTRA_KEY } from "../../provider/core/schema";
import type { ExtraValue } from "../../provider/core/types";
import { RESERVED_AWS_EXTRA_KEYS } from "../../provider/grants/aws/schema";
import { isOwnedSid, planAwsGrant, roleNameOf } from "../../provider/grants/aws/plan";
import { TrustPolicy, entriesAt, handMadeTwins, statementsOf } from "../../provider/grants/aws/trustPolicy";
import {
  AZURE_DEFAULT_SERVICE_ACCOUNTS,
  CREDENTIAL_PREFIX,
  FederatedCredential,
} from "../../provider/grants/azure/plan";
import { TOKEN_CREATOR, WORKLOAD_IDENTITY_USER } from "../../provider/grants/gcp/plan";
import type { IamPolicy } from "../../provider/grants/gcp/policy";
import { USER_MANAGED_SERVICE_ACCOUNT } from "../../provider/grants/gcp/names";

/**
 * Pure matching of what a manual setup left (trust statements, bindings, federated credentials and
 * the connections that use them) to the Deployments they serve. I/O is in ./inventory.
 */

/** A Deployment whose grants to look for: given on the command line, or read from Astro. */
export interface DeploymentRef {
  /** Its name in the program and the report. */
  name: string;
  /** Its workload identity: an IAM role ARN, or a service account e-mail. */
  identity?: string;
  /** Its Kubernetes namespace (web identity on AWS, Workload Identity on GCP, federation on Azure). */
  namespace?: string;
  oidcIssuerUrl?: string;
  /** The Airflow whose connections belong to it. */
  airflowUrl?: string;
  /** Read from the Astro Platform API: the program names it, and the component reads the rest. */
  astro?: { organizationId: string; deploymentId: string };
}

export interface LiveConnection {
  connectionId: string;
  conn_type: string;
  description: string | null;
  extra: Record<string, ExtraValue>;
}

/** Everything read from the targets and Airflows given. */
export interface Inventory {
  deployments: DeploymentRef[];
  /** By Airflow URL. */
  connections: Record<string, LiveConnection[]>;
  awsRoles: Array<{ arn: string; policy: TrustPolicy }>;
  gcpPolicies: Array<{ resource: string; policy: IamPolicy }>;
  azureIdentities: Array<{ id: string; clientId: string; tenantId: string; credentials: FederatedCredential[] }>;
}

export interface MatchOptions {
  /** Ask the resources to take hand-made grants over (removed once ours holds, and on destroy). */
  takeOver: boolean;
  /** For AWS connections without `region_name`. */
  defaultRegion: string;
}

/** One authorization for the program: the component's arguments as plain data. */
export interface FoundAuthorization {
  name: string;
  deployment: DeploymentRef;
  cloud: "aws" | "gcp" | "azure";
  /** The cloud's arguments (`aws`, `gcp` or `azure`). */
  grant: Record<string, unknown>;
  /** The Deployment's own identity, where the grant trusts it (not with Astro: the component reads it). */
  workloadIdentity?: string;
  connection: {
    connectionId: string;
    /** An existing connection the resource takes over (`adoptExisting`). */
    adopted: boolean;
    description?: string;
    extra?: Record<string, ExtraValue>;
  };
  /** What the resource does to what exists, in a reviewer's words. */
  notes: string[];
}

/** Something found that the program does not declare, and why. */
export interface Unmatched {
  where: string;
  what: string;
}

export interface Discovery {
  authorizations: FoundAuthorization[];
  unmatched: Unmatched[];
  /** Grants a DeploymentAuthorization already owns (our Sid): nothing to adopt. */
  alreadyManaged: string[];
}

const WEB_IDENTITY_METHOD = "assume_role_with_web_identity";
const SUBJECT = /^system:serviceaccount:([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?):(.+)$/;

export function discover(inventory: Inventory, options: MatchOptions): Discovery {
  const out: Discovery = { authorizations: [], unmatched: [], alreadyManaged: [] };
  const connections = new ConnectionPool(inventory.connections);
  for (const role of inventory.awsRoles) matchAwsRole(role, inventory.deployments, connections, options, out);
  for (const policy of inventory.gcpPolicies) matchGcpPolicy(policy, inventory.deployments, connections, options, out);
  for (const identity of inventory.azureIdentities)
    matchAzureIdentity(identity, inventory.deployments, connections, out);
  const granted = new Set(out.authorizations.map((a) => a.deployment.name));
  for (const d of inventory.deployments) {
    if (!granted.has(d.name))
      out.unmatched.push({ where: `Deployment ${d.name}`, what: "no grant to it found on the targets given" });
  }
  for (const [url, left] of connections.unused()) {
    for (const c of left) {
      out.unmatched.push({
        where: `connection ${c.connectionId} at ${url}`,
        what: `a ${c.conn_type} connection that refers to a target given, but no grant it could use was matched to this Airflow's Deployment`,
      });
    }
  }
  return out;
}

/** The connections of each Airflow, each handed out at most once: one resource writes one connection. */
class ConnectionPool {
  private readonly used = new Set<string>();
  private readonly relevant = new Set<string>();

  constructor(private readonly byUrl: Record<string, LiveConnection[]>) {}

  /** The first unused connection that `fits`, by id; the others that fit are reported by the caller. */
  take(
    url: string | undefined,
    fits: (c: LiveConnection) => boolean,
  ): { chosen?: LiveConnection; others: LiveConnection[] } {
    if (!url) return { others: [] };
    const candidates = (this.byUrl[url] ?? [])
      .filter((c) => !this.used.has(key(url, c)) && fits(c))
      .sort((a, b) => a.connectionId.localeCompare(b.connectionId));
    const [chosen, ...others] = candidates;
    if (chosen) this.used.add(key(url, chosen));
    // The caller reports the others with the reason; they are not reported again as unused.
    for (const other of others) this.relevant.delete(key(url, other));
    return { chosen, others };
  }

  /** Every connection of that Airflow, used or not. */
  all(url: string | undefined): LiveConnection[] {
    return (url ? this.byUrl[url] : undefined) ?? [];
  }

  /** Marks connections that refer to a target given: those left unused at the end are reported. */
  markRelevant(fits: (c: LiveConnection) => boolean) {
    for (const [url, list] of Object.entries(this.byUrl)) {
      for (const c of list) if (fits(c)) this.relevant.add(key(url, c));
    }
  }

  unused(): Array<[string, LiveConnection[]]> {
    return Object.entries(this.byUrl).map(([url, list]) => [
      url,
      list.filter((c) => this.relevant.has(key(url, c)) && !this.used.has(key(url, c))),
    ]);
  }

  /** A connection id free in that Airflow, for a grant found without a connection. */
  freeId(url: string | undefined, wanted: string): string {
    const taken = new Set((url ? this.byUrl[url] : undefined)?.map((c) => c.connectionId) ?? []);
    for (let n = 1; ; n++) {
      const id = n === 1 ? wanted : `${wanted}_${n}`;
      if (!taken.has(id)) return id;
    }
  }
}

function key(url: string, c: LiveConnection) {
  return `${url}\u0000${c.connectionId}`;
}

/** The connection half: the one found (taken over), or a new id when none exists. */
function connectionFor(
  pool: ConnectionPool,
  deployment: DeploymentRef,
  fits: (c: LiveConnection) => boolean,
  newId: string,
  reservedKeys: readonly string[],
  out: Discovery,
  what: string,
): { connection: FoundAuthorization["connection"]; live?: LiveConnection; notes: string[] } {
  const { chosen, others } = pool.take(deployment.airflowUrl, fits);
  for (const other of others) {
    out.unmatched.push({
      where: `connection ${other.connectionId} at ${deployment.airflowUrl}`,
      what: `also uses ${what}; one resource writes one connection, and ${chosen!.connectionId} was taken`,
    });
  }
  if (!chosen) {
    const connectionId = pool.freeId(deployment.airflowUrl, newId);
    return {
      connection: { connectionId, adopted: false },
      notes: [
        `no connection at ${deployment.airflowUrl ?? "its Airflow"} uses ${what}: the resource creates ${connectionId}`,
      ],
    };
  }
  const extra: Record<string, ExtraValue> = {};
  const notes = [`takes over connection ${chosen.connectionId} (adoptExisting)`];
  for (const [k, v] of Object.entries(chosen.extra)) {
    if (reservedKeys.includes(k)) continue;
    if (SENSITIVE_EXTRA_KEY.test(k)) {
      notes.push(`extra.${k} looks like a secret and is left out; taking the connection over drops it`);
      continue;
    }
    extra[k] = v;
  }
  return {
    connection: {
      connectionId: chosen.connectionId,
      adopted: true,
      ...(chosen.description ? { description: chosen.description } : {}),
      ...(Object.keys(extra).length > 0 ? { extra } : {}),
    },
    live: chosen,
    notes,
  };
}

function resourceName(...parts: string[]): string {
  return parts
    .join("-")
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/-+/g, "-")
    .replace(/^-|-$/g, "");
}

function connectionIdFrom(...parts: string[]): string {
  return parts.join("_").replace(/[^\w.-]+/g, "_");
}

/** Astro's component names when every service account follows them; else the names themselves. */
function serviceAccountsArg(
  namespace: string,
  names: string[],
  defaults: readonly string[] = DEFAULT_SERVICE_ACCOUNTS,
): Record<string, unknown> {
  const components = names.map((n) => SERVICE_ACCOUNT_COMPONENTS.find((c) => serviceAccountName(namespace, c) === n));
  if (components.some((c) => c === undefined)) return { serviceAccountNames: names };
  const same = components.length === defaults.length && defaults.every((c) => components.includes(c as never));
  return same ? {} : { serviceAccounts: components };
}

// ---------------------------------------------------------------------------------------------- AWS

interface AwsCandidate {
  deployment: DeploymentRef;
  trust: Record<string, unknown>;
  workloadIdentity?: string;
  /** The statements (by index) whose entries the resource would take over. */
  statements: number[];
  what: string;
}

function matchAwsRole(
  role: { arn: string; policy: TrustPolicy },
  deployments: DeploymentRef[],
  pool: ConnectionPool,
  options: MatchOptions,
  out: Discovery,
) {
  const name = roleNameOf(role.arn);
  const where = `IAM role ${name}`;
  pool.markRelevant((c) => c.conn_type === "aws" && c.extra.role_arn === role.arn);
  const statements = statementsOf(role.policy);
  statements.forEach((s) => {
    if (s.Sid !== undefined && isOwnedSid(s.Sid)) out.alreadyManaged.push(`${where}, statement ${s.Sid}`);
  });
  const candidates: AwsCandidate[] = [];
  const cluster: Array<{ principal: string; statements: number[] }> = [];
  const twinsOf = (trust: Record<string, unknown>, workloadIdentity?: string) => {
    const planned = planAwsGrant(
      { targetRole: role.arn, region: options.defaultRegion, trust: trust as never },
      { owner: "", workloadIdentity },
    );
    return handMadeTwins(role.policy, { ...planned, statement: planned.statement! }, isOwnedSid);
  };

  for (const d of deployments) {
    if (d.identity?.startsWith("arn:")) {
      const twins = twinsOf({ kind: "deploymentRole" }, d.identity);
      if (twins.length > 0) {
        candidates.push({
          deployment: d,
          trust: { kind: "deploymentRole" },
          workloadIdentity: d.identity,
          statements: twins,
          what: `role ${name}`,
        });
      }
    }
  }
  // Cluster roles (AirflowS3Logs-<cluster>) are trusted for every Deployment of the cluster.
  statements.forEach((s) => {
    if (s.Sid !== undefined && isOwnedSid(s.Sid)) return;
    for (const principal of entriesAt(s, ["Principal", "AWS"])) {
      if (!/:role\/AirflowS3Logs-[\w-]+$/.test(principal) || cluster.some((c) => c.principal === principal)) continue;
      const twins = twinsOf({ kind: "clusterRole", clusterRoleArn: principal });
      if (twins.length > 0) cluster.push({ principal, statements: twins });
    }
  });
  // Web identity: the namespace's service accounts, through the cluster's OIDC provider.
  const webSubjects = new Map<string, { issuerUrl: string; namespace: string; names: Set<string>; wide: boolean }>();
  for (const s of statements) {
    if (s.Sid !== undefined && isOwnedSid(s.Sid)) continue;
    const federated = entriesAt(s, ["Principal", "Federated"])[0];
    const hostPath = federated?.match(/:oidc-provider\/(.+)$/)?.[1];
    if (!hostPath) continue;
    for (const operator of ["StringEquals", "StringLike"] as const) {
      for (const subject of entriesAt(s, ["Condition", operator, `${hostPath}:sub`])) {
        const m = subject.match(SUBJECT);
        if (!m) continue;
        const [, namespace, , serviceAccount] = m as unknown as [string, string, string, string];
        const k = `${hostPath} ${namespace}`;
        const entry = webSubjects.get(k) ?? {
          issuerUrl: `https://${hostPath}`,
          namespace,
          names: new Set(),
          wide: false,
        };
        if (serviceAccount === "*" && operator === "StringLike") entry.wide = true;
        else if (operator === "StringEquals") entry.names.add(serviceAccount);
        webSubjects.set(k, entry);
      }
    }
  }
  for (const web of webSubjects.values()) {
    const d = deployments.find(
      (x) =>
        x.namespace === web.namespace && (!x.oidcIssuerUrl || x.oidcIssuerUrl.replace(/\/+$/, "") === web.issuerUrl),
    );
    const base = { kind: "webIdentity", ...(d?.astro ? {} : { issuerUrl: web.issuerUrl, namespace: web.namespace }) };
    const trusts = [
      ...(web.names.size > 0 ? [{ ...base, ...serviceAccountsArg(web.namespace, [...web.names]) }] : []),
      ...(web.wide ? [{ ...base, namespaceWide: true }] : []),
    ];
    for (const trust of trusts) {
      const full = { ...trust, issuerUrl: web.issuerUrl, namespace: web.namespace };
      const twins = twinsOf(full);
      if (!d) {
        out.unmatched.push({
          where,
          what: `trusts service accounts of namespace ${web.namespace} (${web.issuerUrl}); no Deployment given with that namespace (--deployment ${web.namespace}=<airflow url>)`,
        });
        continue;
      }
      if (twins.length === 0) {
        out.unmatched.push({
          where,
          what: `trusts service accounts of namespace ${web.namespace}, in a statement unlike the one this resource writes (extra actions or conditions): left as is`,
        });
        continue;
      }
      candidates.push({ deployment: d, trust, statements: twins, what: `role ${name} with its web identity` });
    }
  }

  for (const c of candidates) {
    const web = c.trust.kind === "webIdentity";
    const assumes = (x: LiveConnection) =>
      x.conn_type === "aws" && x.extra.role_arn === role.arn && x.extra.assume_role_method === WEB_IDENTITY_METHOD;
    let found = connectionFor(
      pool,
      c.deployment,
      web ? assumes : (x) => x.conn_type === "aws" && x.extra.role_arn === role.arn && !x.extra.assume_role_method,
      connectionIdFrom("aws", name),
      RESERVED_AWS_EXTRA_KEYS,
      out,
      c.what,
    );
    let trust = c.trust;
    if (web && found.live) trust = { ...trust, connectionAssumesRole: true };
    if (web && !found.live) {
      // Pod-level web identity: the connection names only the region; take one only when it is the one.
      const regionOnly = (x: LiveConnection) => x.conn_type === "aws" && x.extra.role_arn === undefined;
      const url = c.deployment.airflowUrl;
      const count = url ? pool.all(url).filter(regionOnly).length : 0;
      if (count === 1) {
        found = connectionFor(
          pool,
          c.deployment,
          regionOnly,
          connectionIdFrom("aws", name),
          RESERVED_AWS_EXTRA_KEYS,
          out,
          c.what,
        );
      }
    }
    const region =
      typeof found.live?.extra.region_name === "string" ? found.live.extra.region_name : options.defaultRegion;
    out.authorizations.push({
      name: resourceName(c.deployment.name, name),
      deployment: c.deployment,
      cloud: "aws",
      grant: { targetRole: role.arn, region, trust, ...(options.takeOver ? { adoptExistingTrust: true } : {}) },
      ...(c.deployment.astro || !c.workloadIdentity ? {} : { workloadIdentity: c.workloadIdentity }),
      connection: found.connection,
      notes: [
        options.takeOver
          ? `takes over hand-made statement(s) ${c.statements.map((i) => describeStatement(role.policy, i)).join(", ")}: its entries go from them once the resource's own statement is written and read back`
          : `leaves hand-made statement(s) ${c.statements.map((i) => describeStatement(role.policy, i)).join(", ")} as they are (beside the resource's own; they stay after destroy)`,
        ...found.notes,
      ],
    });
  }

  for (const c of cluster) {
    // A cluster role's entry can have one owner: the Deployment with a connection to this role.
    const owner = deployments.find((d) =>
      pool.all(d.airflowUrl).some((x) => x.conn_type === "aws" && x.extra.role_arn === role.arn),
    );
    if (!owner) {
      out.unmatched.push({
        where,
        what: `trusts cluster role ${c.principal}; no Deployment given has a connection to this role`,
      });
      continue;
    }
    const found = connectionFor(
      pool,
      owner,
      (x) => x.conn_type === "aws" && x.extra.role_arn === role.arn,
      connectionIdFrom("aws", name),
      RESERVED_AWS_EXTRA_KEYS,
      out,
      `role ${name}`,
    );
    if (!found.live) continue;
    out.authorizations.push({
      name: resourceName(owner.name, name, "cluster"),
      deployment: owner,
      cloud: "aws",
      grant: {
        targetRole: role.arn,
        region: typeof found.live.extra.region_name === "string" ? found.live.extra.region_name : options.defaultRegion,
        trust: { kind: "clusterRole", clusterRoleArn: c.principal },
        ...(options.takeOver ? { adoptExistingTrust: true } : {}),
      },
      connection: found.connection,
      notes: [
        `trusts the cluster's role ${c.principal}: every Deployment on that cluster may assume ${name}`,
        ...found.notes,
      ],
    });
  }
}

function describeStatement(policy: TrustPolicy, index: number): string {
  const s = statementsOf(policy)[index];
  return s?.Sid ? `"${s.Sid}"` : `#${index + 1}`;
}

// ---------------------------------------------------------------------------------------------- GCP

function matchGcpPolicy(
  target: { resource: string; policy: IamPolicy },
  deployments: DeploymentRef[],
  pool: ConnectionPool,
  options: MatchOptions,
  out: Discovery,
) {
  const email = target.resource.match(/serviceAccounts\/(.+)$/)?.[1];
  const project = email ? undefined : target.resource.replace(/^projects\//, "");
  const where = email ? `service account ${email}` : `project ${project}`;
  const bindings = target.policy.bindings ?? [];
  const adopt = options.takeOver ? { adoptExistingMembers: true } : {};
  const gcpConnection = (x: LiveConnection) => x.conn_type === "google_cloud_platform";
  pool.markRelevant(
    (x) =>
      gcpConnection(x) &&
      (email ? x.extra.impersonation_chain === email : x.extra.project === project && !x.extra.impersonation_chain),
  );
  // Both service account kinds reach it by impersonation: the connection names it in impersonation_chain.
  const impersonating = (d: DeploymentRef) =>
    connectionFor(
      pool,
      d,
      (x) => gcpConnection(x) && x.extra.impersonation_chain === email,
      connectionIdFrom("google_cloud", (email ?? "").split("@")[0]!),
      ["project", "impersonation_chain"],
      out,
      `service account ${email}`,
    );
  const note = (members: string) =>
    options.takeOver
      ? `takes over the hand-made member ${members}: it goes on destroy (adoptExistingMembers)`
      : `the member ${members} exists already: the resource keeps it, and leaves it on destroy`;

  for (const d of deployments) {
    const member = d.identity ? `serviceAccount:${d.identity}` : undefined;
    if (!member) continue;
    for (const b of bindings.filter((b) => b.condition && (b.members ?? []).includes(member))) {
      out.unmatched.push({
        where,
        what: `conditional binding of ${b.role} for ${d.identity}: this resource writes unconditional bindings only; left as is`,
      });
    }
    const roles = bindings.filter((b) => !b.condition && (b.members ?? []).includes(member)).map((b) => b.role ?? "");
    if (email) {
      if (!roles.includes(TOKEN_CREATOR)) continue;
      const found = impersonating(d);
      const projectFromEmail = email.match(USER_MANAGED_SERVICE_ACCOUNT)?.[1];
      const connectionProject = typeof found.live?.extra.project === "string" ? found.live.extra.project : undefined;
      out.authorizations.push({
        name: resourceName(d.name, email.split("@")[0]!),
        deployment: d,
        cloud: "gcp",
        grant: {
          ...(connectionProject && connectionProject !== projectFromEmail ? { project: connectionProject } : {}),
          grant: { kind: "impersonation", serviceAccount: email },
          ...adopt,
        },
        ...(d.astro ? {} : { workloadIdentity: d.identity }),
        connection: found.connection,
        notes: [note(`${member} in ${TOKEN_CREATOR}`), ...found.notes],
      });
      continue;
    }
    const [role, ...more] = roles;
    if (!role) continue;
    for (const other of more) {
      out.unmatched.push({
        where,
        what: `${d.identity} also has ${other}: a resource grants one role; that binding stays as it is`,
      });
    }
    const found = connectionFor(
      pool,
      d,
      (x) => gcpConnection(x) && x.extra.project === project && !x.extra.impersonation_chain,
      connectionIdFrom("google_cloud", project!),
      ["project", "impersonation_chain"],
      out,
      `project ${project}`,
    );
    out.authorizations.push({
      name: resourceName(d.name, project!),
      deployment: d,
      cloud: "gcp",
      grant: { project, grant: { kind: "projectRole", role }, ...adopt },
      ...(d.astro ? {} : { workloadIdentity: d.identity }),
      connection: found.connection,
      notes: [note(`${member} in ${role}`), ...found.notes],
    });
  }

  if (!email) return;
  // Customer-managed identity: the namespace's Kubernetes service accounts act as the service account.
  const byNamespace = new Map<string, { pool: string; names: string[] }>();
  for (const b of bindings.filter((b) => !b.condition && b.role === WORKLOAD_IDENTITY_USER)) {
    for (const m of b.members ?? []) {
      const parsed = m.match(/^serviceAccount:([a-z0-9-]+\.svc\.id\.goog)\[([a-z0-9-]+)\/([a-z0-9.-]+)\]$/);
      if (!parsed) continue;
      const [, workloadPool, namespace, ksa] = parsed as unknown as [string, string, string, string];
      const entry = byNamespace.get(namespace) ?? { pool: workloadPool, names: [] };
      entry.names.push(ksa);
      byNamespace.set(namespace, entry);
    }
  }
  for (const [namespace, found] of byNamespace) {
    const d = deployments.find((x) => x.namespace === namespace);
    if (!d) {
      out.unmatched.push({
        where,
        what: `Kubernetes service accounts of namespace ${namespace} may act as it; no Deployment given with that namespace`,
      });
      continue;
    }
    const connection = impersonating(d);
    out.authorizations.push({
      name: resourceName(d.name, email.split("@")[0]!, "identity"),
      deployment: d,
      cloud: "gcp",
      grant: {
        grant: {
          kind: "customerManagedIdentity",
          serviceAccount: email,
          workloadIdentityPool: found.pool,
          ...(d.astro ? {} : { namespace }),
          ...serviceAccountsArg(namespace, found.names),
        },
        ...adopt,
      },
      connection: connection.connection,
      notes: [
        note(`${found.names.length} Kubernetes service account(s) in ${WORKLOAD_IDENTITY_USER}`),
        ...connection.notes,
      ],
    });
  }
}

// -------------------------------------------------------------------------------------------- Azure

function matchAzureIdentity(
  identity: Inventory["azureIdentities"][number],
  deployments: DeploymentRef[],
  pool: ConnectionPool,
  out: Discovery,
) {
  const name = identity.id.split("/").pop()!;
  const where = `managed identity ${name}`;
  pool.markRelevant((x) => x.conn_type === "azure" && x.extra.managed_identity_client_id === identity.clientId);
  const groups = new Map<string, { issuer: string; namespace: string; names: string[]; credentials: string[] }>();
  for (const c of identity.credentials) {
    if (c.name.startsWith(CREDENTIAL_PREFIX)) {
      out.alreadyManaged.push(`${where}, credential ${c.name}`);
      continue;
    }
    const m = c.subject.match(SUBJECT);
    if (!m || !c.audiences.includes("api://AzureADTokenExchange")) continue;
    const [, namespace, , serviceAccount] = m as unknown as [string, string, string, string];
    const k = `${c.issuer} ${namespace}`;
    const entry = groups.get(k) ?? { issuer: c.issuer, namespace, names: [], credentials: [] };
    entry.names.push(serviceAccount);
    entry.credentials.push(c.name);
    groups.set(k, entry);
  }
  for (const g of groups.values()) {
    const d = deployments.find((x) => x.namespace === g.namespace);
    if (!d) {
      out.unmatched.push({
        where,
        what: `credentials ${g.credentials.join(", ")} federate namespace ${g.namespace}; no Deployment given with that namespace`,
      });
      continue;
    }
    const found = connectionFor(
      pool,
      d,
      (x) => x.conn_type === "azure" && x.extra.managed_identity_client_id === identity.clientId,
      connectionIdFrom("azure", name),
      ["managed_identity_client_id", "workload_identity_tenant_id"],
      out,
      `managed identity ${name}`,
    );
    out.authorizations.push({
      name: resourceName(d.name, name),
      deployment: d,
      cloud: "azure",
      grant: {
        identity: identity.id,
        ...(d.astro ? {} : { issuerUrl: g.issuer, namespace: g.namespace }),
        ...serviceAccountsArg(g.namespace, g.names, AZURE_DEFAULT_SERVICE_ACCOUNTS),
        adoptExistingCredentials: true,
      },
      connection: found.connection,
      notes: [
        `takes over credentials ${g.credentials.join(", ")} (Entra allows one per issuer and subject, so they become the resource's and go on destroy)`,
        "role assignments are not looked for: add azure.roleAssignment if the identity needs one managed here",
        ...found.notes,
      ],
    });
  }
}
