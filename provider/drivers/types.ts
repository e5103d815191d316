import type { AirflowTarget, ApiVersion, ConnectionPayload, Credentials } from "../plan";
import type { PolicyStatement } from "../trustPolicy";

/** The seam to one cloud's grant: read, ensure and remove the one grant a resource owns. */
export interface TrustDriver {
  /** The role's ARN and our statement as it is live (undefined when absent). Missing role: TargetMissingError. */
  read(role: string, sid: string): Promise<{ roleArn: string; statement: PolicyStatement | undefined }>;
  /** Adds or replaces our statement, leaving every other statement as it is. */
  ensure(role: string, statement: PolicyStatement): Promise<{ roleArn: string; changed: boolean }>;
  /** Removes our statement only; absent is success. Missing role: TargetMissingError. */
  remove(role: string, sid: string): Promise<{ removed: boolean }>;
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
