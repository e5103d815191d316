import type { ConnectionPayload, ConnectionTarget } from "../../core/types";
import { credentialsKey } from "./auth";
import { ListedConnection, payloadOf } from "./wire";

/** Airflow's default `maximum_page_limit`: a larger `limit` is cut to it. */
export const PAGE_SIZE = 100;

export interface Page {
  connections: ListedConnection[];
  /** `total_entries`, or 0 when the API does not say. */
  total: number;
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
 * A refresh reads one connection per resource. Reads of one Airflow with the same credentials
 * that overlap share one listing while it is in flight, as the grant drivers share a policy read:
 * a refresh of 50 makes a handful of calls, not 50. Only Airflow 3's list holds `extra`, redacted
 * as a single read redacts it. Only a listing of one page is shared: the engine keeps only a few
 * reads in flight, so a listing of many pages would be fetched again for every few reads, at a
 * cost that grows with the Airflow's size.
 */
export class SharedListings {
  private readonly inFlight = new Map<string, Promise<SharedListing>>();
  /** Airflows (by credentials) with more than a page of connections: each read goes on its own. */
  private readonly tooManyToList = new Set<string>();

  constructor(
    private readonly page: (target: ConnectionTarget, offset: number) => Promise<Page>,
    private readonly readOne: (
      target: ConnectionTarget,
      connectionId: string,
    ) => Promise<ConnectionPayload | undefined>,
  ) {}

  async read(target: ConnectionTarget, connectionId: string): Promise<ConnectionPayload | undefined> {
    const key = credentialsKey(target);
    if (this.tooManyToList.has(key)) return this.readOne(target, connectionId);
    let listing = this.inFlight.get(key);
    if (!listing) {
      listing = this.listFirstPage(target, key).finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, listing);
    }
    const { byId, complete } = await listing;
    const found = byId.get(connectionId);
    if (found) return structuredClone(found);
    return complete ? undefined : this.readOne(target, connectionId);
  }

  private async listFirstPage(target: ConnectionTarget, key: string): Promise<SharedListing> {
    const { connections, total } = await this.page(target, 0);
    const byId = new Map(connections.map((c) => [c.connection_id, payloadOf(c)]));
    // Without `total_entries`, a short page is the last one.
    const complete = total > 0 ? total <= connections.length : connections.length < PAGE_SIZE;
    if (!complete) this.tooManyToList.add(key);
    return { byId, complete };
  }
}
