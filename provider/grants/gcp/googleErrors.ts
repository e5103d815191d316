import { summarizeBody } from "../../core/diagnosis";
import { DROPPED, RemoteClassifier, mayHaveLandedByStatus } from "../../core/remoteCall";

/** How the Google API clients' failures read: shared by the IAM policy driver and the label ledger. */

interface GoogleError {
  status?: number;
  code?: number | string;
  message: string;
  response?: { status?: number; data?: unknown; headers?: Record<string, string> | Headers };
}

/** What Google (or whatever answered in its place) said: its error's message, or the body in a line. */
export function googleMessage(error: unknown): string {
  const response = (error as GoogleError)?.response;
  if (response?.data !== undefined && response.data !== "") {
    const data = response.data as { error?: { message?: unknown } } | string;
    if (typeof data === "object" && data !== null && typeof data.error?.message === "string") return data.error.message;
    const headers = response.headers;
    const contentType = (headers instanceof Headers ? headers.get("content-type") : headers?.["content-type"]) ?? "";
    return summarizeBody(data, contentType);
  }
  return error instanceof Error ? error.message : String(error);
}

export function statusOf(error: unknown): number | undefined {
  const e = error as GoogleError;
  return e?.response?.status ?? (typeof e?.status === "number" ? e.status : undefined);
}

function isRetryableGoogleError(error: unknown): boolean {
  const status = statusOf(error);
  if (status === 429 || (status !== undefined && status >= 500)) return true;
  const code = (error as { code?: string })?.code;
  return (typeof code === "string" && (DROPPED.has(code) || code === "ECONNREFUSED")) || isTimeout(error);
}

/** The client's own timeout (an aborted fetch), however deep the client wrapped it. */
function isTimeout(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    if (e.name === "TimeoutError" || e.name === "AbortError") return true;
  }
  return false;
}

export const GOOGLE_CLASSIFIER: RemoteClassifier = {
  retryable: isRetryableGoogleError,
  // The server may have written before a 5xx, a dropped connection or a timeout; not before a throttle.
  mayHaveLanded: (error) => mayHaveLandedByStatus(statusOf(error), (error as { code?: string })?.code),
  describe: googleMessage,
};
