import { ConnectionExistsError, RemoteError } from "../core/errors";
import { sameConnectionPayload } from "../core/canonical";
import type { AstroTarget, ConnectionPayload, ConnectionSink, Credentials, ExtraValue, Resolved } from "../core/types";
import { AstroApi, AstroApiOptions } from "./api";

const ASTRO_PAGE_SIZE = 100;

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

/**
 * Connections as environment objects of type CONNECTION in Astro's Environment Manager (Astro
 * Platform API), scoped to a Deployment, or to a Workspace and linked to Deployments. The object's
 * id is the fact kept in state. Every update sends the connection's type and the links, since the
 * API clears links an update leaves out.
 */
export class AstroEnvironmentConnections implements ConnectionSink<AstroTarget> {
  /** CreateEnvironmentObjectRequest's `description` has maxLength 500. */
  readonly maxDescriptionLength = 500;
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

  private call<T>(
    credentials: Credentials,
    method: string,
    url: string,
    body?: unknown,
    missingOk = false,
    tries?: { mayHaveLanded: boolean },
  ) {
    return this.api.call<T>(credentials.token, method, url, body, missingOk, tries);
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
    const tries = { mayHaveLanded: false };
    let created: { id: string } | undefined;
    try {
      created = await this.call<{ id: string }>(
        credentials,
        "POST",
        this.objects(target),
        {
          objectKey: connectionId,
          objectType: "CONNECTION",
          scope: target.scope,
          scopeEntityId: target.scopeEntityId,
          ...this.body(target, payload),
        },
        false,
        tries,
      );
    } catch (error) {
      // A try whose answer was lost may have created it: the key is taken by our own object when it
      // holds exactly what we sent.
      if (!(tries.mayHaveLanded && error instanceof RemoteError && error.status === 409)) throw error;
      const ours = await this.findByKey(target, credentials, connectionId);
      if (!ours?.id || !this.holds(ours, payload)) throw error;
      return { environmentObjectId: ours.id };
    }
    if (!created?.id) throw new RemoteError(`POST ${this.objects(target)} answered without the new object's id`);
    return { environmentObjectId: created.id };
  }

  private holds(object: EnvironmentObject, payload: ConnectionPayload): boolean {
    // Astro keeps no description as "": none and empty are the same there.
    return sameConnectionPayload(
      {
        conn_type: object.connection?.type ?? "",
        description: object.description || null,
        extra: object.connection?.extra ?? {},
      },
      { ...payload, description: payload.description || null },
    );
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
    // Missing by then is done: a try whose answer was lost deleted it.
    await this.call(credentials, "DELETE", `${this.objects(target)}/${encodeURIComponent(object.id)}`, undefined, true);
    return { removed: true };
  }

  /** The description of every connection object in the target's scope, page by page. */
  async descriptions(target: AstroTarget, credentials: Credentials): Promise<Array<string | null>> {
    const filter = target.scope === "DEPLOYMENT" ? "deploymentId" : "workspaceId";
    const found: Array<string | null> = [];
    for (let offset = 0; ; offset += ASTRO_PAGE_SIZE) {
      const query = new URLSearchParams({
        objectType: "CONNECTION",
        [filter]: target.scopeEntityId,
        offset: String(offset),
        limit: String(ASTRO_PAGE_SIZE),
      });
      const page = await this.call<{ environmentObjects: EnvironmentObject[]; totalCount?: number }>(
        credentials,
        "GET",
        `${this.objects(target)}?${query}`,
      );
      const objects = page?.environmentObjects ?? [];
      found.push(
        ...objects
          .filter((o) => o.scope === target.scope && o.scopeEntityId === target.scopeEntityId)
          .map((o) => o.description ?? null),
      );
      if (objects.length < ASTRO_PAGE_SIZE || offset + ASTRO_PAGE_SIZE >= (page?.totalCount ?? 0)) return found;
    }
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
