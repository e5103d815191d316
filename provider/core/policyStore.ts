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

/**
 * The remote refused a write because its etag was stale: someone else wrote since our read. When
 * an earlier try of the same write may have reached the remote (its answer was lost), that someone
 * may have been us: `earlierTryMayHaveLanded` says so.
 */
export class StalePolicyError extends Error {
  constructor(
    message: string,
    readonly earlierTryMayHaveLanded = false,
  ) {
    super(message);
  }
}

export interface PolicyEdit<P, F = unknown> {
  /** For messages: "add the grant of AirflowDAAssumeRole". */
  what: string;
  /**
   * Idempotent: a later write applies it again until it is read back, in case the remote serves
   * that write's read from before it.
   */
  apply(policy: P): P;
  holds(policy: P): boolean;
  /** Removals go first in a batch, so the room they free counts for the additions. */
  removal: boolean;
  /** Called with the facts of the batch's read, before the write and its verification. */
  factsKnown?(facts: F): void;
  /**
   * Called with the document it was written over when a write that held this edit failed in a way
   * that may still have applied it (every answer lost): the edit's caller may take it back.
   */
  writeFailed?(before: P): void;
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
   * Without etags, another process may write a document it read before ours landed. Writes go out at
   * most `maxReadAgeMs` (250) after their read began, and are read back `verifyDelayMs` (300) to a
   * quarter more after they were answered, so such an overwrite by any writer that keeps the same
   * bound is seen and our edit applied again. The 50 ms between the two cover the other write's
   * flight to the server.
   */
  maxReadAgeMs?: number;
  verifyDelayMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

interface QueuedEdit<P, F> extends PolicyEdit<P, F> {
  tries: number;
  /**
   * The document as read before a write of ours that may have landed unseen: found holding later,
   * the edit is still this call's change, measured against that document.
   */
  beforeUnseenWrite?: P;
  resolve(result: EditResult<P, F>): void;
  reject(error: unknown): void;
}

interface TargetQueue<P, F> {
  edits: Array<QueuedEdit<P, F>>;
  draining: boolean;
  /** Batches put back because their read was too old; bounded, so a slow remote still gets written. */
  staleReads: number;
  /** The edits of writes not yet read back (without etags), in the order they were written. */
  unverified: Array<Array<QueuedEdit<P, F>>>;
}

/**
 * Read-modify-write of shared policy documents under a per-target lock kept on `globalThis`.
 * An edit goes out as soon as no write of its target is in flight; the edits that arrive while one
 * is share the next write. So a create waits for no timer (its slot in the engine is freed as soon
 * as its own write is done), and the slower the remote answers, the more edits each write carries.
 * With etags, a stale write is re-read and re-applied; without, every write is read back and an
 * overwritten edit re-applied, each after a jittered pause and within a bound.
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

  submit(target: string, edit: PolicyEdit<P, F>): Promise<EditResult<P, F>> {
    return new Promise((resolve, reject) => {
      const key = this.store.lockKey(target);
      const queue = this.queues.get(key) ?? this.newQueue(key);
      queue.edits.push({ ...edit, tries: 0, resolve, reject });
      this.kick(target, key, queue);
    });
  }

  private newQueue(key: string): TargetQueue<P, F> {
    const queue: TargetQueue<P, F> = { edits: [], draining: false, staleReads: 0, unverified: [] };
    this.queues.set(key, queue);
    return queue;
  }

  private kick(target: string, key: string, queue: TargetQueue<P, F>): void {
    if (!queue.draining && queue.edits.length > 0) void this.drain(target, key, queue);
  }

  private get sleep() {
    return this.options.sleep ?? defaultSleep;
  }

  private async drain(target: string, key: string, queue: TargetQueue<P, F>): Promise<void> {
    queue.draining = true;
    try {
      while (queue.edits.length > 0) {
        // Edits submitted in the same turn of the event loop (a program's Promise.all) share the
        // first write too.
        await new Promise((resolve) => setImmediate(resolve));
        const batch = queue.edits.splice(0).sort((a, b) => Number(b.removal) - Number(a.removal));
        const written = await withLock(key, () => this.writeBatch(target, batch, queue)).catch((error: unknown) => {
          batch.forEach((edit) => edit.reject(error));
          return undefined;
        });
        // The read-back waits outside the lock, so the next batch is written meanwhile: it reads
        // after this write and applies this batch's edits again until they are read back, so a read
        // the remote serves stale does not undo them; this read-back still sees any overwrite by
        // another process.
        if (written) {
          queue.unverified.push(written.edits);
          void this.verify(target, key, written, queue);
        }
      }
    } finally {
      queue.draining = false;
    }
    this.kick(target, key, queue);
  }

  /**
   * One read and one write for a whole batch of edits to one target. Without etags, returns what
   * was written, for `verify` to read back.
   */
  private async writeBatch(
    target: string,
    batch: Array<QueuedEdit<P, F>>,
    queue: TargetQueue<P, F>,
  ): Promise<{ edits: Array<QueuedEdit<P, F>>; before: P } | undefined> {
    const readAt = Date.now();
    const { policy, etag, facts } = await this.store.read(target);
    for (const edit of batch) edit.factsKnown?.(facts);
    const todo: Array<QueuedEdit<P, F>> = [];
    for (const edit of batch) {
      if (!edit.holds(policy)) todo.push(edit);
      else if (edit.beforeUnseenWrite !== undefined)
        edit.resolve({ facts, changed: true, before: edit.beforeUnseenWrite });
      else edit.resolve({ facts, changed: false, before: policy });
    }
    if (todo.length === 0) return;

    // The edits are idempotent: on a read that already holds them, applying them changes nothing.
    let next = queue.unverified.flat().reduce((doc, edit) => edit.apply(doc), policy);
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
        if (!(error instanceof StalePolicyError)) {
          for (const edit of written) edit.writeFailed?.(edit.beforeUnseenWrite ?? policy);
          throw error;
        }
        if (error.earlierTryMayHaveLanded) for (const edit of written) edit.beforeUnseenWrite ??= policy;
        await this.retryLater(target, written, queue);
        return;
      }
      written.forEach((edit) => edit.resolve({ facts, changed: true, before: policy }));
      return;
    }

    if (Date.now() - readAt > (this.options.maxReadAgeMs ?? 250) && queue.staleReads < 3) {
      // Our read is too old to write on safely: read again and redo the batch.
      queue.staleReads++;
      queue.edits.push(...written);
      return;
    }
    queue.staleReads = 0;
    try {
      await this.store.write(target, next, undefined);
    } catch (error) {
      for (const edit of written) edit.writeFailed?.(policy);
      throw error;
    }
    return { edits: written, before: policy };
  }

  /** Reads a write back once any writer that read before it must have written; re-applies what was lost. */
  private async verify(
    target: string,
    key: string,
    written: { edits: Array<QueuedEdit<P, F>>; before: P },
    queue: TargetQueue<P, F>,
  ): Promise<void> {
    try {
      const verifyDelay = this.options.verifyDelayMs ?? 300;
      await this.sleep(verifyDelay * (1 + Math.random() / 4));
      const after = await this.store.read(target);
      const overwritten = written.edits.filter((edit) => {
        if (!edit.holds(after.policy)) return true;
        edit.resolve({ facts: after.facts, changed: true, before: written.before });
        return false;
      });
      queue.unverified = queue.unverified.filter((edits) => edits !== written.edits);
      if (overwritten.length > 0) await this.retryLater(target, overwritten, queue);
    } catch (error) {
      queue.unverified = queue.unverified.filter((edits) => edits !== written.edits);
      written.edits.forEach((edit) => edit.reject(error));
    }
    this.kick(target, key, queue);
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
