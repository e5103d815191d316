import { RemoteError } from "../../core/errors";
import type { LandedTries } from "../../core/remoteCall";
import type { ConnectionPayload, ConnectionTarget } from "../../core/types";
import { credentialsKey } from "./auth";
import { bodyOf } from "./wire";

/** The most connections one bulk call (`PATCH /api/v2/connections`) carries. */
const BULK_MAX = 100;

export type BulkAction = "create" | "delete";

/** One write waiting for a bulk call; `alone` makes it on its own when the bulk call cannot. */
export interface BulkItem {
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

/** Sends one bulk body to `PATCH /connections` of Airflow 3's API. */
export type BulkPatch = (target: ConnectionTarget, body: unknown, tries: LandedTries) => Promise<Response>;

/**
 * Creates (or deletes) of one Airflow 3 that arrive while a call of the same kind to it is in
 * flight go out together, in one bulk call, when it returns: the creates of a wave of the engine's
 * operations take two calls instead of one each, and no write waits for a timer. A write that
 * arrives alone goes on its own, as before.
 */
export class BulkWrites {
  private readonly queues = new Map<string, BulkQueue>();
  /** Airflows (by credentials) whose API has no bulk route: each write goes on its own. */
  private readonly noBulk = new Set<string>();

  constructor(private readonly patch: BulkPatch) {}

  enqueue(target: ConnectionTarget, action: BulkAction, item: BulkItem): void {
    const key = `${action}\u0000${credentialsKey(target)}`;
    let queue = this.queues.get(key);
    if (!queue) {
      queue = { target, items: [], flushing: false };
      this.queues.set(key, queue);
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
      const response = await this.patch(target, { actions: [actionBody] }, tries);
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
}
