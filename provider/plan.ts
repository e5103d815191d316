import { createHash } from "node:crypto";
import { AuthorizationInputs, DEFAULT_SERVICE_ACCOUNTS, ROLE_ARN, UNKNOWN } from "./schema";
import { OwnedGrant, PolicyStatement, PolicyValue, canonical, withEntriesAt } from "./trustPolicy";

/**
 * Pure planning: from validated inputs to the exact grant and connection payload the resource will
 * converge to. `check` returns this as the resource's inputs, so `pulumi preview --diff` shows it.
 */

export type ExtraValue = string | number | boolean | null;

/** The connection fields we write and can read back (Airflow never returns a password). */
export interface ConnectionPayload {
  conn_type: string;
  description: string | null;
  extra: Record<string, ExtraValue>;
}

export type AirflowAuth = { kind: "token" } | { kind: "password"; username: string };
export type ApiVersion = "v1" | "v2";

export interface AirflowTarget {
  url: string;
  apiVersion: ApiVersion | "detect";
  auth: AirflowAuth;
}

export interface Credentials {
  token?: string;
  password?: string;
}

export type TrustMode = "deploymentRole" | "clusterRole" | "webIdentity";

export interface PlannedGrant extends OwnedGrant {
  cloud: "aws";
  mode: TrustMode;
  /** Whom this resource trusts: its own entries in the shared statement's list. */
  entries: string[];
  /** As given: a role ARN or a role name. */
  role: string;
  /** The IAM OIDC provider the web identity trust needs (ensured before the statement). */
  oidcProvider?: { arn: string; url: string };
}

export interface PlannedAuthorization {
  owner: string;
  workloadIdentity?: string;
  grant: PlannedGrant;
  connection: {
    airflow: AirflowTarget;
    connectionId: string;
    adoptExisting: boolean;
    payload: ConnectionPayload;
  };
  credentials?: Credentials;
}

/** What state holds: the plan, or what `read` found live, plus facts learned while applying. */
export interface AuthorizationState extends Omit<PlannedAuthorization, "grant" | "connection"> {
  grant: Omit<PlannedAuthorization["grant"], "statement"> & { statement: PolicyStatement | null };
  connection: Omit<PlannedAuthorization["connection"], "payload"> & { payload: ConnectionPayload | null };
  resolved: { roleArn: string; apiVersion: ApiVersion; oidcProviderCreated?: boolean };
}

export const SID_PREFIX = "AirflowDA";
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

/** Astro's Kubernetes service account of one Deployment component. */
export function serviceAccountName(namespace: string, component: string): string {
  return component === "kpo" ? `${namespace}-kpo` : `${namespace}-${component}-serviceaccount`;
}

/**
 * The grant as state knows it, for reading and removing: after a refresh found our statement gone
 * (null), the entries we own still say what to look for.
 */
export function ownedGrantOf(grant: AuthorizationState["grant"]): PlannedGrant {
  return { ...grant, statement: withEntriesAt({ Sid: grant.sid }, grant.entryPath, grant.entries) };
}

/** A role given by name has an ARN only AWS knows; the plan says so, and apply fills it in. */
export function plannedRoleArn(role: string): string {
  if (role === UNKNOWN || ROLE_ARN.test(role)) return role;
  return `(ARN of role ${role}, resolved at apply)`;
}

export function roleNameOf(role: string): string {
  return role.slice(role.lastIndexOf("/") + 1);
}

export function normalizeUrl(url: string): string {
  return url === UNKNOWN ? url : url.replace(/\/+$/, "");
}

export function defaultDescription(owner: string): string {
  return `Managed by Pulumi (DeploymentAuthorization ${owner}); edits by hand are reverted on the next update.`;
}

export function planAuthorization(inputs: AuthorizationInputs): PlannedAuthorization {
  const url = normalizeUrl(inputs.connection.airflow.url);
  const extra = inputs.connection.extra === UNKNOWN ? {} : (inputs.connection.extra ?? {});
  const grant = planGrant(inputs);
  const planned: PlannedAuthorization = {
    owner: inputs.owner,
    ...(inputs.workloadIdentity !== undefined ? { workloadIdentity: inputs.workloadIdentity } : {}),
    grant,
    connection: {
      airflow: {
        url,
        apiVersion: inputs.connection.airflow.apiVersion ?? "detect",
        auth: inputs.connection.airflow.auth,
      },
      connectionId: inputs.connection.connectionId,
      adoptExisting: inputs.connection.adoptExisting ?? false,
      payload: {
        conn_type: "aws",
        description: inputs.connection.description ?? defaultDescription(inputs.owner),
        extra: { ...sortedRecord(extra), ...connectionExtra(inputs, grant.mode) },
      },
    },
  };
  if (inputs.credentials && (inputs.credentials.token || inputs.credentials.password)) {
    planned.credentials = inputs.credentials;
  }
  return planned;
}

/**
 * The seeds' trust statements. Grants that differ only in whom they trust share one statement:
 * IAM principals in one `Principal.AWS` list, service accounts in one `sub` condition list.
 */
function planGrant(inputs: AuthorizationInputs): PlannedGrant {
  const role = inputs.aws.targetRole;
  const trust = inputs.aws.trust ?? { kind: "deploymentRole" as const };
  if (trust.kind !== "webIdentity") {
    const principal =
      trust.kind === "deploymentRole"
        ? inputs.workloadIdentity!
        : (trust.clusterRoleArn ?? clusterRoleArn(trust.dataPlaneAccountId!, trust.clusterId!));
    return {
      cloud: "aws",
      mode: trust.kind,
      role,
      sid: ASSUME_ROLE_SID,
      entryPath: ["Principal", "AWS"],
      entries: [principal],
      statement: { Sid: ASSUME_ROLE_SID, Effect: "Allow", Principal: { AWS: principal }, Action: "sts:AssumeRole" },
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
  };
}

type WebIdentityTrust = Extract<NonNullable<AuthorizationInputs["aws"]["trust"]>, { kind: "webIdentity" }>;

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
function connectionExtra(inputs: AuthorizationInputs, mode: TrustMode): Record<string, ExtraValue> {
  const trust = inputs.aws.trust;
  if (mode === "webIdentity" && !(trust?.kind === "webIdentity" && trust.connectionAssumesRole)) {
    return { region_name: inputs.aws.region };
  }
  return {
    ...(mode === "webIdentity" ? { assume_role_method: "assume_role_with_web_identity" } : {}),
    role_arn: plannedRoleArn(inputs.aws.targetRole),
    region_name: inputs.aws.region,
  };
}

function sortedRecord<T>(record: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => a.localeCompare(b)));
}

/** The payload to send once the role's ARN is known. */
export function payloadForApply(payload: ConnectionPayload, roleArn: string): ConnectionPayload {
  if (!("role_arn" in payload.extra)) return payload;
  return { ...payload, extra: { ...payload.extra, role_arn: roleArn } };
}

/**
 * The payload as read from Airflow, in the plan's terms: a masked value (`***`) cannot be compared,
 * so it counts as what we wrote; the resolved role ARN of a role given by name reads as the plan's
 * placeholder, so a refresh shows no change where there is none.
 */
export function livePayloadInPlanTerms(
  live: ConnectionPayload,
  planned: ConnectionPayload,
  resolvedRoleArn: string,
): ConnectionPayload {
  const extra: Record<string, ExtraValue> = {};
  for (const [key, value] of Object.entries(live.extra)) {
    if (value === "***" && key in planned.extra) extra[key] = planned.extra[key] ?? null;
    else if (key === "role_arn" && value === resolvedRoleArn) extra[key] = planned.extra.role_arn ?? value;
    else extra[key] = value;
  }
  return { ...live, extra: sortedRecord(extra) };
}

export interface DiffDecision {
  changes: boolean;
  replaces: string[];
  deleteBeforeReplace: boolean;
}

/** Same role when both name the same role; a name and an ARN of that name count as the same. */
function sameRole(a: string, b: string): boolean {
  if (a === b) return true;
  if (ROLE_ARN.test(a) && ROLE_ARN.test(b)) return false;
  return roleNameOf(a) === roleNameOf(b);
}

/** Replace when what we manage is another object (another role, connection or Airflow); update otherwise. */
export function diffAuthorization(olds: AuthorizationState, news: PlannedAuthorization): DiffDecision {
  const replaces: string[] = [];
  if (!sameRole(olds.grant.role, news.grant.role)) replaces.push("grant.role");
  if (olds.connection.airflow.url !== news.connection.airflow.url) replaces.push("connection.airflow.url");
  if (olds.connection.connectionId !== news.connection.connectionId) replaces.push("connection.connectionId");

  const comparable = (s: AuthorizationState | PlannedAuthorization) =>
    canonicalJson({
      owner: s.owner,
      workloadIdentity: s.workloadIdentity,
      grant: s.grant,
      connection: s.connection,
      credentials: s.credentials ?? null,
    });
  const changes = replaces.length > 0 || comparable(olds) !== comparable(news);
  // Grants are shared entries and connections keep their id: the old one must go before the new one
  // comes, or removing the old would take the new one's entry (or the create would collide).
  return { changes, replaces, deleteBeforeReplace: replaces.length > 0 };
}

function canonicalJson(value: unknown): string {
  return canonical(JSON.parse(JSON.stringify(value)) as Parameters<typeof canonical>[0]);
}
