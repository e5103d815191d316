import { createHash } from "node:crypto";
import { AuthorizationInputs, ROLE_ARN, UNKNOWN } from "./schema";
import { PolicyStatement, canonical } from "./trustPolicy";

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

export interface PlannedAuthorization {
  owner: string;
  workloadIdentity: string;
  grant: {
    cloud: "aws";
    mode: "deploymentRole";
    /** As given: a role ARN or a role name. */
    role: string;
    /** The Sid that marks our statement: ownership is this, never a guess. */
    sid: string;
    statement: PolicyStatement;
  };
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
  resolved: { roleArn: string; apiVersion: ApiVersion };
}

export const SID_PREFIX = "AirflowDA";

/** IAM Sids allow only [A-Za-z0-9]; a hash of who owns the grant keeps it unique and recognisable. */
export function statementId(owner: string, airflowUrl: string, connectionId: string): string {
  if ([owner, airflowUrl, connectionId].includes(UNKNOWN)) return UNKNOWN;
  const digest = createHash("sha256")
    .update(JSON.stringify([owner, airflowUrl, connectionId]))
    .digest("hex");
  return SID_PREFIX + digest.slice(0, 16);
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
  const sid = statementId(inputs.owner, url, inputs.connection.connectionId);
  const extra = inputs.connection.extra === UNKNOWN ? {} : (inputs.connection.extra ?? {});
  const planned: PlannedAuthorization = {
    owner: inputs.owner,
    workloadIdentity: inputs.workloadIdentity,
    grant: {
      cloud: "aws",
      mode: "deploymentRole",
      role: inputs.aws.targetRole,
      sid,
      statement: {
        Sid: sid,
        Effect: "Allow",
        Principal: { AWS: inputs.workloadIdentity },
        Action: "sts:AssumeRole",
      },
    },
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
        extra: {
          ...sortedRecord(extra),
          role_arn: plannedRoleArn(inputs.aws.targetRole),
          region_name: inputs.aws.region,
        },
      },
    },
  };
  if (inputs.credentials && (inputs.credentials.token || inputs.credentials.password)) {
    planned.credentials = inputs.credentials;
  }
  return planned;
}

function sortedRecord<T>(record: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => a.localeCompare(b)));
}

/** The payload to send once the role's ARN is known. */
export function payloadForApply(payload: ConnectionPayload, roleArn: string): ConnectionPayload {
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

/**
 * Replace when what we manage is another object (another role, another connection or Airflow);
 * update otherwise. When the connection stays the same object, the old one must go first, or the
 * replacement's create would collide with it.
 */
export function diffAuthorization(olds: AuthorizationState, news: PlannedAuthorization): DiffDecision {
  const replaces: string[] = [];
  if (!sameRole(olds.grant.role, news.grant.role)) replaces.push("grant.role");
  const sameConnection =
    olds.connection.airflow.url === news.connection.airflow.url &&
    olds.connection.connectionId === news.connection.connectionId;
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
  return { changes, replaces, deleteBeforeReplace: replaces.length > 0 && sameConnection };
}

function canonicalJson(value: unknown): string {
  return canonical(JSON.parse(JSON.stringify(value)) as Parameters<typeof canonical>[0]);
}
