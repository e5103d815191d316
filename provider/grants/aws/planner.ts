import type { ClaimLedger, ExtraValue, GrantDriver, GrantPlanner } from "../../core/types";
import { ownedGrantOf, roleNameOf, sameRole, staleAwsGrant } from "./plan";
import { awsExtraForApply, awsExtraInPlanTerms } from "./resolved";
import type { AwsGrant, AwsResolved, TrustDriver } from "./types";

/** AWS once planned: the statement's id and review, and the role's ARN filled into the connection. */
export const awsPlanner: GrantPlanner<AwsGrant, AwsResolved> = {
  cloud: "aws",
  // The trust policy lives on the role the program names: another role is another policy.
  replaces: (old, next) => (sameRole(old.role, next.role) ? [] : ["aws.targetRole"]),
  stale: staleAwsGrant,
  claims: (grant) => grant.entries.map((entry) => claimKey(grant, entry)),
  withoutClaims(grant, kept) {
    const entries = grant.entries.filter((entry) => !kept.has(claimKey(grant, entry)));
    if (entries.length === 0) return undefined;
    return entries.length === grant.entries.length ? grant : { ...grant, entries, statement: null };
  },
  // A cluster's role is every Deployment's on that cluster, and their connections live in as many
  // Airflows: claims on it are kept on the role too.
  sharedAcrossPlaces: (grant) =>
    grant.mode === "clusterRole" ? grant.entries.map((entry) => claimKey(grant, entry)) : [],
  // Entries are kept in this package's own statements: one found there is another resource's share, never a stranger's.
  foundGranted: () => [],
  shareClaimed: (_grant, resolved) => resolved,
  idOf: (grant) => `${roleNameOf(grant.role)}/${grant.sid}`,
  extraForApply: awsExtraForApply,
  extraInPlanTerms: awsExtraInPlanTerms,
  summarize(grant) {
    // After a refresh that found none of our entries live, the statement is null: nothing is granted.
    const entries = grant.statement === null ? [] : grant.entries;
    const how = grant.mode === "webIdentity" ? "may assume it with its web identity token" : "may assume it";
    const risks: string[] = [];
    if (entries.some((e) => e.includes("*"))) {
      risks.push(
        `wildcard subject (${entries.filter((e) => e.includes("*")).join(", ")}): every service account it matches, ` +
          `not only the Deployment's, may assume ${grant.role}`,
      );
    }
    if (grant.mode === "clusterRole") {
      risks.push(`trusts a cluster's role: every Deployment on that cluster may assume ${grant.role}`);
    }
    return {
      target: `IAM role ${grant.role}, statement ${grant.sid}`,
      entries: entries.map((e) => `${e} ${how}`),
      risks,
    };
  },
  deploymentSettings: {
    customerManagedIdentity: (grant) =>
      grant.mode === "webIdentity"
        ? { ok: true, value: grant.role }
        : {
            ok: false,
            reason:
              "needs aws.trust.kind webIdentity: a customer-managed identity on AWS is a role the Deployment's Kubernetes " +
              "service accounts assume through the cluster's OIDC provider, which is the trust webIdentity writes",
          },
    // As the guide's secrets backend: Secrets Manager, reached the way the connection reaches the role.
    secretsBackend: (extra) => ({
      ok: true,
      value: {
        backend: "airflow.providers.amazon.aws.secrets.secrets_manager.SecretsManagerBackend",
        kwargs: {
          connections_prefix: "airflow/connections",
          variables_prefix: "airflow/variables",
          ...pick(extra, ["role_arn", "assume_role_method", "region_name"]),
        },
      },
    }),
    reservedKwargs: ["role_arn", "assume_role_method"],
  },
};

/** A role's name is unique in its account, whether the grant gives its name or its ARN. */
function claimKey(grant: AwsGrant, entry: string): string {
  return `aws ${roleNameOf(grant.role)} ${grant.sid} ${entry}`;
}

function pick(record: Record<string, ExtraValue>, keys: readonly string[]): Record<string, ExtraValue> {
  return Object.fromEntries(keys.filter((k) => k in record).map((k) => [k, record[k]!]));
}

/** The lifecycle's view of an IAM trust driver. */
export function awsGrantDriver(trust: TrustDriver): GrantDriver<AwsGrant, AwsResolved> {
  return {
    async read(grant, resolved) {
      const live = await trust.read(ownedGrantOf(grant));
      return {
        grant: { ...grant, statement: live.statement ?? null },
        resolved: { ...resolved, roleArn: live.roleArn },
      };
    },
    async ensure(grant, previous, progress) {
      const { roleArn, changed, oidcProviderCreated, foundEntries } = await trust.ensure(
        { ...grant, statement: grant.statement ?? ownedGrantOf(grant).statement },
        progress && ((roleArn) => progress.factsKnown({ roleArn })),
      );
      const created = oidcProviderCreated || previous?.resolved.oidcProviderCreated;
      return {
        changed,
        resolved: { roleArn, ...(created ? { oidcProviderCreated: true } : {}) },
        ...(foundEntries ? { found: foundEntries.map((entry) => claimKey(grant, entry)) } : {}),
      };
    },
    remove: (grant) => trust.remove(ownedGrantOf(grant)),
    ...(trust.listClaims && trust.recordClaim && trust.releaseClaim
      ? { ledger: roleTagLedger(trust as Required<TrustDriver>) }
      : {}),
  };
}

/** Claims kept as the role's tags, one per instance, so concurrent writers never edit one tag. */
function roleTagLedger(trust: Required<TrustDriver>): ClaimLedger<AwsGrant> {
  return {
    record: (grant, instance, digests) => trust.recordClaim(grant.role, instance, digests),
    release: (grant, instance) => trust.releaseClaim(grant.role, instance),
    records: (grant) => trust.listClaims(grant.role),
  };
}
