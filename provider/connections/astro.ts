import { ConnectionExistsError, RemoteError, TargetMissingError, redact } from "../core/errors";
import { RetriesExhaustedError, withRetries } from "../core/retry";
import type { AstroTarget, ConnectionPayload, ConnectionSink, Credentials, ExtraValue, Resolved } from "../core/types";

export interface AstroApiOptions {
  /** The Astro Platform API base, with its version path; default Astronomer's. */
  baseUrl?: string;
  fetch?: typeof fetch;
  attempts?: number;
  baseDelayMs?: number;
  timeoutMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

export const ASTRO_API_URL = "https://api.astronomer.io/v1";

interface EnvironmentObject {
  id?: string;
  objectKey: string;
  scope: AstroTarget["scope"];
  scopeEntityId: string;
  description?: string;
  connection?: { type: string; extra?: Record<string, ExtraValue> };
  links?: Array<{ scope: string; scopeEntityId: string }>;
  excludeLinks?: Array<{ scope: string; scopeEntityId: string }>;
}

class HttpFailure extends Error {
  constructor(
    message: string,
    readonly status: number | undefined,
  ) {
    super(message);
  }
}

/** What a Deployment tells about itself that a grant and its connection need. */
export interface DeploymentFacts {
  organizationId: string;
  deploymentId: string;
  cloudProvider?: "AWS" | "GCP" | "AZURE";
  namespace: string;
  /** The identity its pods run as: the one set on it, or Astro's default. */
  workloadIdentity?: string;
  oidcIssuerUrl?: string;
  /** The Airflow API's base URL (https, without /api/...), and which API it is. */
  airflowUrl?: string;
  apiVersion?: "v1" | "v2";
}

/**
 * Connections as environment objects of type CONNECTION in Astro's Environment Manager (Astro
 * Platform API), scoped to a Deployment, or to a Workspace and linked to Deployments. The object's
 * id is the fact kept in state. Every update sends the connection's type and the links, since the
 * API clears links an update leaves out.
 */
export class AstroEnvironmentConnections implements ConnectionSink<AstroTarget> {
  private readonly api: AstroApi;

  constructor(options: AstroApiOptions = {}) {
    this.api = new AstroApi(options);
  }

  get calls() {
    return this.api.calls;
  }

  private get baseUrl() {
    return this.api.baseUrl;
  }

  private call<T>(credentials: Credentials, method: string, url: string, body?: unknown, missingOk = false) {
    return this.api.call<T>(credentials.token, method, url, body, missingOk);
  }

  async prepare(): Promise<Resolved> {
    return {};
  }

  async read(target: AstroTarget, credentials: Credentials, connectionId: string, facts: Resolved) {
    const object = await this.find(target, credentials, connectionId, facts);
    if (!object) return undefined;
    const excluded = new Set((object.excludeLinks ?? []).map((l) => l.scopeEntityId));
    const links = (object.links ?? []).map((l) => l.scopeEntityId).filter((id) => !excluded.has(id));
    return {
      payload: {
        conn_type: object.connection?.type ?? "",
        description: object.description ?? null,
        extra: object.connection?.extra ?? {},
      },
      target: { ...target, scope: object.scope, scopeEntityId: object.scopeEntityId, links },
    };
  }

  async create(target: AstroTarget, credentials: Credentials, connectionId: string, payload: ConnectionPayload) {
    if (await this.findByKey(target, credentials, connectionId)) {
      throw new ConnectionExistsError(
        `connection ${connectionId} already exists in Astro's Environment Manager (${target.scope} ${target.scopeEntityId}). ` +
          `To manage it with this resource, set connection.adoptExisting: true; otherwise choose another connection.connectionId.`,
      );
    }
    const created = await this.call<{ id: string }>(credentials, "POST", this.objects(target), {
      objectKey: connectionId,
      objectType: "CONNECTION",
      scope: target.scope,
      scopeEntityId: target.scopeEntityId,
      ...this.body(target, payload),
    });
    if (!created?.id) throw new RemoteError(`POST ${this.objects(target)} answered without the new object's id`);
    return { environmentObjectId: created.id };
  }

  async update(
    target: AstroTarget,
    credentials: Credentials,
    connectionId: string,
    payload: ConnectionPayload,
    facts: Resolved,
  ) {
    const object = await this.find(target, credentials, connectionId, facts);
    if (!object?.id) return this.create(target, credentials, connectionId, payload);
    await this.call(
      credentials,
      "POST",
      `${this.objects(target)}/${encodeURIComponent(object.id)}`,
      this.body(target, payload),
    );
    return { environmentObjectId: object.id };
  }

  async remove(target: AstroTarget, credentials: Credentials, connectionId: string, facts: Resolved) {
    const object = await this.find(target, credentials, connectionId, facts);
    if (!object?.id) return { removed: false };
    await this.call(credentials, "DELETE", `${this.objects(target)}/${encodeURIComponent(object.id)}`);
    return { removed: true };
  }

  /** What we manage of the object, whole: the API clears links and resets auto-linking left out. */
  private body(target: AstroTarget, payload: ConnectionPayload) {
    return {
      description: payload.description ?? "",
      connection: { type: payload.conn_type, extra: payload.extra },
      ...(target.scope === "WORKSPACE"
        ? {
            links: target.links.map((id) => ({ scope: "DEPLOYMENT", scopeEntityId: id })),
            excludeLinks: [],
            autoLinkDeployments: false,
          }
        : {}),
    };
  }

  /** By the id in state when there is one (404: deleted), else by key (before create, or adopting). */
  private async find(target: AstroTarget, credentials: Credentials, connectionId: string, facts: Resolved) {
    const id = typeof facts.environmentObjectId === "string" ? facts.environmentObjectId : undefined;
    if (!id) return this.findByKey(target, credentials, connectionId);
    return this.call<EnvironmentObject>(
      credentials,
      "GET",
      `${this.objects(target)}/${encodeURIComponent(id)}`,
      undefined,
      true,
    );
  }

  private async findByKey(target: AstroTarget, credentials: Credentials, connectionId: string) {
    const filter = target.scope === "DEPLOYMENT" ? "deploymentId" : "workspaceId";
    const query = new URLSearchParams({
      objectType: "CONNECTION",
      objectKey: connectionId,
      [filter]: target.scopeEntityId,
      limit: "100",
    });
    const page = await this.call<{ environmentObjects: EnvironmentObject[] }>(
      credentials,
      "GET",
      `${this.objects(target)}?${query}`,
    );
    return page?.environmentObjects.find(
      (o) => o.objectKey === connectionId && o.scope === target.scope && o.scopeEntityId === target.scopeEntityId,
    );
  }

  private objects(target: AstroTarget): string {
    return `${this.baseUrl}/organizations/${encodeURIComponent(target.organizationId)}/environment-objects`;
  }
}

/** The Astro Platform API over fetch (Astronomer publishes no Node client): bearer token, bounded retries. */
export class AstroApi {
  private readonly fetch: typeof fetch;
  readonly baseUrl: string;
  readonly calls = { requests: 0, writes: 0 };

  constructor(private readonly options: AstroApiOptions = {}) {
    this.fetch = options.fetch ?? globalThis.fetch;
    this.baseUrl = (options.baseUrl ?? ASTRO_API_URL).replace(/\/+$/, "");
  }

  /** One API call, retried on 429, 5xx and dropped connections; a 404 is undefined when `missingOk`. */
  async call<T>(
    token: string | undefined,
    method: string,
    url: string,
    body?: unknown,
    missingOk = false,
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
    let response: Response;
    try {
      response = await withRetries(
        {
          attempts: this.options.attempts ?? 5,
          baseDelayMs: this.options.baseDelayMs ?? 250,
          maxDelayMs: 5000,
          retryable: (e) => e instanceof HttpFailure && (e.status === undefined || e.status === 429 || e.status >= 500),
          what,
          sleep: this.options.sleep,
        },
        async () => {
          this.calls.requests++;
          if (method !== "GET") this.calls.writes++;
          let r: Response;
          try {
            r = await this.fetch(url, {
              method,
              headers: {
                accept: "application/json",
                authorization: `Bearer ${token}`,
                ...(body === undefined ? {} : { "content-type": "application/json" }),
              },
              body: body === undefined ? undefined : JSON.stringify(body),
              signal: AbortSignal.timeout(this.options.timeoutMs ?? 30_000),
            });
          } catch (error) {
            const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).name;
            throw new HttpFailure(`cannot reach ${url} (${cause})`, undefined);
          }
          if (r.status === 429 || r.status >= 500) throw new HttpFailure(`${what} answered ${r.status}`, r.status);
          return r;
        },
      );
    } catch (error) {
      if (error instanceof RetriesExhaustedError) {
        throw new RemoteError(
          redact(`${error.message}. The Astro API is throttling or failing; run pulumi up again later.`, [token]),
          undefined,
          true,
          { cause: error.lastError },
        );
      }
      throw error;
    }
    if (response.status === 404 && missingOk) return undefined;
    if (response.status === 204) return undefined;
    const text = await response.text();
    if (!response.ok) {
      let detail = text.slice(0, 500);
      try {
        const parsed = JSON.parse(text) as { message?: string; fieldErrors?: unknown };
        detail = `${parsed.message ?? detail}${parsed.fieldErrors ? ` ${JSON.stringify(parsed.fieldErrors)}` : ""}`;
      } catch {
        // not JSON: keep the text
      }
      const denied = response.status === 401 || response.status === 403;
      const hint = denied
        ? " Check the Astro API token: it needs an Organization, Workspace or Deployment role that may edit the Environment Manager."
        : "";
      throw new RemoteError(
        redact(`${what} answered ${response.status}: ${detail}.${hint}`, [token]),
        response.status,
        false,
        {
          ...(denied ? { code: "PERMISSION_DENIED" as const } : {}),
        },
      );
    }
    return (text ? JSON.parse(text) : undefined) as T | undefined;
  }
}

interface DeploymentResponse {
  id: string;
  organizationId: string;
  namespace: string;
  cloudProvider?: "AWS" | "GCP" | "AZURE";
  effectiveWorkloadIdentity?: string;
  oidcIssuerUrl?: string;
  webServerAirflowApiUrl?: string;
}

/** GetDeployment, in the terms a grant and its connection need. A missing Deployment is TARGET_MISSING. */
export async function getDeployment(
  api: AstroApi,
  token: string | undefined,
  organizationId: string,
  deploymentId: string,
): Promise<DeploymentFacts> {
  const url = `${api.baseUrl}/organizations/${encodeURIComponent(organizationId)}/deployments/${encodeURIComponent(deploymentId)}`;
  const d = await api.call<DeploymentResponse>(token, "GET", url, undefined, true);
  if (!d) {
    throw new TargetMissingError(
      `Deployment ${deploymentId} does not exist in Astro organization ${organizationId} (or the token may not see it): ` +
        `check deployment.organizationId and deployment.deploymentId`,
    );
  }
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
