import { createHash } from "node:crypto";
import { sameConnectionPayload } from "../core/canonical";
import { ConnectionExistsError, RemoteError, TargetMissingError, redact } from "../core/errors";
import { RetriesExhaustedError, withRetries } from "../core/retry";
import { certificateError, summarizeBody } from "../core/diagnosis";
import type {
  AirflowTarget,
  ApiVersion,
  ConnectionDriver,
  ConnectionPayload,
  ConnectionSink,
  ConnectionTarget,
  Credentials,
  ExtraValue,
  ReadOptions,
} from "../core/types";

export interface AirflowConnectionsOptions {
  fetch?: typeof fetch;
  attempts?: number;
  baseDelayMs?: number;
  timeoutMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

class HttpFailure extends Error {
  constructor(
    message: string,
    readonly status: number | undefined,
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

const MANAGED_FIELDS = ["conn_type", "description", "extra"] as const;

/** Airflow's default `maximum_page_limit`: a larger `limit` is cut to it. */
const PAGE_SIZE = 100;

interface ListedConnection {
  connection_id: string;
  conn_type?: string;
  description?: string | null;
  extra?: string | null;
}

/** The most connections one bulk call (`PATCH /api/v2/connections`) carries. */
const BULK_MAX = 100;

type BulkAction = "create" | "delete";

/** One write waiting for a bulk call; `alone` makes it on its own when the bulk call cannot. */
interface BulkItem {
  connectionId: string;
  payload?: ConnectionPayload;
  done(removed: boolean): void;
  alone(mayHaveLanded: boolean): Promise<void>;
}

interface BulkQueue {
  target: ConnectionTarget;
  items: BulkItem[];
  flushing: boolean;
}

/**
 * The first page of an Airflow's connections. `complete` when it held them all: only then does a
 * missing id mean the connection is gone.
 */
interface SharedListing {
  byId: Map<string, ConnectionPayload>;
  complete: boolean;
}

/**
 * Connections through the Airflow REST API: `/api/v2` on Airflow 3 (bearer token, or a JWT from
 * `/auth/token`), `/api/v1` on Airflow 2 (bearer token, or basic auth).
 */
export class AirflowConnectionsDriver implements ConnectionDriver {
  private readonly fetch: typeof fetch;
  private readonly versions = new Map<string, Promise<ApiVersion>>();
  private readonly jwts = new Map<string, Promise<string>>();
  private readonly listings = new Map<string, Promise<SharedListing>>();
  private readonly tooManyToList = new Set<string>();
  private readonly bulkQueues = new Map<string, BulkQueue>();
  /** Airflows (by credentials) whose API has no bulk route: each write goes on its own. */
  private readonly noBulk = new Set<string>();
  readonly calls = { requests: 0, writes: 0 };

  constructor(private readonly options: AirflowConnectionsOptions = {}) {
    this.fetch = options.fetch ?? globalThis.fetch;
  }

  apiVersion(target: ConnectionTarget): Promise<ApiVersion> {
    if (target.apiVersion !== "detect") return Promise.resolve(target.apiVersion);
    let detected = this.versions.get(target.url);
    if (!detected) {
      detected = this.detect(target);
      this.versions.set(target.url, detected);
      detected.catch(() => this.versions.delete(target.url));
    }
    return detected;
  }

  /** `/api/v2/version` exists only on Airflow 3; an auth challenge still proves the route is there. */
  private async detect(target: ConnectionTarget): Promise<ApiVersion> {
    for (const version of ["v2", "v1"] as const) {
      const response = await this.send(target, "GET", `${target.url}/api/${version}/version`, {});
      if (response.status !== 404) return version;
    }
    throw new TargetMissingError({
      what: `the Airflow REST API at ${target.url}`,
      kind: "Airflow",
      input: "connection.airflow.url (the Deployment's base URL; on Astro https://<org>.astronomer.run/<deployment>)",
      check: `curl ${target.url}/api/v2/version and ${target.url}/api/v1/version (neither exists now)`,
    });
  }

  async read(
    target: ConnectionTarget,
    connectionId: string,
    options: ReadOptions = {},
  ): Promise<ConnectionPayload | undefined> {
    if (options.share && (await this.apiVersion(target)) === "v2") return this.readFromListing(target, connectionId);
    const response = await this.api(target, "GET", `/connections/${encodeURIComponent(connectionId)}`);
    if (response.status === 404) return undefined;
    return payloadOf((await response.json()) as ListedConnection);
  }

  /**
   * A refresh reads one connection per resource. Reads of one Airflow with the same credentials
   * that overlap share one listing while it is in flight, as the grant drivers share a policy read:
   * a refresh of 50 makes a handful of calls, not 50. Only Airflow 3's list holds `extra`, redacted
   * as a single read redacts it. Only a listing of one page is shared: the engine keeps only a few
   * reads in flight, so a listing of many pages would be fetched again for every few reads, at a
   * cost that grows with the Airflow's size.
   */
  private async readFromListing(target: ConnectionTarget, connectionId: string) {
    const key = credentialsKey(target);
    if (this.tooManyToList.has(key)) return this.read(target, connectionId);
    let listing = this.listings.get(key);
    if (!listing) {
      listing = this.listFirstPage(target, key).finally(() => this.listings.delete(key));
      this.listings.set(key, listing);
    }
    const { byId, complete } = await listing;
    const found = byId.get(connectionId);
    if (found) return structuredClone(found);
    return complete ? undefined : this.read(target, connectionId);
  }

  private async listFirstPage(target: ConnectionTarget, key: string): Promise<SharedListing> {
    const { connections, total } = await this.page(target, 0);
    const byId = new Map(connections.map((c) => [c.connection_id, payloadOf(c)]));
    // Without `total_entries`, a short page is the last one.
    const complete = total > 0 ? total <= connections.length : connections.length < PAGE_SIZE;
    if (!complete) this.tooManyToList.add(key);
    return { byId, complete };
  }

  private async page(target: ConnectionTarget, offset: number) {
    const response = await this.api(target, "GET", `/connections?limit=${PAGE_SIZE}&offset=${offset}`);
    const page = (await response.json()) as { connections?: ListedConnection[]; total_entries?: number };
    return { connections: page.connections ?? [], total: page.total_entries ?? 0 };
  }

  /**
   * Every connection of the Airflow, with its `extra`: for finding what a manual setup made.
   * Airflow 3's list holds `extra`; Airflow 2's leaves it out, so there each connection of a type
   * asked for is read on its own.
   */
  async list(
    target: ConnectionTarget,
    types: readonly string[],
  ): Promise<Array<{ connectionId: string } & ConnectionPayload>> {
    const found: Array<{ connectionId: string } & ConnectionPayload> = [];
    for (let offset = 0; ; offset += PAGE_SIZE) {
      const { connections, total } = await this.page(target, offset);
      for (const c of connections.filter((c) => types.includes(c.conn_type ?? ""))) {
        const live = "extra" in c ? payloadOf(c) : await this.read(target, c.connection_id);
        if (live) found.push({ connectionId: c.connection_id, ...live });
      }
      if (connections.length < PAGE_SIZE || offset + PAGE_SIZE >= total) return found;
    }
  }

  /** The description of every connection of the Airflow, page by page. */
  async descriptions(target: ConnectionTarget): Promise<Array<string | null>> {
    const found: Array<string | null> = [];
    for (let offset = 0; ; offset += PAGE_SIZE) {
      const { connections, total } = await this.page(target, offset);
      found.push(...connections.map((c) => c.description ?? null));
      if (connections.length < PAGE_SIZE || offset + PAGE_SIZE >= total) return found;
    }
  }

  async create(target: ConnectionTarget, connectionId: string, payload: ConnectionPayload): Promise<void> {
    if ((await this.apiVersion(target)) === "v2") {
      return new Promise((resolve, reject) =>
        this.enqueue(target, "create", {
          connectionId,
          payload,
          done: () => resolve(),
          alone: (mayHaveLanded) => this.createOne(target, connectionId, payload, mayHaveLanded).then(resolve, reject),
        }),
      );
    }
    return this.createOne(target, connectionId, payload, false);
  }

  private async createOne(
    target: ConnectionTarget,
    connectionId: string,
    payload: ConnectionPayload,
    mayHaveLanded: boolean,
  ): Promise<void> {
    const tries = { mayHaveLanded };
    const response = await this.api(target, "POST", "/connections", bodyOf(connectionId, payload), true, tries);
    // A try whose answer was lost may have created it: the id is taken by our own write when the
    // connection holds exactly what we sent.
    if (
      response.status === 409 &&
      tries.mayHaveLanded &&
      sameConnectionPayload(await this.read(target, connectionId), payload)
    )
      return;
    if (response.status === 409) {
      throw new ConnectionExistsError(
        `connection ${connectionId} already exists in Airflow at ${target.url} (made by hand or by another stack). ` +
          `To manage it with this resource, set connection.adoptExisting: true; otherwise choose another connection.connectionId.`,
      );
    }
  }

  async update(target: ConnectionTarget, connectionId: string, payload: ConnectionPayload): Promise<void> {
    const version = await this.apiVersion(target);
    // Airflow 2 reads update_mask as one comma-separated value, Airflow 3 as a repeated parameter.
    const mask =
      version === "v1"
        ? `update_mask=${MANAGED_FIELDS.join(",")}`
        : MANAGED_FIELDS.map((f) => `update_mask=${f}`).join("&");
    const response = await this.api(
      target,
      "PATCH",
      `/connections/${encodeURIComponent(connectionId)}?${mask}`,
      bodyOf(connectionId, payload),
      true,
    );
    if (response.status === 404) {
      await this.create(target, connectionId, payload);
    }
  }

  async remove(target: ConnectionTarget, connectionId: string): Promise<{ removed: boolean }> {
    if ((await this.apiVersion(target)) === "v2") {
      return new Promise((resolve, reject) =>
        this.enqueue(target, "delete", {
          connectionId,
          done: (removed) => resolve({ removed }),
          alone: () => this.removeOne(target, connectionId).then(resolve, reject),
        }),
      );
    }
    return this.removeOne(target, connectionId);
  }

  private async removeOne(target: ConnectionTarget, connectionId: string): Promise<{ removed: boolean }> {
    const response = await this.api(
      target,
      "DELETE",
      `/connections/${encodeURIComponent(connectionId)}`,
      undefined,
      true,
    );
    return { removed: response.status !== 404 };
  }

  /**
   * Creates (or deletes) of one Airflow 3 that arrive while a call of the same kind to it is in
   * flight go out together, in one bulk call, when it returns: the creates of a wave of the engine's
   * operations take two calls instead of one each, and no write waits for a timer. A write that
   * arrives alone goes on its own, as before.
   */
  private enqueue(target: ConnectionTarget, action: BulkAction, item: BulkItem): void {
    const key = `${action}\u0000${credentialsKey(target)}`;
    let queue = this.bulkQueues.get(key);
    if (!queue) {
      queue = { target, items: [], flushing: false };
      this.bulkQueues.set(key, queue);
    }
    queue.items.push(item);
    if (!queue.flushing) void this.flush(key, queue, action);
  }

  private async flush(key: string, queue: BulkQueue, action: BulkAction): Promise<void> {
    queue.flushing = true;
    try {
      while (queue.items.length > 0) {
        const batch = queue.items.splice(0, BULK_MAX);
        // The same id twice (two resources naming one connection) is a conflict only single writes name.
        const repeated = new Set(batch.map((item) => item.connectionId)).size < batch.length;
        if (batch.length === 1 || repeated || this.noBulk.has(key)) {
          await Promise.all(batch.map((item) => item.alone(false)));
        } else await this.writeInBulk(key, queue.target, action, batch);
      }
    } finally {
      queue.flushing = false;
    }
  }

  /**
   * One `PATCH /api/v2/connections`. A create fails as a whole when any of its ids is taken; then,
   * as when the call itself fails, each write is made on its own, where a taken id gets its own
   * error (or is found to be our own write whose answer was lost). Deletes skip what is gone.
   */
  private async writeInBulk(key: string, target: ConnectionTarget, action: BulkAction, batch: BulkItem[]) {
    const tries = { mayHaveLanded: false };
    let result: { success?: string[]; errors?: unknown[] } | null | undefined;
    try {
      const actionBody =
        action === "create"
          ? {
              action,
              entities: batch.map((item) => bodyOf(item.connectionId, item.payload!)),
              action_on_existence: "fail",
            }
          : { action, entities: batch.map((item) => item.connectionId), action_on_non_existence: "skip" };
      const response = await this.api(target, "PATCH", "/connections", { actions: [actionBody] }, true, tries);
      if (response.status === 404) this.noBulk.add(key);
      else result = ((await response.json()) as Partial<Record<BulkAction, typeof result>>)[action];
    } catch (error) {
      // Without a bulk route (404, 405), or refused as a whole: each write on its own says what is wrong.
      if (error instanceof RemoteError && (error.status === 404 || error.status === 405)) this.noBulk.add(key);
    }
    const succeeded = new Set(result?.success ?? []);
    const applied = result !== undefined && result !== null && (result.errors ?? []).length === 0;
    const rest: BulkItem[] = [];
    for (const item of batch) {
      if (succeeded.has(item.connectionId)) item.done(true);
      else if (applied && action === "delete") item.done(false);
      else rest.push(item);
    }
    await Promise.all(rest.map((item) => item.alone(tries.mayHaveLanded)));
  }

  /** One call to the connections API; 404 and 409 are answers for the caller, other failures are errors. */
  private async api(
    target: ConnectionTarget,
    method: string,
    path: string,
    body?: unknown,
    write = false,
    tries: { mayHaveLanded: boolean } = { mayHaveLanded: false },
  ): Promise<Response> {
    const version = await this.apiVersion(target);
    const url = `${target.url}/api/${version}${path}`;
    let response = await this.send(target, method, url, await this.authHeaders(target, version), body, tries);
    if (response.status === 401 && target.auth.kind === "password" && version === "v2") {
      // The JWT expired (or the password changed): get a fresh one, once.
      this.jwts.delete(credentialsKey(target));
      response = await this.send(target, method, url, await this.authHeaders(target, version), body, tries);
    }
    if (write) this.calls.writes++;
    if (response.status === 404) {
      // The API's own "not found" is an answer; a page from whatever serves the URL is not.
      const text = await response.text().catch(() => "");
      if (isApiAnswer(text)) return response;
      throw this.notServed(target, version, method, url, response.status, summarizeBody(text, contentTypeOf(response)));
    }
    if (response.ok || (response.status === 409 && method === "POST")) return response;
    throw failure(await this.describeFailure(target, method, url, response), response.status);
  }

  /**
   * A route of the API version in use is not there: the Airflow at the URL runs the other major
   * version (Airflow 2 serves /api/v1, Airflow 3 /api/v2 and /auth/token), or the URL is not the
   * Airflow's base URL.
   */
  private notServed(
    target: ConnectionTarget,
    version: ApiVersion,
    method: string,
    url: string,
    status: number,
    summary: string,
  ): RemoteError {
    const other: ApiVersion = version === "v2" ? "v1" : "v2";
    const advice =
      target.apiVersion === "detect"
        ? `The version was detected at ${target.url}, so connection.airflow.url may not be the Airflow's base URL: check it.`
        : `If it runs Airflow ${other === "v1" ? 2 : 3}, set connection.airflow.apiVersion: "${other}", or "detect" to ` +
          `find the version; otherwise check connection.airflow.url (the Airflow's base URL, such as https://myorg.astronomer.run/d1234567).`;
    return new RemoteError(
      redact(
        `${method} ${url} answered ${status} (${summary}): the Airflow at ${target.url} does not serve API ${version} ` +
          `(${API_OF[version]}). ${advice}`,
        [target.credentials.token, target.credentials.password],
      ),
      status,
    );
  }

  private async authHeaders(target: ConnectionTarget, version: ApiVersion): Promise<Record<string, string>> {
    if (target.auth.kind === "token") {
      const token = target.credentials.token;
      if (!token) throw new RemoteError(missingSecret("token", target.url));
      return { authorization: `Bearer ${token}` };
    }
    const password = target.credentials.password;
    if (!password) throw new RemoteError(missingSecret("password", target.url));
    if (version === "v1") {
      const basic = Buffer.from(`${target.auth.username}:${password}`).toString("base64");
      return { authorization: `Basic ${basic}` };
    }
    const key = credentialsKey(target);
    let jwt = this.jwts.get(key);
    if (!jwt) {
      jwt = this.exchangePassword(target, target.auth.username, password);
      this.jwts.set(key, jwt);
      jwt.catch(() => this.jwts.delete(key));
    }
    return { authorization: `Bearer ${await jwt}` };
  }

  private async exchangePassword(target: ConnectionTarget, username: string, password: string): Promise<string> {
    const url = `${target.url}/auth/token`;
    const response = await this.send(target, "POST", url, {}, { username, password });
    if (response.status === 404) {
      const summary = summarizeBody(await response.text().catch(() => ""), contentTypeOf(response));
      throw this.notServed(target, "v2", "POST", url, response.status, summary);
    }
    if (!response.ok) {
      throw failure(await this.describeFailure(target, "POST", url, response), response.status);
    }
    const body = (await response.json()) as { access_token?: string };
    if (!body.access_token) throw new RemoteError(`POST ${url} answered without an access_token`);
    return body.access_token;
  }

  /**
   * HTTP with bounded retries on 429, 5xx and dropped connections. `tries.mayHaveLanded` tells the
   * caller that a failed try may still have been applied (a 5xx, a dropped connection, a timeout).
   */
  private async send(
    target: ConnectionTarget,
    method: string,
    url: string,
    headers: Record<string, string>,
    body?: unknown,
    tries: { mayHaveLanded: boolean } = { mayHaveLanded: false },
  ): Promise<Response> {
    const what = `${method} ${url}`;
    try {
      return await withRetries(
        {
          attempts: this.options.attempts ?? 5,
          baseDelayMs: this.options.baseDelayMs ?? 250,
          maxDelayMs: 5000,
          retryable: (e) => e instanceof HttpFailure && e.retryable,
          what,
          sleep: this.options.sleep,
        },
        async () => {
          this.calls.requests++;
          let response: Response;
          try {
            response = await this.fetch(url, {
              method,
              headers: {
                accept: "application/json",
                ...headers,
                ...(body ? { "content-type": "application/json" } : {}),
              },
              body: body === undefined ? undefined : JSON.stringify(body),
              signal: AbortSignal.timeout(this.options.timeoutMs ?? 30_000),
            });
          } catch (error) {
            // No request went out: the handshake failed before it, and would again.
            const rejected = certificateError(error, { what, url });
            if (rejected) throw rejected;
            const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).name;
            if (cause !== "ECONNREFUSED") tries.mayHaveLanded = true;
            throw new HttpFailure(`cannot reach ${url} (${cause})`, undefined, true);
          }
          if (response.status >= 500) tries.mayHaveLanded = true;
          if (response.status === 429 || response.status >= 500) {
            throw new HttpFailure(`${what} answered ${response.status}`, response.status, true);
          }
          return response;
        },
      );
    } catch (error) {
      const secrets = [target.credentials.token, target.credentials.password];
      if (error instanceof RetriesExhaustedError) {
        throw new RemoteError(
          redact(`${error.message}. Check that Airflow is up at ${target.url} and run pulumi up again.`, secrets),
          undefined,
          true,
          { cause: error.lastError },
        );
      }
      throw error;
    }
  }

  private async describeFailure(target: ConnectionTarget, method: string, url: string, response: Response) {
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
    return redact(`${method} ${url} answered ${response.status}: ${detail}. Fix: ${hint}.`, [
      target.credentials.token,
      target.credentials.password,
    ]);
  }
}

const API_OF: Record<ApiVersion, string> = { v1: "Airflow 2's REST API", v2: "Airflow 3's REST API" };

function contentTypeOf(response: Response): string {
  return response.headers.get("content-type") ?? "";
}

/**
 * Whether a 404 is the API's own answer, a JSON problem (the connection is not there), rather than
 * a route the server does not have: an HTML page (Airflow 2's webserver under /api/v2), Airflow 3's
 * `{"error": "/api/v1 has been removed …"}`, or a framework's bare "Not Found".
 */
function isApiAnswer(text: string): boolean {
  try {
    const body = JSON.parse(text) as { error?: unknown; detail?: unknown; title?: unknown };
    if (body === null || typeof body !== "object") return false;
    return typeof body.error !== "string" && body.detail !== "Not Found" && body.title !== "Not Found";
  } catch {
    return false;
  }
}

/** Refused credentials get their own code: retrying cannot fix them, a new token can. */
function failure(message: string, status: number): RemoteError {
  const denied = status === 401 || status === 403;
  return new RemoteError(message, status, false, denied ? { code: "PERMISSION_DENIED" } : undefined);
}

function payloadOf(c: ListedConnection): ConnectionPayload {
  return { conn_type: c.conn_type ?? "", description: c.description ?? null, extra: parseExtra(c.extra) };
}

/**
 * One key per Airflow and set of credentials: a JWT got with one password must not serve another,
 * and reads made with other credentials may see other things, so they share no listing.
 */
function credentialsKey(target: ConnectionTarget): string {
  const secret = createHash("sha256")
    .update(`${target.credentials.token ?? ""}\u0000${target.credentials.password ?? ""}`)
    .digest("hex");
  const username = target.auth.kind === "password" ? target.auth.username : "";
  return `${target.url}\u0000${target.auth.kind}\u0000${username}\u0000${secret}`;
}

function missingSecret(kind: "token" | "password", url: string): string {
  return kind === "token"
    ? `no Airflow API token for ${url}: set it with pulumi config set --secret deployment-authorization:airflowToken <token>, ` +
        `or the AIRFLOW_API_TOKEN environment variable, or the component's connection.airflow.auth.token input`
    : `no Airflow password for ${url}: set it with pulumi config set --secret deployment-authorization:airflowPassword <password>, ` +
        `or the AIRFLOW_API_PASSWORD environment variable, or the component's connection.airflow.auth.password input`;
}

function bodyOf(connectionId: string, payload: ConnectionPayload) {
  return {
    connection_id: connectionId,
    conn_type: payload.conn_type,
    description: payload.description,
    // The REST API takes extra as a JSON-encoded string.
    extra: JSON.stringify(payload.extra),
  };
}

function parseExtra(extra: string | null | undefined): Record<string, ExtraValue> {
  if (!extra) return {};
  try {
    const parsed: unknown = JSON.parse(extra);
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) return parsed as Record<string, ExtraValue>;
  } catch {
    // fall through: shown as drift
  }
  return { "(unparsable extra)": extra };
}

/** The lifecycle's view of an Airflow connections driver: the API version is its one fact. */
export function airflowSink(driver: ConnectionDriver): ConnectionSink<AirflowTarget> {
  const at = (target: AirflowTarget, credentials: Credentials): ConnectionTarget => ({ ...target, credentials });
  return {
    // Airflow's column is unbounded text, except 5,000 characters on MySQL.
    maxDescriptionLength: 5000,
    prepare: async (target, credentials) => ({ apiVersion: await driver.apiVersion(at(target, credentials)) }),
    async read(target, credentials, connectionId, _facts, options) {
      const payload = await driver.read(at(target, credentials), connectionId, options);
      return payload ? { payload } : undefined;
    },
    async create(target, credentials, connectionId, payload) {
      await driver.create(at(target, credentials), connectionId, payload);
      return {};
    },
    async update(target, credentials, connectionId, payload) {
      await driver.update(at(target, credentials), connectionId, payload);
      return {};
    },
    remove: (target, credentials, connectionId) => driver.remove(at(target, credentials), connectionId),
    descriptions: (target, credentials) => driver.descriptions(at(target, credentials)),
  };
}
