import fc from "fast-check";
import { describe, expect, it, vi } from "vitest";
import { describeFailure } from "../../provider/core/checkFailure";
import { AuthorizationError } from "../../provider/core/errors";
import { createProvider } from "../../provider/core/provider";
import { UNKNOWN } from "../../provider/core/unknown";
import { GRANT_PLANNERS } from "../../provider/grants";
import { SID_PREFIX, ownedGrantOf, planAwsGrant } from "../../provider/grants/aws/plan";
import type { AwsInput } from "../../provider/grants/aws/schema";
import {
  NO_TRUST_SID,
  PolicyStatement,
  PolicyValue,
  TrustPolicy,
  statementsOf,
  withGrant,
  withoutGrant,
} from "../../provider/grants/aws/trustPolicy";
import type { AwsGrant } from "../../provider/grants/aws/types";
import { AzureFederationDriver } from "../../provider/grants/azure/driver";
import {
  AUDIENCE,
  AzureGrant,
  AzureResolved,
  CREDENTIAL_PREFIX,
  FederatedCredential,
  credentialName,
  planAzureGrant,
} from "../../provider/grants/azure/plan";
import type { AzureInput } from "../../provider/grants/azure/schema";
import { GcpGrant, GcpResolved, preExisting, staleGcpGrant } from "../../provider/grants/gcp/plan";
import { IamBinding, IamPolicy, liveMembers, withMembers, withoutMembers } from "../../provider/grants/gcp/policy";
import { authorizationInputsSchema, parseInputs } from "../../provider/inputs";
import { AKS_ISSUER, AZURE_IDENTITY, azureInputs, gcpInputs, rawInputs, trustInputs } from "../support/fixtures";

/**
 * Properties over random foreign documents and random sequences of our edits. fast-check prints the
 * seed, the path and the shrunk counterexample of a failure; `fc.assert(..., { seed, path })` replays it.
 * `npm test` runs one fixed seed, so that a run is repeatable; PROPERTY_SEED=<n> runs another one,
 * PROPERTY_SEED=random a new one each time (and PROPERTY_RUNS=<factor> more runs of each property).
 */
const seedSetting = process.env.PROPERTY_SEED ?? "20261201";
fc.configureGlobal({
  ...(seedSetting === "random" ? {} : { seed: Number(seedSetting) }),
  numRuns: 100 * Number(process.env.PROPERTY_RUNS ?? 1),
});
const runs = (n: number) => n * Number(process.env.PROPERTY_RUNS ?? 1);
vi.setConfig({ testTimeout: runs(10_000) });

/** Keys in a random order: foreign documents must come back byte for byte, whatever order they use. */
function shuffledKeys<T extends object>(value: T, ranks: readonly number[]): T {
  const entries = Object.entries(value).filter(([, v]) => v !== undefined);
  const ordered = entries
    .map((entry, i) => ({ entry, rank: ranks[i % Math.max(ranks.length, 1)] ?? i }))
    .sort((a, b) => a.rank - b.rank)
    .map((e) => e.entry);
  return Object.fromEntries(ordered) as T;
}

const ranks = fc.array(fc.nat(20), { minLength: 8, maxLength: 8 });

const oneOrMany = <T>(arb: fc.Arbitrary<T>) => fc.oneof(arb, fc.uniqueArray(arb, { minLength: 1, maxLength: 3 }));

// ---------------------------------------------------------------------------------------------
// AWS trust policies
// ---------------------------------------------------------------------------------------------

const ROLE_ACCOUNT = "123456789012";
const TARGET_ROLE = `arn:aws:iam::${ROLE_ACCOUNT}:role/data-reader`;
const DEPLOYMENT_ROLES = [
  "arn:aws:iam::111122223333:role/astro-celestial-galaxy-1234",
  "arn:aws:iam::111122223333:role/astro-stellar-nebula-5678",
  "arn:aws:iam::444455556666:role/astro-dark-matter-0001",
];
const WEB_ISSUERS = [
  "https://oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B71",
  "https://oidc.eks.eu-central-1.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF/",
];
const NAMESPACES = ["celestial-galaxy-1234", "stellar-nebula-5678"];
const COMPONENTS = ["scheduler", "worker", "triggerer", "dag-processor", "webserver", "api-server", "kpo"] as const;
const DEFAULT_COMPONENTS = ["scheduler", "worker", "triggerer", "dag-processor", "kpo"] as const;

const NO_TRUST_STATEMENT: PolicyStatement = {
  Sid: NO_TRUST_SID,
  Effect: "Deny",
  Principal: { AWS: "*" },
  Action: "sts:AssumeRole",
};

type AwsSpec =
  | { kind: "deploymentRole"; identity: string }
  | { kind: "clusterRole"; clusterRoleArn: string }
  | { kind: "clusterRole"; account: string; clusterId: string }
  | {
      kind: "webIdentity";
      issuer: string;
      namespace: string;
      namespaceWide: boolean;
      components?: Array<(typeof COMPONENTS)[number]>;
      names?: string[];
    };

const awsSpec: fc.Arbitrary<AwsSpec> = fc.oneof(
  fc.record({ kind: fc.constant("deploymentRole" as const), identity: fc.constantFrom(...DEPLOYMENT_ROLES) }),
  fc.record({
    kind: fc.constant("clusterRole" as const),
    // The same ARN as a deploymentRole principal on purpose: one entry, two kinds of grant.
    clusterRoleArn: fc.constantFrom("arn:aws:iam::999988887777:role/AirflowS3Logs-clv1abc", DEPLOYMENT_ROLES[0]!),
  }),
  fc.record({
    kind: fc.constant("clusterRole" as const),
    account: fc.constantFrom("999988887777", "111122223333"),
    clusterId: fc.constantFrom("clv1abc", "clv2def"),
  }),
  fc.record(
    {
      kind: fc.constant("webIdentity" as const),
      issuer: fc.constantFrom(...WEB_ISSUERS),
      namespace: fc.constantFrom(...NAMESPACES),
      namespaceWide: fc.boolean(),
      components: fc.subarray([...COMPONENTS], { minLength: 1 }),
      names: fc.uniqueArray(fc.constantFrom("reader", "etl-runner", "kpo"), { minLength: 1, maxLength: 3 }),
    },
    { requiredKeys: ["kind", "issuer", "namespace", "namespaceWide"] },
  ),
);

function awsInputOf(spec: AwsSpec): { input: AwsInput; workloadIdentity?: string } {
  const base = { targetRole: TARGET_ROLE, region: "us-east-1" };
  switch (spec.kind) {
    case "deploymentRole":
      return { input: { ...base, trust: { kind: "deploymentRole" } }, workloadIdentity: spec.identity };
    case "clusterRole":
      return {
        input: {
          ...base,
          trust:
            "clusterRoleArn" in spec
              ? { kind: "clusterRole", clusterRoleArn: spec.clusterRoleArn }
              : { kind: "clusterRole", dataPlaneAccountId: spec.account, clusterId: spec.clusterId },
        },
      };
    case "webIdentity": {
      const wide = spec.namespaceWide;
      return {
        input: {
          ...base,
          trust: {
            kind: "webIdentity",
            issuerUrl: spec.issuer,
            namespace: spec.namespace,
            ...(wide ? { namespaceWide: true } : {}),
            ...(!wide && spec.names ? { serviceAccountNames: spec.names } : {}),
            ...(!wide && !spec.names && spec.components ? { serviceAccounts: spec.components } : {}),
          },
        },
      };
    }
  }
}

/** What the statement that holds a spec's entries must look like, written out from IAM's documentation. */
interface StatementModel {
  key: string;
  entries: (spec: AwsSpec) => string[];
  statement: (entries: string[]) => PolicyStatement;
}

const single = (entries: string[]): PolicyValue => (entries.length === 1 ? entries[0]! : entries);

function statementModel(spec: AwsSpec): StatementModel {
  if (spec.kind !== "webIdentity") {
    return {
      key: "assumeRole",
      entries: (s) =>
        s.kind === "deploymentRole"
          ? [s.identity]
          : "clusterRoleArn" in s
            ? [s.clusterRoleArn]
            : s.kind === "clusterRole"
              ? [`arn:aws:iam::${s.account}:role/AirflowS3Logs-${s.clusterId}`]
              : [],
      statement: (entries) => ({
        Sid: `${SID_PREFIX}AssumeRole`,
        Effect: "Allow",
        Principal: { AWS: single(entries) },
        Action: "sts:AssumeRole",
      }),
    };
  }
  const hostPath = spec.issuer.replace(/^https:\/\//, "").replace(/\/+$/, "");
  const operator = spec.namespaceWide ? "StringLike" : "StringEquals";
  return {
    key: `${hostPath} ${operator}`,
    entries: (s) => {
      if (s.kind !== "webIdentity") return [];
      const ns = s.namespace;
      if (s.namespaceWide) return [`system:serviceaccount:${ns}:*`];
      const names =
        s.names ??
        (s.components ?? DEFAULT_COMPONENTS).map((c) => (c === "kpo" ? `${ns}-kpo` : `${ns}-${c}-serviceaccount`));
      return names.map((n) => `system:serviceaccount:${ns}:${n}`);
    },
    statement: (entries) => {
      const aud = { [`${hostPath}:aud`]: "sts.amazonaws.com" };
      const sub = { [`${hostPath}:sub`]: single(entries) };
      const Condition: PolicyValue = spec.namespaceWide
        ? { StringEquals: aud, StringLike: sub }
        : { StringEquals: { ...aud, ...sub } };
      return {
        Sid: "(the grant's)",
        Effect: "Allow",
        Principal: { Federated: `arn:aws:iam::${ROLE_ACCOUNT}:oidc-provider/${hostPath}` },
        Action: "sts:AssumeRoleWithWebIdentity",
        Condition,
      };
    },
  };
}

const foreignSid = fc
  .oneof(
    fc.stringMatching(/^[A-Za-z0-9]{1,20}$/),
    // Near misses of our prefix: ownership is the exact prefix, case included.
    fc.constantFrom("AirflowD", "airflowDAAssumeRole", "AIRFLOWDANoTrust", "XAirflowDAAssumeRole", "AssumeRole"),
  )
  .filter((sid) => !sid.startsWith(SID_PREFIX));

const awsPrincipalArn = fc.constantFrom(
  "*",
  "arn:aws:iam::444455556666:root",
  "444455556666",
  "arn:aws:iam::444455556666:user/alice",
  "arn:aws:sts::444455556666:assumed-role/admin/session",
  TARGET_ROLE,
  ...DEPLOYMENT_ROLES,
);
const principal: fc.Arbitrary<PolicyValue> = fc.oneof(
  fc.constant("*"),
  fc.record({ AWS: oneOrMany(awsPrincipalArn) }),
  fc.record({
    Service: oneOrMany(fc.constantFrom("ec2.amazonaws.com", "lambda.amazonaws.com", "ecs-tasks.amazonaws.com")),
  }),
  fc.record({
    Federated: oneOrMany(
      fc.constantFrom(
        "cognito-identity.amazonaws.com",
        "accounts.google.com",
        "arn:aws:iam::123456789012:saml-provider/ADFS",
        `arn:aws:iam::${ROLE_ACCOUNT}:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B71`,
      ),
    ),
  }),
  fc.record({ CanonicalUser: fc.stringMatching(/^[0-9a-f]{64}$/) }),
  fc.record({ AWS: oneOrMany(awsPrincipalArn), Service: fc.constant("ec2.amazonaws.com") }),
);
const action = oneOrMany(
  fc.constantFrom(
    "sts:AssumeRole",
    "sts:AssumeRoleWithWebIdentity",
    "sts:AssumeRoleWithSAML",
    "sts:TagSession",
    "sts:SetSourceIdentity",
    "sts:*",
  ),
);
const conditionKey = fc.constantFrom(
  "aws:PrincipalOrgID",
  "sts:ExternalId",
  "aws:SourceIp",
  "saml:aud",
  "aws:MultiFactorAuthPresent",
  // Our own condition keys in someone else's statement.
  "oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B71:sub",
  "oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B71:aud",
);
const conditionValue: fc.Arbitrary<PolicyValue> = fc.oneof(
  oneOrMany(
    fc.oneof(
      fc.constantFrom("o-a1b2c3d4e5", "sts.amazonaws.com", "system:serviceaccount:celestial-galaxy-1234:*", "true"),
      fc.string({ maxLength: 12, unit: "grapheme" }),
    ),
  ),
  fc.boolean(),
  fc.integer(),
);
const condition = fc.dictionary(
  fc.constantFrom(
    "StringEquals",
    "StringLike",
    "StringNotEquals",
    "StringEqualsIfExists",
    "ForAnyValue:StringLike",
    "ArnLike",
    "Bool",
    "NumericLessThan",
    "IpAddress",
    "DateGreaterThan",
    "Null",
  ),
  fc.dictionary(conditionKey, conditionValue, { minKeys: 1, maxKeys: 3 }),
  { minKeys: 1, maxKeys: 3 },
);

const foreignStatement: fc.Arbitrary<PolicyStatement> = fc
  .record({
    Sid: fc.option(foreignSid, { nil: undefined }),
    Effect: fc.constantFrom("Allow", "Deny"),
    principalKey: fc.constantFrom("Principal", "NotPrincipal"),
    principal,
    actionKey: fc.constantFrom("Action", "NotAction"),
    action,
    Condition: fc.option(condition, { nil: undefined }),
    ranks,
  })
  .map(({ Sid, Effect, principalKey, principal, actionKey, action, Condition, ranks }) => {
    const statement: PolicyStatement = { Sid, Effect, [principalKey]: principal, [actionKey]: action, Condition };
    return shuffledKeys(statement, ranks);
  });

interface ForeignTrust {
  policy: TrustPolicy;
  statements: PolicyStatement[];
  noTrust: boolean;
}

const foreignTrust: fc.Arbitrary<ForeignTrust> = fc
  .record({
    statements: fc.array(foreignStatement, { maxLength: 5 }),
    Version: fc.option(fc.constantFrom("2012-10-17", "2008-10-17"), { nil: undefined }),
    Id: fc.option(fc.stringMatching(/^[A-Za-z0-9-]{1,16}$/), { nil: undefined }),
    asObject: fc.boolean(),
    // A role that a removal left with the no-trust statement, or (read as "{}") no statement at all.
    empty: fc.constantFrom("noTrust", "none"),
    ranks,
  })
  .map(({ statements, Version, Id, asObject, empty, ranks }) => {
    const noTrust = statements.length === 0 && empty === "noTrust";
    const Statement =
      statements.length === 1 && asObject
        ? statements[0]!
        : statements.length > 0
          ? statements
          : noTrust
            ? [NO_TRUST_STATEMENT]
            : undefined;
    return { policy: shuffledKeys({ Version, Id, Statement }, ranks), statements, noTrust };
  });

const isOurs = (s: PolicyStatement) => typeof s.Sid === "string" && s.Sid.startsWith(SID_PREFIX);

/** Our part of the policy, by statement key: its Sid and its entries in order, in the order statements were added. */
type AwsModel = Map<string, { sid: string; model: StatementModel; entries: string[] }>;

function expectTrustMatches(
  policy: TrustPolicy,
  foreign: ForeignTrust,
  model: AwsModel,
  state: { noTrust: boolean; written: boolean },
) {
  const statements = statementsOf(policy);
  // Every foreign statement as it was, byte for byte, in its order.
  expect(statements.filter((s) => !isOurs(s)).map((s) => JSON.stringify(s))).toEqual(
    foreign.statements.map((s) => JSON.stringify(s)),
  );
  const ours = statements.filter((s) => isOurs(s) && s.Sid !== NO_TRUST_SID);
  const expected = [...model.values()].map(({ sid, model: m, entries }) => ({ ...m.statement(entries), Sid: sid }));
  expect(ours).toEqual(expected);
  const noTrust = statements.filter((s) => s.Sid === NO_TRUST_SID);
  expect(noTrust).toEqual(state.noTrust ? [NO_TRUST_STATEMENT] : []);
  if (state.noTrust) expect(statements).toHaveLength(1);
  // Other top-level keys as they were; a Version only appears once we wrote a statement.
  for (const key of Object.keys(foreign.policy)) {
    if (key !== "Statement" && key !== "Version") {
      expect(JSON.stringify(policy[key])).toBe(JSON.stringify(foreign.policy[key]));
    }
  }
  expect(policy.Version).toBe(foreign.policy.Version ?? (state.written ? "2012-10-17" : undefined));
  expect(Object.keys(policy).filter((k) => !(k in foreign.policy) && k !== "Statement" && k !== "Version")).toEqual([]);
}

describe("AWS trust policy edits, over random foreign policies and random grant sequences", () => {
  const ops = fc.array(fc.record({ add: fc.boolean(), grant: fc.nat() }), { maxLength: 25 });

  it("keeps foreign statements byte for byte and our part equal to a model; removing all of ours restores them", () => {
    fc.assert(
      fc.property(
        foreignTrust,
        fc.uniqueArray(awsSpec, { minLength: 1, maxLength: 6, selector: (s) => JSON.stringify(s) }),
        ops,
        fc.array(fc.nat(), { minLength: 6, maxLength: 6 }),
        (foreign, specs, steps, cleanup) => {
          const snapshot = JSON.stringify(foreign.policy);
          const grants: AwsGrant[] = specs.map((spec) => {
            const { input, workloadIdentity } = awsInputOf(spec);
            return planAwsGrant(input, { owner: "p/s/r", ...(workloadIdentity ? { workloadIdentity } : {}) });
          });
          // The Sid of a statement key, as the plan names it: one per key, never shared between keys.
          const sids = new Map<string, string>();
          specs.forEach((spec, i) => {
            const key = statementModel(spec).key;
            const sid = grants[i]!.sid;
            expect(sid.startsWith(SID_PREFIX)).toBe(true);
            expect(sids.get(key) ?? sid).toBe(sid);
            sids.set(key, sid);
            expect(grants[i]!.entries).toEqual(statementModel(spec).entries(spec));
          });
          expect(new Set(sids.values()).size).toBe(sids.size);

          const model: AwsModel = new Map();
          const state = { noTrust: foreign.noTrust, written: false };
          let policy = foreign.policy;
          const step = (add: boolean, index: number) => {
            const spec = specs[index]!;
            const grant = grants[index]!;
            const m = statementModel(spec);
            const wanted = m.entries(spec);
            const live = model.get(m.key);
            let changed: boolean;
            if (add) {
              const added = wanted.filter((e) => !live?.entries.includes(e));
              changed = !live || added.length > 0;
              if (!live) model.set(m.key, { sid: grant.sid, model: m, entries: wanted });
              else live.entries = [...live.entries, ...added];
              // As the driver's ensure gets it: the planned statement.
              const next = withGrant(policy, { ...grant, statement: grant.statement! });
              expect(next === policy).toBe(!changed);
              policy = next;
            } else {
              const kept = live?.entries.filter((e) => !wanted.includes(e));
              changed = live !== undefined && kept!.length < live.entries.length;
              if (live && kept!.length === 0) model.delete(m.key);
              else if (live) live.entries = kept!;
              // As the driver's remove gets it: only the entries state holds.
              const next = withoutGrant(policy, ownedGrantOf(grant));
              expect(next === policy).toBe(!changed);
              policy = next;
            }
            if (changed) {
              state.written ||= add;
              state.noTrust = foreign.statements.length === 0 && model.size === 0;
            }
            expectTrustMatches(policy, foreign, model, state);
          };

          for (const { add, grant } of steps) step(add, grant % specs.length);
          const order = specs.map((_, i) => i).sort((a, b) => cleanup[a]! - cleanup[b]! || a - b);
          for (const i of order) step(false, i);

          expect(model.size).toBe(0);
          expect(statementsOf(policy).map((s) => JSON.stringify(s))).toEqual(
            foreign.statements.length > 0
              ? foreign.statements.map((s) => JSON.stringify(s))
              : state.noTrust
                ? [JSON.stringify(NO_TRUST_STATEMENT)]
                : [],
          );
          expect(JSON.stringify(foreign.policy)).toBe(snapshot);
        },
      ),
      { numRuns: runs(300) },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// GCP IAM policies
// ---------------------------------------------------------------------------------------------

const EDITED_ROLES = [
  "roles/bigquery.dataViewer",
  "roles/iam.serviceAccountTokenCreator",
  "roles/iam.workloadIdentityUser",
];
const OUR_MEMBERS = [
  "serviceAccount:astro-celestial-galaxy-1234@astronomer-prod.iam.gserviceaccount.com",
  "serviceAccount:astro-stellar-nebula-5678@astronomer-prod.iam.gserviceaccount.com",
  "serviceAccount:astronomer-prod.svc.id.goog[celestial-galaxy-1234/celestial-galaxy-1234-worker-serviceaccount]",
  "serviceAccount:astronomer-prod.svc.id.goog[celestial-galaxy-1234/celestial-galaxy-1234-kpo]",
  "user:alice@example.com",
];

const gcpMember = fc.oneof(
  fc.constantFrom(
    "user:alice@example.com",
    "user:bob@example.com",
    "group:analysts@example.com",
    "domain:example.com",
    "allUsers",
    "allAuthenticatedUsers",
    "serviceAccount:etl@customer-data.iam.gserviceaccount.com",
    "principal://iam.googleapis.com/projects/123456/locations/global/workloadIdentityPools/pool/subject/alice",
    "principalSet://iam.googleapis.com/projects/123456/locations/global/workloadIdentityPools/pool/group/admins",
    "deleted:user:carol@example.com?uid=123456789012345678901",
    "deleted:serviceAccount:old@customer-data.iam.gserviceaccount.com?uid=109876543210987654321",
    "deleted:group:former@example.com?uid=555555555555555555555",
    "projectOwner:customer-data",
  ),
  // Members we grant, already in foreign bindings: pre-existing for us.
  fc.constantFrom(...OUR_MEMBERS),
  fc
    .tuple(fc.constantFrom("user:", "group:", "serviceAccount:", "domain:"), fc.stringMatching(/^[a-z0-9.@-]{1,16}$/))
    .map(([prefix, rest]) => prefix + rest),
);

const gcpBinding = (roles: fc.Arbitrary<string>): fc.Arbitrary<IamBinding> =>
  fc
    .record({
      role: roles,
      members: fc.uniqueArray(gcpMember, { minLength: 1, maxLength: 4 }),
      condition: fc.option(
        fc
          .record(
            {
              expression: fc.constantFrom(
                "request.time.getDayOfWeek() < 5",
                'resource.name.startsWith("projects/_/buckets/logs")',
                "request.time < timestamp('2030-01-01T00:00:00Z')",
              ),
              title: fc.string({ minLength: 1, maxLength: 10, unit: "grapheme" }),
              description: fc.string({ maxLength: 10 }),
              ranks,
            },
            { requiredKeys: ["expression", "title", "ranks"] },
          )
          .map(({ ranks, ...c }) => shuffledKeys(c, ranks)),
        { nil: undefined },
      ),
      ranks,
    })
    .map(({ ranks, ...b }) => shuffledKeys(b, ranks));

interface ForeignIam {
  role: string;
  policy: IamPolicy;
}

const foreignIam: fc.Arbitrary<ForeignIam> = fc.constantFrom(...EDITED_ROLES).chain((role) =>
  fc
    .record({
      bindings: fc.array(
        gcpBinding(fc.oneof(fc.constant(role), fc.constantFrom("roles/owner", "projects/customer-data/roles/custom"))),
        { maxLength: 6 },
      ),
      version: fc.option(fc.constantFrom(1, 3), { nil: undefined }),
      etag: fc.option(fc.base64String({ minLength: 4, maxLength: 12 }), { nil: undefined }),
      auditConfigs: fc.option(
        fc.constant<NonNullable<IamPolicy["auditConfigs"]>>([
          { service: "allServices", auditLogConfigs: [{ logType: "DATA_READ" }, { logType: "ADMIN_READ" }] },
        ]),
        { nil: undefined },
      ),
      ranks,
    })
    .map(({ bindings, ranks, ...rest }) => ({
      role,
      policy: shuffledKeys({ ...rest, bindings: bindings.length > 0 ? bindings : undefined }, ranks),
    })),
);

/** A resource of ours on the role: what state holds after its last apply. */
interface GcpResource {
  grant: GcpGrant;
  resolved: GcpResolved;
}

function gcpGrant(role: string, members: string[]): GcpGrant {
  return {
    cloud: "gcp",
    mode: "projectRole",
    resource: "projects/customer-data",
    role,
    members,
    binding: { role, members },
  };
}

/** The driver's ensure, over a policy in memory: add what is missing, record what was there before. */
function gcpEnsure(policy: IamPolicy, grant: GcpGrant, previous?: GcpResource) {
  const presentBefore = liveMembers(policy, grant.role, grant.members);
  return {
    policy: withMembers(policy, grant.role, grant.members),
    resolved: { preExistingMembers: preExisting(grant, presentBefore, previous) },
  };
}

/** The driver's remove: its own members only, never the ones recorded as pre-existing. */
function gcpRemove(policy: IamPolicy, grant: GcpGrant, resolved: GcpResolved): IamPolicy {
  const keep = new Set(resolved.preExistingMembers ?? []);
  const ours = grant.members.filter((m) => !keep.has(m));
  return ours.length === 0 ? policy : withoutMembers(policy, grant.role, ours);
}

describe("GCP IAM policy edits, over random foreign policies and random resource lifecycles", () => {
  const ops = fc.array(
    fc.record({
      resource: fc.nat(2),
      remove: fc.boolean(),
      members: fc.subarray(OUR_MEMBERS, { minLength: 1 }),
    }),
    { maxLength: 20 },
  );

  it("keeps foreign bindings and members as they were, never removes pre-existing members, and holds exactly what we own", () => {
    fc.assert(
      fc.property(foreignIam, ops, ({ role, policy: original }, steps) => {
        const snapshot = JSON.stringify(original);
        const isEdited = (b: IamBinding) => b.role === role && !b.condition;
        const foreignMembers = (original.bindings ?? []).filter(isEdited).flatMap((b) => b.members ?? []);
        const foreignSet = new Set(foreignMembers);
        const otherBindings = (original.bindings ?? []).filter((b) => !isEdited(b)).map((b) => JSON.stringify(b));

        // Who put each member we hold there: the resource whose apply found it absent.
        const owned = new Map<number, string[]>();
        const granted = new Map<number, string[]>();
        const live = new Map<number, GcpResource>();
        const ownerOf = (m: string) => [...owned.entries()].find(([, ms]) => ms.includes(m))?.[0];
        let order: string[] = [];
        let policy = original;

        for (const { resource, remove, members } of steps) {
          const present = (m: string) => foreignSet.has(m) || ownerOf(m) !== undefined;
          const state = live.get(resource);
          if (remove) {
            if (!state) continue;
            policy = gcpRemove(policy, state.grant, state.resolved);
            const dropped = owned.get(resource) ?? [];
            order = order.filter((m) => !dropped.includes(m));
            owned.delete(resource);
            granted.delete(resource);
            live.delete(resource);
          } else {
            const grant = gcpGrant(role, members);
            const mine = owned.get(resource) ?? [];
            const nowMine = members.filter((m) => mine.includes(m) || !present(m));
            order = [...order, ...members.filter((m) => !present(m))];
            const ensured = gcpEnsure(policy, grant, state);
            policy = ensured.policy;
            if (state) {
              // An update: take back what the old grant had and the new one has not, as the lifecycle does.
              const stale = staleGcpGrant(state.grant, grant);
              if (stale) policy = gcpRemove(policy, stale, state.resolved);
              const dropped = mine.filter((m) => !members.includes(m));
              order = order.filter((m) => !dropped.includes(m));
            }
            owned.set(resource, nowMine);
            granted.set(resource, members);
            live.set(resource, { grant, resolved: ensured.resolved });
          }

          const bindings = policy.bindings ?? [];
          expect(bindings.filter((b) => !isEdited(b)).map((b) => JSON.stringify(b))).toEqual(otherBindings);
          const held = bindings.filter(isEdited).flatMap((b) => b.members ?? []);
          expect(held.filter((m) => foreignSet.has(m))).toEqual(foreignMembers);
          expect(held.filter((m) => !foreignSet.has(m))).toEqual(order);
          for (const [r, { resolved }] of live) {
            const mine = owned.get(r) ?? [];
            expect(new Set(resolved.preExistingMembers)).toEqual(
              new Set((granted.get(r) ?? []).filter((m) => !mine.includes(m))),
            );
          }
          for (const key of ["version", "etag", "auditConfigs"] as const) {
            expect(JSON.stringify(policy[key])).toBe(JSON.stringify(original[key]));
          }
        }

        for (const [, state] of live) policy = gcpRemove(policy, state.grant, state.resolved);
        const left = (policy.bindings ?? []).filter(isEdited).flatMap((b) => b.members ?? []);
        expect(left).toEqual(foreignMembers);
        expect(JSON.stringify(original)).toBe(snapshot);
      }),
      { numRuns: runs(300) },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Azure federated identity credentials
// ---------------------------------------------------------------------------------------------

const azure = vi.hoisted(() => {
  interface Credential {
    name: string;
    issuer: string;
    subject: string;
    audiences: string[];
  }
  const state = {
    credentials: new Map<string, Credential>(),
    assignments: new Set<string>(),
    writes: [] as Array<{ operation: "createOrUpdate" | "delete"; name: string }>,
    assignmentDeletes: 0,
  };
  const copy = (c: Credential): Credential => ({ ...c, audiences: [...c.audiences] });
  async function* each<T>(items: T[]): AsyncGenerator<T> {
    for (const item of items) yield item;
  }
  const notFound = () => Object.assign(new Error("RoleAssignmentNotFound"), { statusCode: 404 });

  /** The calls the driver makes on @azure/arm-msi, over the map above. */
  class ManagedServiceIdentityClient {
    userAssignedIdentities = {
      get: async () => ({ principalId: "principal-1", clientId: "client-1", tenantId: "tenant-1" }),
    };
    federatedIdentityCredentials = {
      list: () => each([...state.credentials.values()].map(copy)),
      createOrUpdate: async (
        _group: string,
        _identity: string,
        name: string,
        body: { issuer: string; subject: string; audiences: string[] },
      ) => {
        state.writes.push({ operation: "createOrUpdate", name });
        state.credentials.set(name, copy({ name, ...body }));
        return { name, ...body };
      },
      delete: async (_group: string, _identity: string, name: string) => {
        state.writes.push({ operation: "delete", name });
        state.credentials.delete(name);
      },
    };
  }

  /** The calls the driver makes on @azure/arm-authorization. */
  class AuthorizationManagementClient {
    roleAssignments = {
      get: async (_scope: string, name: string) => {
        if (!state.assignments.has(name)) throw notFound();
        return { name };
      },
      create: async (_scope: string, name: string) => {
        state.assignments.add(name);
        return { name };
      },
      delete: async (_scope: string, name: string) => {
        state.assignmentDeletes++;
        state.assignments.delete(name);
      },
      listForScope: () => each<{ id: string }>([]),
    };
    roleDefinitions = {
      list: () =>
        each([
          {
            id: "/subscriptions/11111111-2222-3333-4444-555555555555/providers/Microsoft.Authorization/roleDefinitions/2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
          },
        ]),
    };
  }
  return { state, ManagedServiceIdentityClient, AuthorizationManagementClient };
});

vi.mock("@azure/arm-msi", () => ({ ManagedServiceIdentityClient: azure.ManagedServiceIdentityClient }));
vi.mock("@azure/arm-authorization", () => ({ AuthorizationManagementClient: azure.AuthorizationManagementClient }));

const OTHER_AKS_ISSUER = "https://eastus.oic.prod-aks.azure.com/00000000-0000-0000-0000-000000000000/22222222/";

const azureSetup = fc.record({
  namespace: fc.constantFrom(...NAMESPACES),
  issuer: fc.constantFrom(AKS_ISSUER, OTHER_AKS_ISSUER),
  components: fc.option(fc.subarray([...COMPONENTS], { minLength: 1 }), { nil: undefined }),
  adopt: fc.boolean(),
  withRole: fc.boolean(),
  fill: fc.constantFrom("none", "under", "at", "over"),
  /** Which of our planned credentials are already live, and which of those someone altered. */
  liveOurs: fc.array(fc.constantFrom("absent", "as planned", "other audience"), { maxLength: 7 }),
  foreign: fc.uniqueArray(
    fc.record({
      name: fc.oneof(
        fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_-]{2,40}$/),
        fc.stringMatching(/^airflowda-[0-9a-f]{8}-[a-z0-9-]{3,30}$/),
        fc.constantFrom("AirflowDA-by-hand", "airflowda-", "airflowda"),
      ),
      issuer: fc.oneof(fc.constantFrom(AKS_ISSUER, OTHER_AKS_ISSUER), fc.webUrl({ validSchemes: ["https"] })),
      subject: fc.oneof(
        fc.constantFrom(
          ...NAMESPACES.flatMap((ns) => [
            `system:serviceaccount:${ns}:${ns}-worker-serviceaccount`,
            `system:serviceaccount:${ns}:${ns}-scheduler-serviceaccount`,
            `system:serviceaccount:${ns}:${ns}-kpo`,
          ]),
          "system:serviceaccount:other-ns:other-ns-worker-serviceaccount",
          "repo:octo/app:ref:refs/heads/main",
        ),
        fc.string({ minLength: 1, maxLength: 40, unit: "grapheme" }),
      ),
      audiences: fc.uniqueArray(fc.oneof(fc.constant(AUDIENCE), fc.string({ minLength: 1, maxLength: 20 })), {
        minLength: 1,
        maxLength: 3,
      }),
    }),
    { maxLength: 18, selector: (c) => c.name },
  ),
  /** Credentials another Deployment of ours federates on the same identity. */
  others: fc.subarray(
    [
      {
        issuer: OTHER_AKS_ISSUER,
        namespace: "celestial-galaxy-1234",
        ksa: "celestial-galaxy-1234-worker-serviceaccount",
      },
      { issuer: AKS_ISSUER, namespace: "other-ns", ksa: "other-ns-worker-serviceaccount" },
    ],
    { maxLength: 2 },
  ),
});

const sameIssuerAndSubject = (a: FederatedCredential, b: FederatedCredential) =>
  a.issuer === b.issuer && a.subject === b.subject;

describe("Azure federated identity credentials, over random foreign credentials on the identity", () => {
  it("writes and deletes only our credentials (and twins only when asked to adopt them)", async () => {
    await fc.assert(
      fc.asyncProperty(azureSetup, async (setup) => {
        const scope = "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/data";
        const input: AzureInput = {
          identity: AZURE_IDENTITY,
          issuerUrl: setup.issuer,
          namespace: setup.namespace,
          ...(setup.components ? { serviceAccounts: setup.components } : {}),
          ...(setup.adopt ? { adoptExistingCredentials: true } : {}),
          ...(setup.withRole ? { roleAssignment: { scope, role: "Storage Blob Data Reader" } } : {}),
        };
        const grant: AzureGrant = planAzureGrant(input);
        const ourNames = new Set(grant.credentials.map((c) => c.name));

        const others: FederatedCredential[] = setup.others.map((o) => ({
          name: credentialName(o.issuer, o.ksa),
          issuer: o.issuer,
          subject: `system:serviceaccount:${o.namespace}:${o.ksa}`,
          audiences: [AUDIENCE],
        }));
        const live: FederatedCredential[] = [];
        // A credential named as ours is ours; Entra holds one name, and one issuer and subject, once.
        const fits = (c: FederatedCredential) =>
          !ourNames.has(c.name) && !live.some((l) => l.name === c.name || sameIssuerAndSubject(l, c));
        for (const c of [...others, ...setup.foreign]) if (fits(c)) live.push(c);
        const foreign = [...live];
        grant.credentials.forEach((c, i) => {
          const how = setup.liveOurs[i] ?? "absent";
          const twin = foreign.some((f) => sameIssuerAndSubject(f, c));
          if (how === "absent" || twin) return;
          live.push({ ...c, audiences: how === "as planned" ? [...c.audiences] : ["api://other"] });
        });
        const twins = foreign.filter((f) => grant.credentials.some((c) => sameIssuerAndSubject(f, c)));
        const targetOf = (c: FederatedCredential) =>
          (setup.adopt ? twins.find((t) => sameIssuerAndSubject(t, c)) : undefined) ??
          live.find((l) => l.name === c.name);
        const adds = grant.credentials.filter((c) => targetOf(c) === undefined).length;
        // Entra's limit of 20 credentials: just under it, at it, or just over it.
        const room = { none: 0, under: 19, at: 20, over: 21 }[setup.fill] - live.length - adds;
        for (let i = 0; i < room; i++) {
          const filler = {
            name: `by-hand-${i}`,
            issuer: `https://issuer${i}.example/`,
            subject: "s",
            audiences: [AUDIENCE],
          };
          foreign.push(filler);
          live.push(filler);
        }
        // What must be written: each planned credential absent, or live in another shape.
        const expectedWrites = grant.credentials.flatMap((c) => {
          const target = targetOf(c);
          const same =
            target !== undefined && sameIssuerAndSubject(target, c) && target.audiences.join() === c.audiences.join();
          return same ? [] : [target?.name ?? c.name];
        });

        azure.state.credentials = new Map(live.map((c) => [c.name, { ...c, audiences: [...c.audiences] }]));
        azure.state.assignments = new Set();
        azure.state.writes = [];
        azure.state.assignmentDeletes = 0;

        const untouchable = foreign.filter((f) => !(setup.adopt && twins.includes(f)));
        const expectUntouched = () => {
          for (const f of untouchable) expect(azure.state.credentials.get(f.name)).toEqual(f);
        };
        const driver = new AzureFederationDriver({ accessToken: "token", baseDelayMs: 0, sleep: async () => {} });

        let resolved: AzureResolved;
        try {
          ({ resolved } = await driver.ensure(grant));
        } catch (error) {
          expect(error).toBeInstanceOf(AuthorizationError);
          const code = (error as AuthorizationError).code;
          expect(code).toBe(!setup.adopt && twins.length > 0 ? "CONFLICT" : "QUOTA_EXCEEDED");
          if (code === "QUOTA_EXCEEDED") expect(live.length + adds).toBeGreaterThan(20);
          expect(azure.state.writes).toEqual([]);
          expectUntouched();
          return;
        }
        expect(!setup.adopt && twins.length > 0).toBe(false);
        expect(live.length + adds).toBeLessThanOrEqual(20);

        const adopted = setup.adopt ? twins.map((t) => t.name) : [];
        expect([...(resolved.adoptedCredentials ?? [])].sort()).toEqual([...adopted].sort());
        for (const w of azure.state.writes) expect(ourNames.has(w.name) || adopted.includes(w.name)).toBe(true);
        expect(azure.state.writes).toEqual(expectedWrites.map((name) => ({ operation: "createOrUpdate", name })));
        expectUntouched();
        for (const c of grant.credentials) {
          const name = twins.find((t) => setup.adopt && sameIssuerAndSubject(t, c))?.name ?? c.name;
          expect(azure.state.credentials.get(name)).toEqual({ ...c, name });
        }

        azure.state.writes = [];
        await driver.remove(grant, resolved);
        for (const w of azure.state.writes) {
          expect(w.operation).toBe("delete");
          expect(ourNames.has(w.name) || adopted.includes(w.name)).toBe(true);
        }
        expectUntouched();
        expect([...azure.state.credentials.keys()].filter((n) => ourNames.has(n) || adopted.includes(n))).toEqual([]);
        if (setup.withRole) {
          // The shared assignment stays while another Deployment of ours federates with the identity.
          const otherStays = untouchable.some(
            (f) =>
              f.name.startsWith(CREDENTIAL_PREFIX) &&
              (f.issuer !== grant.issuer || !f.subject.startsWith(`system:serviceaccount:${grant.namespace}:`)),
          );
          expect(azure.state.assignmentDeletes).toBe(otherStays ? 0 : 1);
        }
      }),
      { numRuns: runs(200) },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Input validation
// ---------------------------------------------------------------------------------------------

const SECRET = "tok-3f9c1e7a-never-echoed";
const TOP_LEVEL_KEYS = new Set(Object.keys(authorizationInputsSchema.shape));

const provider = createProvider({
  planners: GRANT_PLANNERS,
  loadParser: () => parseInputs,
  makeDrivers: () => {
    throw new Error("check must not build drivers");
  },
  env: {},
});

type Path = Array<string | number>;

const BASES: Array<Record<string, unknown>> = [
  rawInputs({ credentials: { token: SECRET } }),
  trustInputs(TARGET_ROLE, {
    kind: "webIdentity",
    issuerUrl: WEB_ISSUERS[0],
    namespace: NAMESPACES[0],
    serviceAccounts: ["worker", "kpo"],
  }),
  trustInputs(TARGET_ROLE, { kind: "clusterRole", dataPlaneAccountId: "999988887777", clusterId: "clv1abc" }),
  gcpInputs(),
  gcpInputs({ grant: { kind: "impersonation", serviceAccount: "reader@customer-data.iam.gserviceaccount.com" } }),
  gcpInputs(
    {
      grant: {
        kind: "customerManagedIdentity",
        serviceAccount: "reader@customer-data.iam.gserviceaccount.com",
        workloadIdentityPool: "astronomer-prod.svc.id.goog",
        namespace: NAMESPACES[0],
        serviceAccountNames: ["reader"],
      },
    },
    { workloadIdentity: undefined },
  ),
  azureInputs({
    roleAssignment: { scope: "/subscriptions/11111111-2222-3333-4444-555555555555", role: "Reader" },
  }),
  rawInputs({
    connection: {
      target: "astro",
      connectionId: "aws_data",
      astro: { organizationId: "clmh597sg000208lb2kjhcn8q", deploymentId: "clmh597sg000208lb2kjhcn8r" },
    },
    credentials: { astroToken: SECRET },
  }),
  trustInputs(TARGET_ROLE, { kind: "webIdentity", issuerUrl: WEB_ISSUERS[1], namespace: NAMESPACES[1] }),
].map((raw) => JSON.parse(JSON.stringify(raw)) as Record<string, unknown>);

// A valid base with the Deployment it was read from, as the component sends it.
BASES.push({
  ...BASES[1]!,
  deployment: {
    organizationId: "clmh597sg000208lb2kjhcn8q",
    deploymentId: "clmh597sg000208lb2kjhcn8r",
    cloudProvider: "AWS",
    customerManagedIdentity: true,
    secretsBackend: true,
  },
});

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** Every path in a JSON value, containers included, root excluded. */
function pathsOf(value: unknown, prefix: Path = []): Path[] {
  const children: Array<[string | number, unknown]> = Array.isArray(value)
    ? value.map((v, i) => [i, v])
    : isRecord(value)
      ? Object.entries(value)
      : [];
  return children.flatMap(([key, child]) => [[...prefix, key], ...pathsOf(child, [...prefix, key])]);
}

function at(value: unknown, path: Path): unknown {
  let node = value;
  for (const key of path) {
    if (Array.isArray(node) && typeof key === "number") node = node[key];
    else if (isRecord(node)) node = node[String(key)];
    else return undefined;
  }
  return node;
}

/** Sets an own property, even one named __proto__, as a JSON parser would. */
function define(target: Record<string, unknown> | unknown[], key: string | number, value: unknown) {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Every property name the inputs have, at any depth. */
const KNOWN_KEYS = new Set([
  ...BASES.flatMap((base) => pathsOf(base).map((path) => String(path[path.length - 1]))),
  ...["lookupError", "description", "extra", "adoptExisting", "apiVersion", "username", "workspaceId"],
  ...["linkedDeploymentIds", "password", "token", "namespaceWide", "connectionAssumesRole", "clusterRoleArn"],
  ...["serviceAccountNames", "adoptExistingCredentials", "adoptExistingTrust", "adoptExistingMembers"],
  ...["restoreOnDelete", "backend", "kwargs", "airflow", "astro", "aws", "gcp", "azure"],
]);

type Mutation =
  | { kind: "set"; at: number; value: unknown }
  | { kind: "wrongType"; at: number; pick: number }
  | { kind: "delete"; at: number }
  | { kind: "addKey"; at: number; key: string; value: unknown };

const huge = fc
  .tuple(fc.string({ minLength: 1, maxLength: 6, unit: "grapheme" }), fc.integer({ min: 2_000, max: 20_000 }))
  .map(([s, n]) => s.repeat(n));
/** JSON a parser may hand over that has no string form: `String(value)` and templates throw on them. */
const noStringForm = (): unknown[] => [{ toString: "x" }, { toString: 1, valueOf: {} }, Object.create(null)];
const oddValue = fc.oneof(
  { arbitrary: fc.anything(), weight: 2 },
  { arbitrary: fc.constant(UNKNOWN), weight: 2 },
  { arbitrary: huge, weight: 1 },
  { arbitrary: fc.string({ unit: "grapheme", maxLength: 30 }), weight: 1 },
  { arbitrary: fc.string({ unit: "binary", maxLength: 30 }), weight: 1 },
  { arbitrary: fc.constantFrom<unknown>(...noStringForm(), [UNKNOWN], { kind: UNKNOWN }), weight: 2 },
);
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant("set" as const), at: fc.nat(), value: oddValue }),
  fc.record({ kind: fc.constant("wrongType" as const), at: fc.nat(), pick: fc.nat() }),
  fc.record({ kind: fc.constant("delete" as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant("addKey" as const),
    at: fc.nat(),
    key: fc.oneof(
      fc.string({ minLength: 1 }).filter((k) => !KNOWN_KEYS.has(k)),
      fc.constantFrom("__proto__", "constructor", "toString", "x"),
    ),
    value: fc.oneof(fc.anything(), fc.constant(UNKNOWN)),
  }),
  // A key the inputs know, in any object: where it belongs it may be valid, elsewhere it is unknown.
  fc.record({
    kind: fc.constant("addKey" as const),
    at: fc.nat(),
    key: fc.constantFrom(...KNOWN_KEYS),
    value: oddValue,
  }),
);

/** A value of another JSON type than `current`, which no field of the inputs accepts in its place. */
function wrongTypeFor(current: unknown, pick: number): unknown {
  const candidates: unknown[] =
    typeof current === "string"
      ? [42, true, null, [], {}]
      : typeof current === "boolean"
        ? [42, "text", null, []]
        : Array.isArray(current)
          ? ["text", 42, null, {}, true]
          : [42, "text", null, []];
  return candidates[pick % candidates.length];
}

/** The mutated inputs, and the path a failure must be reported at (or above) when one is certain. */
function mutate(base: Record<string, unknown>, m: Mutation): { raw: Record<string, unknown>; expectAt?: Path } {
  const raw = structuredClone(base);
  const paths = pathsOf(raw);
  if (m.kind === "addKey") {
    // Keys go into any object, the inputs themselves included.
    const path = [[], ...paths][m.at % (paths.length + 1)]!;
    const target = at(raw, path);
    // `extra` and `kwargs` are maps: any key is theirs to hold.
    const last = path[path.length - 1];
    if (!isRecord(target) || last === "extra" || last === "kwargs" || m.key in target) return { raw };
    define(target, m.key, m.value);
    return KNOWN_KEYS.has(m.key) ? { raw } : { raw, expectAt: path };
  }
  const path = paths[m.at % paths.length]!;
  const parent = at(raw, path.slice(0, -1));
  const key = path[path.length - 1]!;
  if (!isRecord(parent) && !Array.isArray(parent)) return { raw };
  switch (m.kind) {
    case "set":
      define(parent, key, m.value);
      return { raw };
    case "wrongType":
      define(parent, key, wrongTypeFor(at(raw, path), m.pick));
      return { raw, expectAt: path };
    case "delete":
      if (Array.isArray(parent)) parent.splice(Number(key), 1);
      else delete parent[String(key)];
      return { raw };
  }
}

function segmentsOf(property: string): string[] {
  return property === "(inputs)" ? [] : property.split(".");
}

function expectNamedFailures(failures: ReadonlyArray<{ property: unknown; reason: unknown }>) {
  expect(failures.length).toBeGreaterThan(0);
  for (const f of failures) {
    expect(typeof f.property).toBe("string");
    expect(typeof f.reason).toBe("string");
    expect((f.reason as string).length).toBeGreaterThan(0);
    const property = f.property as string;
    expect(property === "(inputs)" || TOP_LEVEL_KEYS.has(property.split(".")[0]!)).toBe(true);
  }
  expect(new Set(failures.map((f) => f.property)).size).toBe(failures.length);
  expect(JSON.stringify(failures)).not.toContain(SECRET);
}

/**
 * What check hands the engine: one line per failure of parseInputs, each with its path (named as
 * expectNamedFailures asks) and no property of its own for the engine to look up. The structured
 * failures are returned for checks of their paths.
 */
function expectEngineFailures(
  failures: ReadonlyArray<{ property: unknown; reason: unknown }> | undefined,
  news: Record<string, unknown>,
) {
  const { __provider: _stub, ...raw } = news;
  const parsed = parseInputs(raw);
  expect(parsed.ok).toBe(false);
  const structured = parsed.ok ? [] : parsed.failures;
  expectNamedFailures(structured);
  expect(failures).toEqual(structured.map((f) => ({ property: "", reason: describeFailure(f) })));
  expect(JSON.stringify(failures)).not.toContain(SECRET);
  return structured;
}

describe("input validation never throws", () => {
  it("the bases are valid inputs", async () => {
    for (const base of BASES) expect((await provider.check({}, base)).failures).toBeUndefined();
  });

  it("check survives values without a string form at every path of every base", async () => {
    const withDeployment = BASES[BASES.length - 1]!;
    // The Deployment runs on another cloud: the rule that says so reads its fields.
    const elsewhere = {
      ...withDeployment,
      deployment: { ...(withDeployment.deployment as object), cloudProvider: "GCP" },
    };
    const mutations: Array<[Record<string, unknown>, Mutation]> = [];
    for (const base of [...BASES, elsewhere]) {
      for (let at = 0; at < pathsOf(base).length; at++) {
        for (const value of noStringForm()) mutations.push([base, { kind: "set", at, value }]);
      }
    }
    for (const base of [withDeployment, elsewhere]) {
      for (let at = 0; at <= pathsOf(base).length; at++) {
        for (const key of KNOWN_KEYS) {
          for (const value of noStringForm()) mutations.push([base, { kind: "addKey", at, key, value }]);
        }
      }
    }
    for (const [base, m] of mutations) {
      const result = await provider.check({}, mutate(base, m).raw);
      // An empty object is a valid `secretsBackend` or `customerManagedIdentity`.
      if (result.failures === undefined) expect(result.inputs).toMatchObject({ grant: expect.any(Object) });
      else expectEngineFailures(result.failures, mutate(base, m).raw);
    }
  });

  it("parseInputs answers failures, each naming a property, for any value", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.anything({ withNullPrototype: true, withBoxedValues: true, withSparseArray: true }),
          fc.jsonValue(),
        ),
        (value) => {
          const result = parseInputs(value);
          expect(result.ok).toBe(false);
          if (!result.ok) expectNamedFailures(result.failures);
        },
      ),
      { numRuns: runs(300) },
    );
  });

  it("check answers failures (or a plan) for objects of any shape", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.dictionary(fc.oneof(fc.string(), fc.constantFrom(...TOP_LEVEL_KEYS)), fc.anything()),
          fc.object({ withNullPrototype: true }),
        ),
        async (news) => {
          const result = await provider.check({}, news);
          expect(result.failures).toBeDefined();
          expectEngineFailures(result.failures, news);
        },
      ),
      { numRuns: runs(300) },
    );
  });

  it("check names a property for near-valid inputs: wrong types, missing and unknown keys, huge strings, unknowns", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.nat(BASES.length - 1),
        fc.array(mutation, { minLength: 1, maxLength: 3 }),
        async (baseIndex, mutations) => {
          let raw = BASES[baseIndex]!;
          const targets: Array<Path | undefined> = [];
          for (const m of mutations) {
            const mutated = mutate(raw, m);
            raw = mutated.raw;
            targets.push(mutated.expectAt);
          }
          const result = await provider.check({}, raw);
          if (result.failures === undefined) {
            expect(parseInputs(raw).ok).toBe(true);
            expect(result.inputs).toMatchObject({ grant: expect.any(Object), connection: expect.any(Object) });
            return;
          }
          const failures = expectEngineFailures(result.failures, raw);
          const target = mutations.length === 1 ? targets[0] : undefined;
          if (target) {
            // The one bad value is reported at its own path or at an object that holds it, not only at the top.
            const related = failures.some((f) => {
              const segments = segmentsOf(f.property);
              return (
                segments.length <= target.length &&
                (segments.length > 0 || target.length === 0) &&
                segments.every((segment, i) => String(target[i]) === segment)
              );
            });
            expect(related, `${target.join(".")} in ${JSON.stringify(failures)}`).toBe(true);
          }
        },
      ),
      { numRuns: runs(400) },
    );
  });
});
