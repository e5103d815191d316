import { certificateError } from "./diagnosis";
import { AuthorizationError, ErrorCode, RemoteError, redact } from "./errors";
import { RetriesExhaustedError, defaultSleep, withRetries } from "./retry";

/**
 * One way to call a remote, for every driver and client: a timeout on each try, bounded retries
 * with jittered backoff (what is worth another try is the remote's to say), call counting, "may
 * have landed" bookkeeping for writes that are not idempotent, and failures translated into
 * `AuthorizationError`s that say what failed, where, and how to fix it.
 *
 * Tuning, the same names for every remote (driver options, and `DriverTuning` for all at once):
 *
 * | option        | what it bounds                                                              |
 * | ------------- | --------------------------------------------------------------------------- |
 * | `attempts`    | tries for one remote call, the first included                               |
 * | `baseDelayMs` | the pause after the first failed try; it doubles after each (jittered)      |
 * | `maxDelayMs`  | the longest pause between two tries                                         |
 * | `timeoutMs`   | how long one try may take before it is abandoned (and, if it may be, retried) |
 * | `sleep`       | how pauses are waited out (tests make them instant)                         |
 *
 * Each remote keeps its own defaults (`REMOTE_DEFAULTS`). The shared policy writer's options
 * (`convergeAttempts`, `verifyDelayMs`, ...) bound something else: edits redone because another
 * writer got in between, not tries of one call.
 */
export interface RemoteTuning {
  /** Tries for one remote call, the first included. */
  attempts?: number;
  /** The pause after the first failed try; each later pause may be twice the one before, jittered. */
  baseDelayMs?: number;
  /** The longest pause between two tries. */
  maxDelayMs?: number;
  /** How long one try may take before it is abandoned (and retried when the remote's rule allows). */
  timeoutMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

export type RemoteDefaults = Required<Omit<RemoteTuning, "sleep">>;

/**
 * Each remote's defaults; they differ, and stay as each remote has always been called, so that an
 * upgrade retries no differently. Azure's bound the Azure SDKs' retry policy, which makes the tries
 * of one call there (it honours `Retry-After`).
 */
export const REMOTE_DEFAULTS = {
  awsIam: { attempts: 6, baseDelayMs: 200, maxDelayMs: 5000, timeoutMs: 30_000 },
  gcpIam: { attempts: 6, baseDelayMs: 200, maxDelayMs: 5000, timeoutMs: 30_000 },
  azureArm: { attempts: 5, baseDelayMs: 1000, maxDelayMs: 30_000, timeoutMs: 30_000 },
  airflow: { attempts: 5, baseDelayMs: 250, maxDelayMs: 5000, timeoutMs: 30_000 },
  astro: { attempts: 5, baseDelayMs: 250, maxDelayMs: 5000, timeoutMs: 30_000 },
} satisfies Record<string, RemoteDefaults>;

/** A remote's own rules about its failures. */
export interface RemoteClassifier {
  /** Whether this failed try is worth another. A certificate TLS refused never is. */
  retryable(error: unknown): boolean;
  /** Whether this failed try may still have been applied (a 5xx, a dropped connection, a timeout). */
  mayHaveLanded(error: unknown): boolean;
  /** A try refused before anything was sent: not counted, not retried, passed on untouched. */
  notSent?(error: unknown): boolean;
  /** Words the last error in the message of a call whose tries ran out; default its message. */
  describe?(error: unknown): string;
}

/** A call that failed for good, for the remote to put in its own terms. */
export interface CallFailure {
  /** The last try's error, or `RetriesExhaustedError` (with it as `lastError`) when the tries ran out. */
  error: unknown;
  /** What was called, where: "AWS IAM GetRole data-reader", "POST https://…/api/v2/connections". */
  what: string;
  /** Tries made at this layer. */
  tries: number;
  /** The object called, as the call named it (`CallOptions.target`). */
  target?: string;
  /** What no message may show (`CallOptions.secrets`). */
  secrets: ReadonlyArray<string | undefined>;
}

export interface RemoteSpec {
  defaults: RemoteDefaults;
  tuning?: RemoteTuning;
  classify: RemoteClassifier;
  /** The failure in the remote's terms. An `AuthorizationError` it meets is already explained. */
  explain(failure: CallFailure): unknown;
  /** Where calls go, for the certificate message when the error does not say. */
  url?: string;
  /**
   * The remote's client makes the tries itself (the Azure SDKs, which honour `Retry-After`): one
   * try here, unless a call brings its own rule (`CallOptions.retry`).
   */
  clientRetries?: boolean;
  /** Where the counts go; each try adds one to each of its call's keys. */
  calls?: Record<string, number>;
}

/** Set by a call when one of its failed tries may have been applied: a later answer may be about it. */
export interface LandedTries {
  mayHaveLanded: boolean;
}

/** A rule of its own for one call, instead of the remote's (a conflict another writer causes). */
export interface CallRule {
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  retryable(error: unknown): boolean;
  /** The call's tries ran out: the error to throw. */
  exhausted(error: RetriesExhaustedError): unknown;
}

export interface CallOptions {
  what: string;
  /** The counter (or counters) each try adds to: "GetRole", "requests". */
  count: string | readonly string[];
  tries?: LandedTries;
  /** Where this call goes, when it is more precise than the remote's URL. */
  url?: string;
  /** The object called (a role, a resource), for the remote's explanation. */
  target?: string;
  /** Tokens and passwords the call carries, which no message may show. */
  secrets?: ReadonlyArray<string | undefined>;
  retry?: CallRule;
}

/** A remote with its rules: every call to it goes through `call`. */
export class Remote {
  readonly calls: Record<string, number>;
  /** The tuning in force: the driver's options over the remote's defaults. */
  readonly settings: RemoteDefaults & { sleep: (ms: number) => Promise<void> };

  constructor(private readonly spec: RemoteSpec) {
    this.calls = spec.calls ?? {};
    const t = spec.tuning ?? {};
    this.settings = {
      attempts: t.attempts ?? spec.defaults.attempts,
      baseDelayMs: t.baseDelayMs ?? spec.defaults.baseDelayMs,
      maxDelayMs: t.maxDelayMs ?? spec.defaults.maxDelayMs,
      timeoutMs: t.timeoutMs ?? spec.defaults.timeoutMs,
      sleep: t.sleep ?? defaultSleep,
    };
  }

  /** `send` makes one try (`attempt` counts from 0); its failure is classified, counted and explained here. */
  async call<T>(options: CallOptions, send: (attempt: number) => Promise<T>): Promise<T> {
    const { classify } = this.spec;
    const keys = typeof options.count === "string" ? [options.count] : options.count;
    const tries = options.tries ?? { mayHaveLanded: false };
    const rule = options.retry;
    let made = 0;
    try {
      return await withRetries(
        {
          attempts: rule?.attempts ?? (this.spec.clientRetries ? 1 : this.settings.attempts),
          baseDelayMs: rule?.baseDelayMs ?? this.settings.baseDelayMs,
          maxDelayMs: rule?.maxDelayMs ?? this.settings.maxDelayMs,
          // A client that makes its own tries has made them all by the time an error gets here.
          retryable: rule?.retryable ?? ((e) => !this.spec.clientRetries && classify.retryable(e)),
          what: options.what,
          describe: classify.describe ? (e) => classify.describe!(e) : undefined,
          sleep: this.settings.sleep,
        },
        async (attempt) => {
          for (const key of keys) this.calls[key] = (this.calls[key] ?? 0) + 1;
          made = attempt + 1;
          try {
            return await send(attempt);
          } catch (error) {
            if (classify.notSent?.(error)) {
              for (const key of keys) this.calls[key] = (this.calls[key] ?? 1) - 1;
            } else if (classify.retryable(error) && classify.mayHaveLanded(error)) tries.mayHaveLanded = true;
            throw error;
          }
        },
      );
    } catch (error) {
      if (classify.notSent?.(error) || error instanceof AuthorizationError) throw error;
      const rejected = certificateError(error, { what: options.what, url: options.url ?? this.spec.url });
      if (rejected) throw rejected;
      if (rule && error instanceof RetriesExhaustedError) throw rule.exhausted(error);
      throw this.spec.explain({
        error,
        what: options.what,
        tries: made,
        secrets: options.secrets ?? [],
        ...(options.target !== undefined ? { target: options.target } : {}),
      });
    }
  }
}

/** Tries ran out on a remote that kept throttling or failing: `advice` says what to do. */
export function unavailable(
  error: RetriesExhaustedError,
  advice: string,
  secrets: ReadonlyArray<string | undefined> = [],
): RemoteError {
  return new RemoteError(redact(`${error.message}. ${advice}`, secrets), undefined, true, { cause: error.lastError });
}

/** A remote's answer refused for good: refused credentials get their own code, since a new token can fix them. */
export function refused(message: string, status: number | undefined, options?: { cause?: unknown }): RemoteError {
  const denied = status === 401 || status === 403;
  const code: ErrorCode | undefined = denied ? "PERMISSION_DENIED" : undefined;
  return new RemoteError(message, status, false, { ...options, ...(code ? { code } : {}) });
}

/** Node's codes for a connection that dropped or timed out, after which a retry may succeed. */
export const DROPPED = new Set(["ECONNRESET", "ETIMEDOUT", "EPIPE"]);

/**
 * The usual rule for whether a failed try may have been applied: a 5xx may come after the write;
 * a refused connection never reached the server; any other dropped or timed-out try may have.
 */
export function mayHaveLandedByStatus(status: number | undefined, code: string | undefined): boolean {
  if (status !== undefined) return status >= 500;
  return code !== "ECONNREFUSED";
}

/** A try over HTTP that failed in a way worth another: no answer (`status` undefined), 429 or 5xx. */
export class HttpTryFailure extends Error {
  constructor(
    message: string,
    readonly status: number | undefined,
    /** Node's code (ECONNREFUSED) or the error's name (TimeoutError) when there was no answer. */
    readonly reason?: string,
  ) {
    super(message);
    this.name = "HttpTryFailure";
  }
}

/** Classification of `fetchTry`'s failures, for remotes reached over fetch. */
export const HTTP_CLASSIFIER: RemoteClassifier = {
  retryable: (e) => e instanceof HttpTryFailure,
  mayHaveLanded: (e) => e instanceof HttpTryFailure && mayHaveLandedByStatus(e.status, e.reason),
};

/**
 * One try over fetch, abandoned after `timeoutMs`. No answer, 429 and 5xx throw `HttpTryFailure`;
 * a certificate TLS refused throws Node's own error (never retried, explained by `Remote.call`);
 * any other answer is returned.
 */
export async function fetchTry(
  fetcher: typeof fetch,
  url: string,
  init: { method: string; headers: Record<string, string>; body?: unknown },
  timeoutMs: number,
): Promise<Response> {
  let response: Response;
  try {
    response = await fetcher(url, {
      method: init.method,
      headers: {
        accept: "application/json",
        ...init.headers,
        ...(init.body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    if (certificateError(error, { what: url })) throw error;
    const reason = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).name;
    throw new HttpTryFailure(`cannot reach ${url} (${reason})`, undefined, reason);
  }
  if (response.status === 429 || response.status >= 500) {
    throw new HttpTryFailure(`${init.method} ${url} answered ${response.status}`, response.status);
  }
  return response;
}
