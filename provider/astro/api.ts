import { RemoteError, TargetMissingError, redact } from "../core/errors";
import { summarizeBody } from "../core/diagnosis";
import {
  HTTP_CLASSIFIER,
  LandedTries,
  REMOTE_DEFAULTS,
  Remote,
  RemoteTuning,
  fetchTry,
  refused,
  unavailable,
} from "../core/remoteCall";
import { RetriesExhaustedError } from "../core/retry";
import type { AstroCloudProvider } from "./naming";

/**
 * `attempts` (default 5: throttling, 5xx, dropped connections), `baseDelayMs`, `maxDelayMs`,
 * `timeoutMs` (default 30 s) and `sleep` as for every remote (`core/remoteCall.ts`).
 */
export interface AstroApiOptions extends RemoteTuning {
  /** The Astro Platform API base, with its version path; default Astronomer's. */
  baseUrl?: string;
  fetch?: typeof fetch;
}

export const ASTRO_API_URL = "https://api.astronomer.io/v1";

/** A request body whose retries are made anew: `first` for the first try, `again()` for each retry. */
export class RetryBody {
  constructor(
    readonly first: unknown,
    readonly again: () => Promise<unknown>,
  ) {}
}

/** The Astro Platform API over fetch (Astronomer publishes no Node client): bearer token, bounded retries. */
export class AstroApi {
  private readonly fetch: typeof fetch;
  private readonly remote: Remote;
  readonly baseUrl: string;
  /** Tries made (`requests`), and of those, the ones that were not GETs (`writes`). */
  readonly calls = { requests: 0, writes: 0 };

  constructor(options: AstroApiOptions = {}) {
    this.fetch = options.fetch ?? globalThis.fetch;
    this.baseUrl = (options.baseUrl ?? ASTRO_API_URL).replace(/\/+$/, "");
    this.remote = new Remote({
      defaults: REMOTE_DEFAULTS.astro,
      tuning: options,
      classify: HTTP_CLASSIFIER,
      calls: this.calls,
      explain: ({ error, secrets }) =>
        error instanceof RetriesExhaustedError
          ? unavailable(error, "The Astro API is throttling or failing; run pulumi up again later.", secrets)
          : error,
    });
  }

  /**
   * One API call, retried on 429, 5xx and dropped connections; a 404 is undefined when `missingOk`.
   * `tries.mayHaveLanded` tells the caller that a failed try may still have been applied (a 5xx, a
   * dropped connection, a timeout), so that a write's later answer may be about our own write.
   * `body` may be a `RetryBody`: its `again` makes the body of each retry (after the pause), so a
   * write that replaces a whole object is rebuilt from a fresh read rather than resent as built
   * before the first try.
   */
  async call<T>(
    token: string | undefined,
    method: string,
    url: string,
    body?: unknown,
    missingOk = false,
    tries?: LandedTries,
  ): Promise<T | undefined> {
    if (!token) {
      throw new RemoteError(
        `no Astro API token for ${this.baseUrl}: set it with pulumi config set --secret deployment-authorization:astroToken <token>, ` +
          `or the ASTRO_API_TOKEN environment variable, or the component's connection.astro.token input`,
        undefined,
        false,
        { code: "PERMISSION_DENIED" },
      );
    }
    const what = `${method} ${url}`;
    const count = method === "GET" ? "requests" : ["requests", "writes"];
    const response = await this.remote.call(
      { what, url, count, secrets: [token], ...(tries ? { tries } : {}) },
      async (attempt) => {
        const payload = body instanceof RetryBody ? (attempt === 0 ? body.first : await body.again()) : body;
        const headers = { authorization: `Bearer ${token}` };
        return fetchTry(this.fetch, url, { method, headers, body: payload }, this.remote.settings.timeoutMs);
      },
    );
    if (response.status === 404 && missingOk) return undefined;
    if (response.status === 204) return undefined;
    const text = await response.text();
    if (!response.ok) {
      const detail = summarizeBody(text, response.headers.get("content-type") ?? "");
      const denied = response.status === 401 || response.status === 403;
      const hint = denied
        ? " Check the Astro API token: it needs an Organization, Workspace or Deployment role that may update the Deployment and edit its Environment Manager."
        : "";
      throw refused(redact(`${what} answered ${response.status}: ${detail}.${hint}`, [token]), response.status);
    }
    return (text ? JSON.parse(text) : undefined) as T | undefined;
  }
}

/** What a Deployment tells about itself that a grant and its connection need. */
export interface DeploymentFacts {
  organizationId: string;
  deploymentId: string;
  cloudProvider?: AstroCloudProvider;
  namespace: string;
  /** The identity its pods run as: the one set on it, or Astro's default. */
  workloadIdentity?: string;
  oidcIssuerUrl?: string;
  /** The Airflow API's base URL (https, without /api/...), and which API it is. */
  airflowUrl?: string;
  apiVersion?: "v1" | "v2";
}

interface DeploymentResponse {
  id: string;
  organizationId: string;
  namespace: string;
  cloudProvider?: AstroCloudProvider;
  effectiveWorkloadIdentity?: string;
  oidcIssuerUrl?: string;
  webServerAirflowApiUrl?: string;
}

export function deploymentUrl(api: Pick<AstroApi, "baseUrl">, organizationId: string, deploymentId: string): string {
  return `${api.baseUrl}/organizations/${encodeURIComponent(organizationId)}/deployments/${encodeURIComponent(deploymentId)}`;
}

/** A Deployment the Astro API does not show these credentials. */
export function missingDeployment(
  api: Pick<AstroApi, "baseUrl">,
  organizationId: string,
  deploymentId: string,
): TargetMissingError {
  return new TargetMissingError({
    what: `Deployment ${deploymentId} in Astro organization ${organizationId}`,
    kind: "Deployment",
    input: "deployment.organizationId and deployment.deploymentId",
    check: `GET ${deploymentUrl(api, organizationId, deploymentId)} with the same Astro API token`,
  });
}

/** GetDeployment, in the terms a grant and its connection need. A missing Deployment is TARGET_MISSING. */
export async function getDeployment(
  api: AstroApi,
  token: string | undefined,
  organizationId: string,
  deploymentId: string,
): Promise<DeploymentFacts> {
  const d = await api.call<DeploymentResponse>(
    token,
    "GET",
    deploymentUrl(api, organizationId, deploymentId),
    undefined,
    true,
  );
  if (!d) throw missingDeployment(api, organizationId, deploymentId);
  // webServerAirflowApiUrl has no scheme and ends in the API's path: /api/v1 (Airflow 2) or /api/v2 (Airflow 3).
  // Astro gives it without a scheme (https is meant); a self-hosted setup may give one.
  const apiUrl = d.webServerAirflowApiUrl?.match(/^(https?:\/\/)?(.*?)\/api\/(v1|v2)\/?$/);
  return {
    organizationId,
    deploymentId,
    namespace: d.namespace,
    ...(d.cloudProvider ? { cloudProvider: d.cloudProvider } : {}),
    ...(d.effectiveWorkloadIdentity ? { workloadIdentity: d.effectiveWorkloadIdentity } : {}),
    ...(d.oidcIssuerUrl ? { oidcIssuerUrl: d.oidcIssuerUrl } : {}),
    ...(apiUrl ? { airflowUrl: `${apiUrl[1] ?? "https://"}${apiUrl[2]}`, apiVersion: apiUrl[3] as "v1" | "v2" } : {}),
  };
}
