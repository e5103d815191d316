/** Errors that carry what failed, where, and how to fix it. Messages never contain secrets. */

export class AuthorizationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** The role, or the identity, that the grant lives on is gone: never re-created silently. */
export class TargetMissingError extends AuthorizationError {}

/** A connection with this id exists and we were not asked to adopt it. */
export class ConnectionExistsError extends AuthorizationError {}

/** A remote call failed for good (after retries, or with an error retrying cannot fix). */
export class RemoteError extends AuthorizationError {
  constructor(
    message: string,
    readonly status?: number,
    readonly retryable = false,
  ) {
    super(message);
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
