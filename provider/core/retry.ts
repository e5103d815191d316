import { certificateProblem } from "./diagnosis";

/**
 * Bounded retries with jittered exponential backoff: the loop under every remote call
 * (`remoteCall.ts`, which is where drivers call remotes) and the pauses of the shared policy writer.
 */

export interface RetryOptions {
  /** Total tries, the first included. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** Whether this error is worth another try. */
  retryable: (error: unknown) => boolean;
  /** Describes the operation in the final error: "UpdateAssumeRolePolicy on role x". */
  what: string;
  /** Words the last error in the final one; default its message. */
  describe?: (error: unknown) => string;
  sleep?: (ms: number) => Promise<void>;
}

export const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function jitteredDelay(attempt: number, baseDelayMs: number, maxDelayMs: number): number {
  const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** attempt);
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}

export class RetriesExhaustedError extends Error {
  constructor(
    message: string,
    readonly attempts: number,
    readonly lastError: unknown,
  ) {
    super(message);
    this.name = "RetriesExhaustedError";
  }
}

export async function withRetries<T>(options: RetryOptions, operation: (attempt: number) => Promise<T>): Promise<T> {
  const sleep = options.sleep ?? defaultSleep;
  for (let attempt = 0; ; attempt++) {
    try {
      return await operation(attempt);
    } catch (error) {
      const tries = attempt + 1;
      // A certificate TLS refused is refused again on every try, whatever the caller's rule says.
      if (!options.retryable(error) || certificateProblem(error)) throw error;
      if (tries >= options.attempts) {
        const reason = options.describe?.(error) ?? (error instanceof Error ? error.message : String(error));
        throw new RetriesExhaustedError(
          `${options.what} failed after ${tries} tries; the last error was: ${reason}`,
          tries,
          error,
        );
      }
      await sleep(jitteredDelay(attempt, options.baseDelayMs, options.maxDelayMs));
    }
  }
}
