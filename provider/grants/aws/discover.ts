import type { ConnectionPool, DeploymentRef, Findings, LiveConnection, MatchOptions } from "../../core/discovery";
import { SUBJECT, connectionFor, connectionIdFrom, resourceName, serviceAccountsArg } from "../../core/discovery";
import type { CloudDiscoverer } from "../../core/discovery";
import { AwsIamTrustDriver } from "./driver";
import { isOwnedSid, planAwsGrant, roleNameOf } from "./plan";
import { RESERVED_AWS_EXTRA_KEYS } from "./schema";
import { PolicyStatement, TrustPolicy, entriesAt, handMadeTwins, statementsOf, withEntriesAt } from "./trustPolicy";

const WEB_IDENTITY_METHOD = "assume_role_with_web_identity";

/** Discovery in AWS: hand-made statements in the trust policies of the roles given that trust a Deployment. */
export const awsDiscoverer: CloudDiscoverer<unknown, { arn: string; policy: TrustPolicy }> = {
  async read(targets) {
    const roles = targets["aws-role"] ?? [];
    const driver = roles.length > 0 ? new AwsIamTrustDriver() : undefined;
    return Promise.all(roles.map((role) => driver!.trustPolicy(role)));
  },
  match: (role, deployments, pool, options, out) => matchAwsRole(role, deployments, pool, options, out),
};

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
