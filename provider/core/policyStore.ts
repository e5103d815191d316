import { AuthorizationError } from "./errors";
import { withLock } from "./lock";
import { defaultSleep, jitteredDelay } from "./retry";

/**
 * One remote policy document that many resources edit: an IAM role's trust policy, a project's or a
 * service account's IAM policy. The store only reads and writes whole documents; the writer below
 * turns concurrent edits into few, safe writes.
 */
export interface PolicyStore<P, F> {
  /** Whether writes carry an etag that the remote refuses when stale. Without one, writes are verified. */
  readonly etags: boolean;
  /** For messages: "the trust policy of role x". */
  describe(target: string): string;
  /** Edits with the same key share a queue and a lock (two spellings of one target map to one key). */
  lockKey(target: string): string;
  /** The document, its etag (when the remote has them) and facts learned on the way (a role's ARN). */
  read(target: string): Promise<{ policy: P; etag?: string; facts: F }>;
  /** Writes the whole document; throws StalePolicyError when the etag is no longer current. */
  write(target: string, policy: P, etag: string | undefined): Promise<void>;
  /** A limit the next document would break (policy length, principals per policy), explained. */
  checkLimits?(target: string, current: P, next: P): Promise<AuthorizationError | undefined>;
}

/** The remote refused a write because its etag was stale: someone else wrote since our read. */
export class StalePolicyError extends Error {}

export interface PolicyEdit<P> {
  /** For messages: "add the grant of AirflowDAAssumeRole". */
  what: string;
  apply(policy: P): P;
  holds(policy: P): boolean;
  /** Removals go first in a batch, so the room they free counts for the additions. */
  removal: boolean;
}

export interface EditResult<P, F> {
  facts: F;
  changed: boolean;
  /** The document as read in the batch that applied (or found) this edit, before any write. */
  before: P;
}

export interface SharedPolicyOptions {
  /** Tries to converge when another writer keeps overwriting (or racing) the document. */
  convergeAttempts?: number;
  baseDelayMs?: number;
  /**
   * A write waits until no edit to the target has come for this long (at most `batchMaxWaitMs`), so
   * the creates of one `pulumi up`, which arrive one after another, share writes.
   */
  batchQuietMs?: number;
  batchMaxWaitMs?: number;
  /**
   * Without etags, another process may write a document it read before ours landed. Writes go out at
   * most `maxReadAgeMs` after their read, and are read back no sooner than `verifyDelayMs` after,
   * so such an overwrite is seen and our edit applied again.
   */
  maxReadAgeMs?: number;
  verifyDelayMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

interface QueuedEdit<P, F> extends PolicyEdit<P> {
  tries: number;
  resolve(result: EditResult<P, F>): void;
  reject(error: unknown): void;
}

interface TargetQueue<P, F> {
  edits: Array<QueuedEdit<P, F>>;
  draining: boolean;
  lastArrival: number;
  /** Batches put back because their read was too old; bounded, so a slow remote still gets written. */
  staleReads: number;
}

/**
 * Read-modify-write of shared policy documents under a per-target lock kept on `globalThis`.
 * Edits to one target that arrive together are written together. With etags, a stale write is
 * re-read and re-applied; without, every write is read back and an overwritten edit re-applied,
 * each after a jittered pause and within a bound.
 */
export class SharedPolicyWriter<P, F> {
  private readonly queues = new Map<string, TargetQueue<P, F>>();
  private readonly sharedReads = new Map<string, Promise<{ policy: P; facts: F }>>();

  constructor(
    private readonly store: PolicyStore<P, F>,
    private readonly options: SharedPolicyOptions = {},
  ) {}

  /** Reads for refresh: concurrent reads of one target share one remote read. */
  read(target: string): Promise<{ policy: P; facts: F }> {
    const key = this.store.lockKey(target);
    let shared = this.sharedReads.get(key);
    if (!shared) {
      shared = this.store.read(target).finally(() => this.sharedReads.delete(key));
      this.sharedReads.set(key, shared);
    }
    return shared;
  }

  submit(target: string, edit: PolicyEdit<P>): Promise<EditResult<P, F>> {
    const key = this.store.lockKey(target);
    return new Promise((resolve, reject) => {
      let queue = this.queues.get(key);
      if (!queue) this.queues.set(key, (queue = { edits: [], draining: false, lastArrival: 0, staleReads: 0 }));
      queue.edits.push({ ...edit, tries: 0, resolve, reject });
      queue.lastArrival = Date.now();
      if (!queue.draining) void this.drain(target, key, queue);
    });
  }

  private get sleep() {
    return this.options.sleep ?? defaultSleep;
  }

  private async drain(target: string, key: string, queue: TargetQueue<P, F>): Promise<void> {
    queue.draining = true;
    try {
      while (queue.edits.length > 0) {
        await this.gather(queue);
        const batch = queue.edits.splice(0).sort((a, b) => Number(b.removal) - Number(a.removal));
        await withLock(key, () => this.writeBatch(target, batch, queue)).catch((error: unknown) =>
          batch.forEach((edit) => edit.reject(error)),
        );
      }
    } finally {
      queue.draining = false;
    }
  }

  private async gather(queue: TargetQueue<P, F>): Promise<void> {
    const quiet = this.options.batchQuietMs ?? 200;
    const deadline = Date.now() + (this.options.batchMaxWaitMs ?? 1500);
    for (let idle = 0; idle < quiet && Date.now() < deadline; idle = Date.now() - queue.lastArrival) {
      await this.sleep(Math.min(quiet - idle, Math.max(1, deadline - Date.now())));
    }
  }

  /** One read, one write (and, without etags, one read back) for a whole batch of edits to one target. */
  private async writeBatch(target: string, batch: Array<QueuedEdit<P, F>>, queue: TargetQueue<P, F>): Promise<void> {
    const readAt = Date.now();
    const { policy, etag, facts } = await this.store.read(target);
    const todo: Array<QueuedEdit<P, F>> = [];
    for (const edit of batch) {
      if (edit.holds(policy)) edit.resolve({ facts, changed: false, before: policy });
      else todo.push(edit);
    }
    if (todo.length === 0) return;

    let next = policy;
    const written: Array<QueuedEdit<P, F>> = [];
    for (const edit of todo) {
      const candidate = edit.apply(next);
      const overLimit = await this.store.checkLimits?.(target, policy, candidate);
      if (overLimit && !edit.removal) edit.reject(overLimit);
      else {
        next = candidate;
        written.push(edit);
      }
    }
    if (written.length === 0) return;

    if (this.store.etags) {
      try {
        await this.store.write(target, next, etag);
      } catch (error) {
        if (!(error instanceof StalePolicyError)) throw error;
        await this.retryLater(target, written, queue);
        return;
      }
      written.forEach((edit) => edit.resolve({ facts, changed: true, before: policy }));
      return;
    }

    if (Date.now() - readAt > (this.options.maxReadAgeMs ?? 500) && queue.staleReads < 3) {
      // Our read is too old to write on safely: read again and redo the batch.
      queue.staleReads++;
      queue.edits.push(...written);
      return;
    }
    queue.staleReads = 0;
    await this.store.write(target, next, undefined);

    const verifyDelay = this.options.verifyDelayMs ?? 600;
    await this.sleep(verifyDelay * (1 + Math.random() / 2));
    const after = await this.store.read(target);
    const overwritten = written.filter((edit) => {
      if (!edit.holds(after.policy)) return true;
      edit.resolve({ facts: after.facts, changed: true, before: policy });
      return false;
    });
    if (overwritten.length > 0) await this.retryLater(target, overwritten, queue);
  }

  /** Another writer won: after a jittered pause, the edits go round again, each a bounded number of times. */
  private async retryLater(target: string, edits: Array<QueuedEdit<P, F>>, queue: TargetQueue<P, F>) {
    const limit = this.options.convergeAttempts ?? 8;
    const again = edits.filter((edit) => {
      if (++edit.tries < limit) return true;
      edit.reject(
        new AuthorizationError(
          "CONFLICT",
          `could not ${edit.what} in ${this.store.describe(target)}: another writer overwrote it ` +
            `${edit.tries} times in a row. Find what else edits it (another stack, a console ` +
            `session, a script) and run pulumi up again.`,
        ),
      );
      return false;
    });
    if (again.length === 0) return;
    const tries = Math.max(...again.map((e) => e.tries));
    await this.sleep(jitteredDelay(tries, this.options.baseDelayMs ?? 200, 5000));
    queue.edits.push(...again);
  }
}
