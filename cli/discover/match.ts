import { DEFAULT_SERVICE_ACCOUNTS, SERVICE_ACCOUNT_COMPONENTS, serviceAccountName } from "../../provider/astro/naming";
import { claimOf } from "../../provider/core/claims";
import { ownerInDescription } from "../../provider/core/plan";
import { SENSITIVE_EXTRA_KEY } from "../../provider/core/schema";
import type { ExtraValue } from "../../provider/core/types";
import { RESERVED_AWS_EXTRA_KEYS } from "../../provider/grants/aws/schema";
import { isOwnedSid, planAwsGrant, roleNameOf } from "../../provider/grants/aws/plan";
import {
  PolicyStatement,
  TrustPolicy,
  entriesAt,
  handMadeTwins,
  statementsOf,
  withEntriesAt,
} from "../../provider/grants/aws/trustPolicy";
import {
  AUDIENCE,
  AZURE_DEFAULT_SERVICE_ACCOUNTS,
  CREDENTIAL_PREFIX,
  FederatedCredential,
} from "../../provider/grants/azure/plan";
import { TOKEN_CREATOR, WORKLOAD_IDENTITY_USER } from "../../provider/grants/gcp/plan";
import type { IamBinding, IamPolicy } from "../../provider/grants/gcp/policy";
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
  /**
   * Grants a DeploymentAuthorization already owns (our Sid, our credential names) and connections
   * one manages (its description names the stack): nothing to adopt.
   */
  alreadyManaged: string[];
}

/** What one matching pass writes to, and the Deployments some of whose grants it left out. */
interface Findings extends Discovery {
  leftOutFor: Set<string>;
}

const WEB_IDENTITY_METHOD = "assume_role_with_web_identity";
const SUBJECT = /^system:serviceaccount:([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?):(.+)$/;

export function discover(inventory: Inventory, options: MatchOptions): Discovery {
  const out: Findings = { authorizations: [], unmatched: [], alreadyManaged: [], leftOutFor: new Set() };
  const connections = new ConnectionPool(inventory.connections);
  for (const role of inventory.awsRoles) matchAwsRole(role, inventory.deployments, connections, options, out);
  for (const policy of inventory.gcpPolicies) matchGcpPolicy(policy, inventory.deployments, connections, options, out);
  for (const identity of inventory.azureIdentities)
    matchAzureIdentity(identity, inventory.deployments, connections, out);
  const granted = new Set(out.authorizations.map((a) => a.deployment.name));
  for (const d of inventory.deployments) {
    if (granted.has(d.name)) continue;
    out.unmatched.push({
      where: `Deployment ${d.name}`,
      what: out.leftOutFor.has(d.name)
        ? "no grant to it that a resource can take over: the ones found are left out, each for its reason (see them here)"
        : "no grant to it found on the targets given",
    });
  }
  // Each connection is reported once, by what became of it: taken over (in the program), managed
  // by a stack, passed over for another, or left with no grant to go with.
  for (const { url, connection: c, passedOver } of connections.leftOver()) {
    const where = `connection ${c.connectionId} at ${url}`;
    const manager = managerOf(c.description);
    if (manager) out.alreadyManaged.push(`${where}: ${manager}`);
    else if (passedOver) out.unmatched.push({ where, what: passedOver });
    else {
      out.unmatched.push({
        where,
        what: `a ${c.conn_type} connection that refers to a target given, but no grant it could use was matched to this Airflow's Deployment`,
      });
    }
  }
  const { leftOutFor: _leftOutFor, ...discovery } = out;
  return discovery;
}

/** Who manages a connection whose description names its owner, `<project>/<stack>/<name>`. */
/**
 * Who manages a connection, from its description: the default one names the stack and resource; a
 * claim alone (a description the program set) says only that a resource of this package holds it.
 */
function managerOf(description: string | null): string | undefined {
  const owner = ownerInDescription(description);
  if (owner) return managedBy(owner);
  const claim = claimOf(description);
  return claim
    ? `managed by a DeploymentAuthorization (instance ${claim.instance}; its description does not name the stack): never taken over`
    : undefined;
}

function managedBy(owner: string): string {
  const [project, stack, ...name] = owner.split("/");
  return name.length > 0
    ? `managed by stack ${project}/${stack} (DeploymentAuthorization ${name.join("/")}): never taken over`
    : `managed by DeploymentAuthorization ${owner}: never taken over`;
}

/**
 * The connections of each Airflow, each handed out at most once: one resource writes one
 * connection, and none that a stack manages is handed out. What becomes of the rest is kept until
 * the end, so that each is reported once.
 */
class ConnectionPool {
  private readonly used = new Set<string>();
  private readonly relevant = new Set<string>();
  /** Connections that fit a grant for which another one was taken: why, by key. */
  private readonly passedOver = new Map<string, string>();

  constructor(private readonly byUrl: Record<string, LiveConnection[]>) {}

  /**
   * The first unused connection that `fits`, by id, that no stack manages; those that fit but a
   * stack manages come back as `managed`. The other fitting ones are noted with `passedOver`'s reason.
   */
  take(
    url: string | undefined,
    fits: (c: LiveConnection) => boolean,
    passedOver: (chosen: LiveConnection) => string,
  ): { chosen?: LiveConnection; managed: LiveConnection[] } {
    if (!url) return { managed: [] };
    const fitting = (this.byUrl[url] ?? [])
      .filter((c) => !this.used.has(key(url, c)) && fits(c))
      .sort((a, b) => a.connectionId.localeCompare(b.connectionId));
    const managed = fitting.filter((c) => managerOf(c.description) !== undefined);
    const [chosen, ...others] = fitting.filter((c) => !managed.includes(c));
    for (const c of managed) this.relevant.add(key(url, c));
    if (chosen) {
      this.used.add(key(url, chosen));
      for (const other of others) {
        if (!this.passedOver.has(key(url, other))) this.passedOver.set(key(url, other), passedOver(chosen));
      }
    }
    return { chosen, managed };
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

  /** The connections not taken over that refer to a target given, each once, with why one was passed over. */
  leftOver(): Array<{ url: string; connection: LiveConnection; passedOver?: string }> {
    return Object.entries(this.byUrl).flatMap(([url, list]) =>
      list
        .filter(
          (c) => !this.used.has(key(url, c)) && (this.relevant.has(key(url, c)) || this.passedOver.has(key(url, c))),
        )
        .map((c) => {
          const reason = this.passedOver.get(key(url, c));
          return { url, connection: c, ...(reason ? { passedOver: reason } : {}) };
        }),
    );
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
  what: string,
): { connection: FoundAuthorization["connection"]; live?: LiveConnection; notes: string[] } {
  const { chosen, managed } = pool.take(
    deployment.airflowUrl,
    fits,
    (taken) => `also uses ${what}; one resource writes one connection, and ${taken.connectionId} was taken`,
  );
  if (!chosen) {
    const connectionId = pool.freeId(deployment.airflowUrl, newId);
    const managedNotes = managed.map(
      (c) =>
        `connection ${c.connectionId} at ${deployment.airflowUrl} uses ${what}, but is ${managerOf(c.description)!}`,
    );
    return {
      connection: { connectionId, adopted: false },
      notes: [
        ...managedNotes,
        managed.length > 0
          ? `the resource creates ${connectionId}`
          : `no connection at ${deployment.airflowUrl ?? "its Airflow"} uses ${what}: the resource creates ${connectionId}`,
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
  out: Findings,
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
  const plan: PlanStatement = (trust, workloadIdentity) => {
    const planned = planAwsGrant(
      { targetRole: role.arn, region: options.defaultRegion, trust: trust as never },
      { owner: "", workloadIdentity },
    );
    return { statement: planned.statement!, entryPath: planned.entryPath };
  };
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
      // A statement unlike ours is reported below, with how it differs.
      if (twins.length === 0) continue;
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
      `role ${name}`,
    );
    if (!found.live) {
      out.unmatched.push({
        where,
        what: `trusts cluster role ${c.principal}: left out: ${owner.name}'s connection to this role goes with another of its grants (one resource writes one connection)`,
      });
      out.leftOutFor.add(owner.name);
      continue;
    }
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

  // Taken over, or reported above (a cluster role no Deployment given has a connection to).
  const taken = new Set([...candidates.flatMap((c) => c.statements), ...cluster.flatMap((c) => c.statements)]);
  reportLeftOutStatements(where, role.policy, taken, deployments, plan, out);
}

/** Our statement for a trust, and where in it the trusted entries are: what a hand-made one is compared to. */
type PlanStatement = (
  trust: Record<string, unknown>,
  workloadIdentity?: string,
) => { statement: PolicyStatement; entryPath: string[] };

interface Mention {
  /** Whom the statement trusts, in the report's words. */
  who: string;
  /** The Deployment given it trusts, if any (a cluster role serves every Deployment of the cluster). */
  deployment?: string;
  statement: PolicyStatement;
  entryPath: string[];
}

/**
 * Every hand-made statement that is not taken over is reported once: one that trusts a Deployment
 * given (its role, its namespace's service accounts) or a cluster role, with how it differs from
 * the statement this resource writes; the rest together, as trusting no Deployment given. Web
 * identity statements for namespaces without a Deployment given are reported where they are found.
 */
function reportLeftOutStatements(
  where: string,
  policy: TrustPolicy,
  taken: ReadonlySet<number>,
  deployments: DeploymentRef[],
  plan: PlanStatement,
  out: Findings,
) {
  const others: string[] = [];
  statementsOf(policy).forEach((s, index) => {
    if ((s.Sid !== undefined && isOwnedSid(s.Sid)) || taken.has(index)) return;
    const { mentions, webElsewhere } = mentionsIn(s, deployments, plan);
    if (mentions.length === 0) {
      if (!webElsewhere) others.push(describeStatement(policy, index));
      return;
    }
    for (const m of mentions) {
      out.unmatched.push({
        where,
        what: `statement ${describeStatement(policy, index)} trusts ${m.who}: left out: ${howUnlike(s, m.statement, m.entryPath).join("; ")}`,
      });
      if (m.deployment) out.leftOutFor.add(m.deployment);
    }
  });
  if (others.length > 0) {
    out.unmatched.push({
      where,
      what: `statement${others.length > 1 ? "s" : ""} ${others.join(", ")} trust${others.length > 1 ? "" : "s"} no Deployment given: left as ${others.length > 1 ? "they are" : "it is"}`,
    });
  }
}

function mentionsIn(
  s: PolicyStatement,
  deployments: DeploymentRef[],
  plan: PlanStatement,
): { mentions: Mention[]; webElsewhere: boolean } {
  const mentions: Mention[] = [];
  const principals = entriesAt(s, ["Principal", "AWS"]);
  for (const d of deployments) {
    if (d.identity && principals.includes(d.identity)) {
      mentions.push({ who: d.identity, deployment: d.name, ...plan({ kind: "deploymentRole" }, d.identity) });
    }
  }
  for (const principal of principals.filter((p) => /:role\/AirflowS3Logs-[\w-]+$/.test(p))) {
    mentions.push({ who: `cluster role ${principal}`, ...plan({ kind: "clusterRole", clusterRoleArn: principal }) });
  }
  let webElsewhere = false;
  const hostPath = entriesAt(s, ["Principal", "Federated"])[0]?.match(/:oidc-provider\/(.+)$/)?.[1];
  if (hostPath) {
    const issuerUrl = `https://${hostPath}`;
    for (const operator of ["StringEquals", "StringLike"] as const) {
      const byNamespace = new Map<string, string[]>();
      for (const subject of entriesAt(s, ["Condition", operator, `${hostPath}:sub`])) {
        const m = subject.match(SUBJECT);
        if (m) byNamespace.set(m[1]!, [...(byNamespace.get(m[1]!) ?? []), m[3]!]);
      }
      for (const [namespace, names] of byNamespace) {
        const d = deployments.find(
          (x) => x.namespace === namespace && (!x.oidcIssuerUrl || x.oidcIssuerUrl.replace(/\/+$/, "") === issuerUrl),
        );
        if (!d) {
          webElsewhere = true;
          continue;
        }
        const wide = operator === "StringLike" && names.includes("*");
        const trust = {
          kind: "webIdentity",
          issuerUrl,
          namespace,
          ...(wide ? { namespaceWide: true } : { serviceAccountNames: names }),
        };
        mentions.push({ who: `service accounts of namespace ${namespace}`, deployment: d.name, ...plan(trust) });
      }
    }
  }
  return { mentions, webElsewhere };
}

/** How a hand-made statement differs from the one this resource writes, the trusted entries aside. */
function howUnlike(s: PolicyStatement, ours: PolicyStatement, entryPath: string[]): string[] {
  const theirs = withEntriesAt({ ...s, Sid: undefined }, entryPath, []) as Record<string, unknown>;
  const template = withEntriesAt({ ...ours, Sid: undefined }, entryPath, []) as Record<string, unknown>;
  const reasons: string[] = [];
  if ((theirs.Effect ?? "Allow") !== template.Effect) reasons.push(`is a ${String(theirs.Effect)} statement`);
  const actions = (x: unknown) => [x ?? []].flat().map(String).sort();
  const [theirActions, ourActions] = [actions(theirs.Action), actions(template.Action)];
  if (theirActions.join() !== ourActions.join()) {
    const other = theirActions.filter((a) => !ourActions.includes(a));
    reasons.push(
      other.length > 0
        ? `has other actions (${other.join(", ")})`
        : `has actions ${theirActions.join(", ") || "(none)"}, not ${ourActions.join(", ")}`,
    );
  }
  const conditionKeys = (c: unknown) =>
    c !== null && typeof c === "object"
      ? Object.entries(c).flatMap(([operator, keys]) =>
          keys !== null && typeof keys === "object" ? Object.keys(keys).map((k) => `${operator} ${k}`) : [operator],
        )
      : [];
  if (JSON.stringify(theirs.Condition) !== JSON.stringify(template.Condition)) {
    const ourKeys = conditionKeys(template.Condition);
    const other = conditionKeys(theirs.Condition).filter((k) => !ourKeys.includes(k));
    reasons.push(
      template.Condition === undefined
        ? `has conditions (${conditionKeys(theirs.Condition).join(", ")})`
        : other.length > 0
          ? `has other conditions (${other.join(", ")})`
          : "has conditions unlike the ones this resource writes",
    );
  }
  const principalKinds = (p: unknown) => (p !== null && typeof p === "object" ? Object.keys(p) : [String(p)]);
  const otherKinds = principalKinds(theirs.Principal).filter((k) => !principalKinds(template.Principal).includes(k));
  if (otherKinds.length > 0) reasons.push(`also trusts ${otherKinds.join(", ")} principals`);
  for (const key of Object.keys(theirs)) {
    if (!["Sid", "Effect", "Action", "Principal", "Condition"].includes(key) && theirs[key] !== undefined) {
      reasons.push(`has ${key}`);
    }
  }
  return reasons.length > 0 ? reasons : ["not in the shape this resource writes"];
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
  out: Findings,
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
      `service account ${email}`,
    );
  const note = (members: string) =>
    options.takeOver
      ? `takes over the hand-made member ${members}: it goes on destroy (adoptExistingMembers)`
      : `the member ${members} exists already: the resource keeps it, and leaves it on destroy`;

  const leftOut = (d: DeploymentRef, what: string) => {
    out.unmatched.push({ where, what });
    out.leftOutFor.add(d.name);
  };

  for (const d of deployments) {
    const member = d.identity ? `serviceAccount:${d.identity}` : undefined;
    if (!member) continue;
    for (const b of bindings.filter((b) => b.condition && (b.members ?? []).includes(member))) {
      leftOut(
        d,
        `conditional binding of ${b.role} for ${d.identity}: left out: has conditions (${conditionOf(b)}); this resource writes unconditional bindings only`,
      );
    }
    const roles = bindings.filter((b) => !b.condition && (b.members ?? []).includes(member)).map((b) => b.role ?? "");
    if (email) {
      for (const other of roles.filter((r) => r !== TOKEN_CREATOR)) {
        leftOut(
          d,
          `${d.identity} has ${other} on it: left out: on a service account this resource grants ${TOKEN_CREATOR} (impersonation), or ${WORKLOAD_IDENTITY_USER} to Kubernetes service accounts`,
        );
      }
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
      leftOut(d, `${d.identity} also has ${other}: left out: a resource grants one role, and ${role} is taken`);
    }
    const found = connectionFor(
      pool,
      d,
      (x) => gcpConnection(x) && x.extra.project === project && !x.extra.impersonation_chain,
      connectionIdFrom("google_cloud", project!),
      ["project", "impersonation_chain"],
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

  reportUnrelatedBindings(where, bindings, deployments, email !== undefined, out);
  if (!email) return;
  // Customer-managed identity: the namespace's Kubernetes service accounts act as the service account.
  const byNamespace = new Map<string, { pool: string; names: string[] }>();
  for (const b of bindings.filter((b) => b.role === WORKLOAD_IDENTITY_USER)) {
    for (const m of b.members ?? []) {
      const parsed = m.match(KUBERNETES_MEMBER);
      if (!parsed) continue;
      const [, workloadPool, namespace, ksa] = parsed as unknown as [string, string, string, string];
      if (b.condition) {
        const d = deployments.find((x) => x.namespace === namespace);
        if (d) {
          leftOut(
            d,
            `conditional binding of ${WORKLOAD_IDENTITY_USER} for ${namespace}/${ksa}: left out: has conditions (${conditionOf(b)}); this resource writes unconditional bindings only`,
          );
        }
        continue;
      }
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

const KUBERNETES_MEMBER = /^serviceAccount:([a-z0-9-]+\.svc\.id\.goog)\[([a-z0-9-]+)\/([a-z0-9.-]+)\]$/;

function conditionOf(b: IamBinding): string {
  return b.condition?.title ? `"${b.condition.title}"` : (b.condition?.expression ?? "a condition");
}

/**
 * Bindings that grant nothing to a Deployment given (their members are people, other service
 * accounts, other namespaces' Kubernetes service accounts) are left as they are, and said so once.
 */
function reportUnrelatedBindings(
  where: string,
  bindings: IamBinding[],
  deployments: DeploymentRef[],
  serviceAccount: boolean,
  out: Findings,
) {
  // Kubernetes service accounts in Workload Identity User on a service account are reported by namespace.
  const ours = (b: IamBinding, member: string) =>
    deployments.some((d) => d.identity !== undefined && member === `serviceAccount:${d.identity}`) ||
    (serviceAccount && b.role === WORKLOAD_IDENTITY_USER && KUBERNETES_MEMBER.test(member));
  const unrelated = bindings.filter((b) => !(b.members ?? []).some((m) => ours(b, m)));
  if (unrelated.length === 0) return;
  const roles = unrelated.map((b) => `${b.role}${b.condition ? " (conditional)" : ""}`);
  const shown = roles.length > 5 ? `${roles.slice(0, 5).join(", ")} and ${roles.length - 5} more` : roles.join(", ");
  out.unmatched.push({
    where,
    what: `${unrelated.length} binding${unrelated.length > 1 ? "s" : ""} (${shown}) grant${unrelated.length > 1 ? "" : "s"} nothing to a Deployment given: left as ${unrelated.length > 1 ? "they are" : "it is"}`,
  });
}

// -------------------------------------------------------------------------------------------- Azure

function matchAzureIdentity(
  identity: Inventory["azureIdentities"][number],
  deployments: DeploymentRef[],
  pool: ConnectionPool,
  out: Findings,
) {
  const name = identity.id.split("/").pop()!;
  const where = `managed identity ${name}`;
  pool.markRelevant((x) => x.conn_type === "azure" && x.extra.managed_identity_client_id === identity.clientId);
  const groups = new Map<string, { issuer: string; namespace: string; names: string[]; credentials: string[] }>();
  /** Credentials that federate no Kubernetes service account (a CI system's, say). */
  const others: string[] = [];
  for (const c of identity.credentials) {
    if (c.name.startsWith(CREDENTIAL_PREFIX)) {
      out.alreadyManaged.push(`${where}, credential ${c.name}`);
      continue;
    }
    const m = c.subject.match(SUBJECT);
    if (!m) {
      others.push(c.name);
      continue;
    }
    const [, namespace, , serviceAccount] = m as unknown as [string, string, string, string];
    if (!c.audiences.includes(AUDIENCE)) {
      const d = deployments.find((x) => x.namespace === namespace);
      if (!d) others.push(c.name);
      else {
        out.unmatched.push({
          where,
          what: `credential ${c.name} federates ${namespace}/${serviceAccount}: left out: its audiences (${c.audiences.join(", ")}) are not ${AUDIENCE}`,
        });
        out.leftOutFor.add(d.name);
      }
      continue;
    }
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
  if (others.length > 0) {
    out.unmatched.push({
      where,
      what: `credential${others.length > 1 ? "s" : ""} ${others.join(", ")} federate${others.length > 1 ? "" : "s"} no Deployment given: left as ${others.length > 1 ? "they are" : "it is"}`,
    });
  }
}
