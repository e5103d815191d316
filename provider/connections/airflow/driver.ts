import { sameConnectionPayload } from "../../core/canonical";
import { ConnectionExistsError } from "../../core/errors";
import type { LandedTries } from "../../core/remoteCall";
import type {
  AirflowTarget,
  ApiVersion,
  ConnectionDriver,
  ConnectionPayload,
  ConnectionSink,
  ConnectionTarget,
  Credentials,
  ReadOptions,
} from "../../core/types";
import { AirflowAuth } from "./auth";
import { BulkWrites } from "./bulkWrites";
import { PAGE_SIZE, Page, SharedListings } from "./listing";
import { AirflowConnectionsOptions, AirflowTransport, failure, isApiAnswer, notServed } from "./transport";
import { ApiVersions } from "./version";
import { ListedConnection, MANAGED_FIELDS, bodyOf, payloadOf } from "./wire";

/**
 * Connections through the Airflow REST API: `/api/v2` on Airflow 3 (bearer token, or a JWT from
 * `/auth/token`), `/api/v1` on Airflow 2 (bearer token, or basic auth).
 */
export class AirflowConnectionsDriver implements ConnectionDriver {
  private readonly transport: AirflowTransport;
  private readonly auth: AirflowAuth;
  private readonly versions: ApiVersions;
  private readonly listings: SharedListings;
  private readonly bulk: BulkWrites;

  constructor(options: AirflowConnectionsOptions = {}) {
    this.transport = new AirflowTransport(options);
    this.auth = new AirflowAuth(this.transport);
    this.versions = new ApiVersions(this.transport);
    this.listings = new SharedListings(
      (target, offset) => this.page(target, offset),
      (target, connectionId) => this.read(target, connectionId),
    );
    this.bulk = new BulkWrites((target, body, tries) => this.api(target, "PATCH", "/connections", body, true, tries));
  }

  /** Tries made (`requests`), and calls to the connections API that write (`writes`). */
  get calls(): { requests: number; writes: number } {
    return this.transport.calls;
  }

  apiVersion(target: ConnectionTarget): Promise<ApiVersion> {
    return this.versions.of(target);
  }

  async read(
    target: ConnectionTarget,
    connectionId: string,
    options: ReadOptions = {},
  ): Promise<ConnectionPayload | undefined> {
    if (options.share && (await this.apiVersion(target)) === "v2") return this.listings.read(target, connectionId);
    const response = await this.api(target, "GET", `/connections/${encodeURIComponent(connectionId)}`);
    if (response.status === 404) return undefined;
    return payloadOf((await response.json()) as ListedConnection);
  }

  private async page(target: ConnectionTarget, offset: number): Promise<Page> {
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
        this.bulk.enqueue(target, "create", {
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
        this.bulk.enqueue(target, "delete", {
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

  /** One call to the connections API; 404 and 409 are answers for the caller, other failures are errors. */
  private async api(
    target: ConnectionTarget,
    method: string,
    path: string,
    body?: unknown,
    write = false,
    tries?: LandedTries,
  ): Promise<Response> {
    const version = await this.apiVersion(target);
    const url = `${target.url}/api/${version}${path}`;
    let response = await this.transport.send(
      target,
      method,
      url,
      await this.auth.headers(target, version),
      body,
      tries,
    );
    if (response.status === 401 && this.auth.refreshable(target, version)) {
      // The JWT expired (or the password changed): get a fresh one, once.
      this.auth.forget(target);
      response = await this.transport.send(target, method, url, await this.auth.headers(target, version), body, tries);
    }
    if (write) this.transport.calls.writes++;
    if (response.status === 404) {
      // The API's own "not found" is an answer; a page from whatever serves the URL is not.
      const text = await response.text().catch(() => "");
      if (isApiAnswer(text)) return response;
      throw await notServed(target, version, method, url, response, text);
    }
    if (response.ok || (response.status === 409 && method === "POST")) return response;
    throw await failure(target, method, url, response);
  }
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
