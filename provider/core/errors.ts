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

/** The role, or the identity, that the grant lives on is gone: never re-created silently. */
export class TargetMissingError extends AuthorizationError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("TARGET_MISSING", message, options);
  }
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
