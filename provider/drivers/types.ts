import type { AirflowTarget, ApiVersion, ConnectionPayload, Credentials } from "../plan";
import type { OwnedGrant, PolicyStatement } from "../trustPolicy";

/** One resource's grant on one role (a role ARN or name), with the OIDC provider it relies on. */
export interface GrantOnRole extends OwnedGrant {
  role: string;
  oidcProvider?: { arn: string; url: string };
}

/** The seam to one cloud's grant: read, ensure and remove the one grant a resource owns. */
export interface TrustDriver {
  /** The role's ARN and our share of the statement as it is live (undefined when absent). Missing role: TargetMissingError. */
  read(grant: GrantOnRole): Promise<{ roleArn: string; statement: PolicyStatement | undefined }>;
  /** Adds our entries, leaving every other statement and entry as it is; creates a missing OIDC provider. */
  ensure(grant: GrantOnRole): Promise<{ roleArn: string; changed: boolean; oidcProviderCreated?: boolean }>;
  /** Removes our entries only; absent is success. Missing role: TargetMissingError. */
  remove(grant: GrantOnRole): Promise<{ removed: boolean }>;
}

export interface ConnectionTarget extends AirflowTarget {
  credentials: Credentials;
}

/** The seam to one place connections live (the Airflow REST API). */
export interface ConnectionDriver {
  apiVersion(target: ConnectionTarget): Promise<ApiVersion>;
  read(target: ConnectionTarget, connectionId: string): Promise<ConnectionPayload | undefined>;
  /** Throws ConnectionExistsError when the id is taken. */
  create(target: ConnectionTarget, connectionId: string, payload: ConnectionPayload): Promise<void>;
  /** Overwrites only the fields we manage (conn_type, description, extra). */
  update(target: ConnectionTarget, connectionId: string, payload: ConnectionPayload): Promise<void>;
  /** Absent is success. */
  remove(target: ConnectionTarget, connectionId: string): Promise<{ removed: boolean }>;
}

export interface Drivers {
  trust: TrustDriver;
  connections: ConnectionDriver;
}
