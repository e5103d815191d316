/**
 * Errors that carry what failed, where, and how to fix it. Messages never contain secrets. Each
 * has a stable `code` for programs (the Automation API, portals) that must not parse messages.
 */

export type ErrorCode =
  /** Inputs this version cannot act on (check reports field errors itself, with their paths). */
  | "INVALID_INPUT"
  /** The role, project, service account or identity the grant lives on does not exist. */
  | "TARGET_MISSING"
  /** A connection with this id exists and adopting it was not asked for. */
  | "CONNECTION_EXISTS"
  /** A cloud limit would be exceeded (trust policy length, principals per policy, ...). */
  | "QUOTA_EXCEEDED"
  /** Another writer kept overwriting our edit; retries ran out. */
  | "CONFLICT"
  /** The remote refused our credentials or permissions. */
  | "PERMISSION_DENIED"
  /** Throttling or server errors outlasted the retries. */
  | "REMOTE_UNAVAILABLE"
  /** TLS refused the server's certificate (an unknown CA, as behind a proxy that inspects TLS; expired; another name). */
  | "CERTIFICATE_REJECTED"
  /** Any other failed remote call. */
  | "REMOTE_FAILED";

export class AuthorizationError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** The stack operation that met an error: what fits as advice depends on it. */
export type Operation = "create" | "update" | "read" | "delete";

/** What is missing, in terms advice for any operation can be made of. */
export interface MissingTarget {
  /** It, named: "IAM role data-reader". */
  what: string;
  /** What it is, for "never creates a …": "role", "project", "service account", "managed identity", "Deployment", "Airflow". */
  kind: string;
  /** The input that names it: "aws.targetRole". */
  input: string;
  /** A command that shows whether it exists and these credentials see it. */
  check: string;
  /** What the remote answered, when it said more than "not found". */
  answered?: string;
}

/**
 * The role, project, service account, identity, Deployment or Airflow the resource lives on is not
 * there (or not visible to these credentials): never re-created silently. Its advice fits the
 * operation (`during`): on create and update, check or create it; on refresh and delete, it may
 * have been deleted on purpose, and `pulumi state delete` forgets the resource.
 */
export class TargetMissingError extends AuthorizationError {
  readonly target: MissingTarget | undefined;

  constructor(target: MissingTarget | string, options?: { cause?: unknown; operation?: Operation }) {
    super("TARGET_MISSING", typeof target === "string" ? target : missingMessage(target, options?.operation), options);
    this.target = typeof target === "string" ? undefined : target;
  }

  /** This error with the advice for the operation that met it; one built from a message stays as it is. */
  during(operation: Operation): TargetMissingError {
    if (!this.target) return this;
    return new TargetMissingError(this.target, { cause: this.cause, operation });
  }
}

function missingMessage(t: MissingTarget, operation: Operation | undefined): string {
  const answered = t.answered ? ` (${t.answered})` : "";
  if (operation === "read" || operation === "delete") {
    return (
      `${t.what} does not exist any more, or is not visible with the credentials in use${answered}. If it was ` +
      `deleted on purpose, what this resource made there went with it: remove the resource from the stack with ` +
      `pulumi state delete <urn>. If not, check with ${t.check}, and fix the credentials or ${t.input}.`
    );
  }
  return (
    `${t.what} does not exist, or is not visible with the credentials in use${answered}. This resource never ` +
    `creates ${/^[aeiou]/i.test(t.kind) ? "an" : "a"} ${t.kind}: create it, or fix ${t.input}, or use credentials ` +
    `that can see it; check with ${t.check}.`
  );
}

/** A TARGET_MISSING error with the advice for `operation`; any other error as it is. */
export function adviseFor(operation: Operation, error: unknown): unknown {
  return error instanceof TargetMissingError ? error.during(operation) : error;
}

/** A connection with this id exists and we were not asked to adopt it. */
export class ConnectionExistsError extends AuthorizationError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("CONNECTION_EXISTS", message, options);
  }
}

/** A remote call failed for good (after retries, or with an error retrying cannot fix). */
export class RemoteError extends AuthorizationError {
  constructor(
    message: string,
    readonly status?: number,
    readonly retryable = false,
    options?: { cause?: unknown; code?: ErrorCode },
  ) {
    super(options?.code ?? (retryable ? "REMOTE_UNAVAILABLE" : "REMOTE_FAILED"), message, options);
  }
}

/** Replaces every occurrence of each secret with [secret]; used on anything that may be shown. */
export function redact(text: string, secrets: ReadonlyArray<string | undefined>): string {
  let out = text;
  for (const secret of secrets) {
    if (secret && secret.length >= 4) out = out.split(secret).join("[secret]");
  }
  return out;
}
