import { createHash } from "node:crypto";
import { DEFAULT_SERVICE_ACCOUNTS, serviceAccountName } from "../../astro/naming";
import type { CommonInputs, ExtraValue } from "../../core/types";
import { UNKNOWN } from "../../core/unknown";
import { ROLE_ARN } from "./names";
import { plannedRoleArn } from "./resolved";
import type { AwsInput } from "./schema";
import { PolicyValue, entriesAt, staleShare, withEntriesAt } from "./trustPolicy";
import type { AwsGrant, GrantOnRole, TrustMode } from "./types";

/** Pure planning of the AWS grant: the seeds' trust statements and the `aws` connection's extra. */

export const SID_PREFIX = "AirflowDA";
/** Statements this package writes, whichever resource owns them: every other one is someone else's. */
export const isOwnedSid = (sid: string) => sid.startsWith(SID_PREFIX);
/** The shared statement of every grant that trusts an IAM principal with sts:AssumeRole. */
export const ASSUME_ROLE_SID = `${SID_PREFIX}AssumeRole`;

/** IAM Sids allow only [A-Za-z0-9]: web identity statements are keyed by a hash of issuer and operator. */
export function webIdentitySid(issuerHostPath: string, operator: string): string {
  if (issuerHostPath === UNKNOWN) return UNKNOWN;
  return `${SID_PREFIX}WebId${createHash("sha256").update(`${issuerHostPath} ${operator}`).digest("hex").slice(0, 12)}`;
}

export function issuerHostPath(issuerUrl: string): string {
  return issuerUrl === UNKNOWN ? UNKNOWN : issuerUrl.replace(/^https:\/\//, "").replace(/\/+$/, "");
}

/**
 * The grant as state knows it, for reading and removing: after a refresh found our statement gone
 * (null), the entries we own still say what to look for.
 */
export function ownedGrantOf(grant: AwsGrant): GrantOnRole {
  return { ...grant, statement: withEntriesAt({ Sid: grant.sid }, grant.entryPath, grant.entries) };
}

export function roleNameOf(role: string): string {
  return role.slice(role.lastIndexOf("/") + 1);
}

/**
 * The seeds' trust statements. Grants that differ only in whom they trust share one statement:
 * IAM principals in one `Principal.AWS` list, service accounts in one `sub` condition list.
 */
export function planAwsGrant(input: AwsInput, common: CommonInputs): AwsGrant {
  const role = input.targetRole;
  const trust = input.trust ?? { kind: "deploymentRole" as const };
  if (trust.kind !== "webIdentity") {
    const principal =
      trust.kind === "deploymentRole"
        ? common.workloadIdentity!
        : (trust.clusterRoleArn ?? clusterRoleArn(trust.dataPlaneAccountId!, trust.clusterId!));
    return {
      cloud: "aws",
      mode: trust.kind,
      role,
      sid: ASSUME_ROLE_SID,
      entryPath: ["Principal", "AWS"],
      entries: [principal],
      statement: { Sid: ASSUME_ROLE_SID, Effect: "Allow", Principal: { AWS: principal }, Action: "sts:AssumeRole" },
      ...adoption(input),
    };
  }
  const hostPath = issuerHostPath(trust.issuerUrl);
  const operator = trust.namespaceWide ? "StringLike" : "StringEquals";
  const sid = webIdentitySid(hostPath, operator);
  const account = role === UNKNOWN ? UNKNOWN : role.split(":")[4]!;
  const partition = role === UNKNOWN ? "aws" : role.split(":")[1]!;
  const providerArn =
    hostPath === UNKNOWN || account === UNKNOWN
      ? UNKNOWN
      : `arn:${partition}:iam::${account}:oidc-provider/${hostPath}`;
  const subjects = webIdentitySubjects(trust);
  const condition: PolicyValue =
    hostPath === UNKNOWN
      ? UNKNOWN
      : trust.namespaceWide
        ? { StringEquals: { [`${hostPath}:aud`]: "sts.amazonaws.com" }, StringLike: { [`${hostPath}:sub`]: subjects } }
        : { StringEquals: { [`${hostPath}:aud`]: "sts.amazonaws.com", [`${hostPath}:sub`]: subjects } };
  return {
    cloud: "aws",
    mode: "webIdentity",
    role,
    sid,
    entryPath: ["Condition", operator, `${hostPath}:sub`],
    entries: typeof subjects === "string" ? [subjects] : subjects,
    statement: {
      Sid: sid,
      Effect: "Allow",
      Principal: { Federated: providerArn },
      Action: "sts:AssumeRoleWithWebIdentity",
      Condition: condition,
    },
    oidcProvider: { arn: providerArn, url: trust.issuerUrl },
    ...adoption(input),
  };
}

/** Present only when asked, so that plans (and state) of grants that never adopt stay as they were. */
function adoption(input: AwsInput): { adoptExistingTrust?: true } {
  return input.adoptExistingTrust ? { adoptExistingTrust: true } : {};
}

type WebIdentityTrust = Extract<NonNullable<AwsInput["trust"]>, { kind: "webIdentity" }>;

/** The exact subjects, or `<ns>:*` only when asked for; unknown while the namespace is. */
function webIdentitySubjects(trust: WebIdentityTrust): string | string[] {
  const ns = trust.namespace;
  if (ns === UNKNOWN) return UNKNOWN;
  if (trust.namespaceWide) return `system:serviceaccount:${ns}:*`;
  const names =
    trust.serviceAccountNames ??
    (trust.serviceAccounts ?? DEFAULT_SERVICE_ACCOUNTS).map((c) => serviceAccountName(ns, c));
  if (names.includes(UNKNOWN)) return UNKNOWN;
  const subjects = names.map((name) => `system:serviceaccount:${ns}:${name}`);
  return subjects.length === 1 ? subjects[0]! : subjects;
}

export function clusterRoleArn(accountId: string, clusterId: string): string {
  return accountId === UNKNOWN || clusterId === UNKNOWN
    ? UNKNOWN
    : `arn:aws:iam::${accountId}:role/AirflowS3Logs-${clusterId}`;
}

/**
 * The seeds' connection `extra`: the role and region for an assumed role; with pod-level web
 * identity only the region, unless the connection itself assumes the role with the pod's token.
 */
export function awsConnectionExtra(input: AwsInput, mode: TrustMode): Record<string, ExtraValue> {
  const trust = input.trust;
  if (mode === "webIdentity" && !(trust?.kind === "webIdentity" && trust.connectionAssumesRole)) {
    return { region_name: input.region };
  }
  return {
    ...(mode === "webIdentity" ? { assume_role_method: "assume_role_with_web_identity" } : {}),
    role_arn: plannedRoleArn(input.targetRole),
    region_name: input.region,
  };
}

/** Same role when both name the same role; a name and an ARN of that name count as the same. */
export function sameRole(a: string, b: string): boolean {
  if (a === b) return true;
  if (ROLE_ARN.test(a) && ROLE_ARN.test(b)) return false;
  return roleNameOf(a) === roleNameOf(b);
}

/**
 * What of the old grant to take back after an update: all of it under another statement, else the
 * entries the new grant no longer has. An OIDC provider the new grant still relies on stays.
 */
export function staleAwsGrant(old: AwsGrant, next: AwsGrant): AwsGrant | undefined {
  const stale = staleShare(ownedGrantOf(old), ownedGrantOf(next));
  if (!stale) return undefined;
  const keepsProvider = stale.oidcProvider?.arn === next.oidcProvider?.arn;
  return {
    ...old,
    entries: entriesAt(stale.statement, stale.entryPath),
    statement: stale.statement,
    ...(keepsProvider ? { oidcProvider: undefined } : {}),
  };
}
