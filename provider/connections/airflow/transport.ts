import { summarizeBody } from "../../core/diagnosis";
import { RemoteError, redact } from "../../core/errors";
import {
  HTTP_CLASSIFIER,
  LandedTries,
  REMOTE_DEFAULTS,
  Remote,
  RemoteTuning,
  fetchTry,
  refused,
  unavailable,
} from "../../core/remoteCall";
import { RetriesExhaustedError } from "../../core/retry";
import type { ApiVersion, ConnectionTarget } from "../../core/types";

/**
 * `attempts` (default 5: throttling, 5xx, dropped connections), `baseDelayMs`, `maxDelayMs`,
 * `timeoutMs` (default 30 s) and `sleep` as for every remote (`core/remoteCall.ts`).
 */
export interface AirflowConnectionsOptions extends RemoteTuning {
  fetch?: typeof fetch;
}

/** HTTP to an Airflow: every try counted, 429, 5xx and dropped connections tried again, within bounds. */
export class AirflowTransport {
  /** Tries made (`requests`), and calls to the connections API that write (`writes`, counted by the driver). */
  readonly calls = { requests: 0, writes: 0 };
  private readonly fetch: typeof fetch;
  private readonly remote: Remote;

  constructor(options: AirflowConnectionsOptions = {}) {
    this.fetch = options.fetch ?? globalThis.fetch;
    this.remote = new Remote({
      defaults: REMOTE_DEFAULTS.airflow,
      tuning: options,
      classify: HTTP_CLASSIFIER,
      calls: this.calls,
      explain: ({ error, target, secrets }) =>
        error instanceof RetriesExhaustedError
          ? unavailable(error, `Check that Airflow is up at ${target} and run pulumi up again.`, secrets)
          : error,
    });
  }

  /**
   * One HTTP call; any answer but 429 and 5xx is returned. `tries.mayHaveLanded` tells the caller
   * that a failed try may still have been applied (a 5xx, a dropped connection, a timeout).
   */
  send(
    target: ConnectionTarget,
    method: string,
    url: string,
    headers: Record<string, string>,
    body?: unknown,
    tries?: LandedTries,
  ): Promise<Response> {
    return this.remote.call(
      {
        what: `${method} ${url}`,
        url,
        target: target.url,
        count: "requests",
        secrets: secretsOf(target),
        ...(tries ? { tries } : {}),
      },
      () => fetchTry(this.fetch, url, { method, headers, body }, this.remote.settings.timeoutMs),
    );
  }
}

export function secretsOf(target: ConnectionTarget): Array<string | undefined> {
  return [target.credentials.token, target.credentials.password];
}

/** A refused answer, in a line, with what to do about it; refused credentials get their own code. */
export async function failure(
  target: ConnectionTarget,
  method: string,
  url: string,
  response: Response,
): Promise<RemoteError> {
  const detail = summarizeBody(await response.text().catch(() => ""), contentTypeOf(response));
  const hint =
    response.status === 401
      ? "the credentials were refused: check the token or password (stack config, environment, or the secret input)"
      : response.status === 403
        ? "the credentials were refused (Airflow 2 answers 403 to a wrong password), or the user or token may not edit connections: check them, and give the user an Admin or Op role (Astro: a Deployment or Workspace API token with edit rights)"
        : response.status === 422 || response.status === 400
          ? "Airflow rejected the connection fields; check connection.extra and connection.description"
          : response.status === 405
            ? `this Airflow does not take ${method} there: check connection.airflow.apiVersion (v1 is Airflow 2's API, v2 Airflow 3's), or set it to "detect"`
            : "see Airflow's API server log";
  return refused(
    redact(`${method} ${url} answered ${response.status}: ${detail}. Fix: ${hint}.`, secretsOf(target)),
    response.status,
  );
}

const API_OF: Record<ApiVersion, string> = { v1: "Airflow 2's REST API", v2: "Airflow 3's REST API" };

/**
 * A route of the API version in use is not there: the Airflow at the URL runs the other major
 * version (Airflow 2 serves /api/v1, Airflow 3 /api/v2 and /auth/token), or the URL is not the
 * Airflow's base URL.
 */
export async function notServed(
  target: ConnectionTarget,
  version: ApiVersion,
  method: string,
  url: string,
  response: Response,
  text?: string,
): Promise<RemoteError> {
  const body = text ?? (await response.text().catch(() => ""));
  const summary = summarizeBody(body, contentTypeOf(response));
  const other: ApiVersion = version === "v2" ? "v1" : "v2";
  const advice =
    target.apiVersion === "detect"
      ? `The version was detected at ${target.url}, so connection.airflow.url may not be the Airflow's base URL: check it.`
      : `If it runs Airflow ${other === "v1" ? 2 : 3}, set connection.airflow.apiVersion: "${other}", or "detect" to ` +
        `find the version; otherwise check connection.airflow.url (the Airflow's base URL, such as https://myorg.astronomer.run/d1234567).`;
  return new RemoteError(
    redact(
      `${method} ${url} answered ${response.status} (${summary}): the Airflow at ${target.url} does not serve API ${version} ` +
        `(${API_OF[version]}). ${advice}`,
      secretsOf(target),
    ),
    response.status,
  );
}

function contentTypeOf(response: Response): string {
  return response.headers.get("content-type") ?? "";
}

/**
 * Whether a 404 is the API's own answer, a JSON problem (the connection is not there), rather than
 * a route the server does not have: an HTML page (Airflow 2's webserver under /api/v2), Airflow 3's
 * `{"error": "/api/v1 has been removed …"}`, or a framework's bare "Not Found".
 */
export function isApiAnswer(text: string): boolean {
  try {
    const body = JSON.parse(text) as { error?: unknown; detail?: unknown; title?: unknown };
    if (body === null || typeof body !== "object") return false;
    return typeof body.error !== "string" && body.detail !== "Not Found" && body.title !== "Not Found";
  } catch {
    return false;
  }
}
