import { AuthorizationError } from "./errors";
import { withLock } from "./lock";
import { defaultSleep, jitteredDelay } from "./retry";

/**
 * Told by a store right before each try of a call goes to the remote: the last step before the
 * request is sent, after the client's own serialization and signing, so the writer times what the
 * remote sees and not when the call was asked for (on a busy machine the two can be far apart).
 */
export interface CallTiming {
  /**
   * Called right before a try is sent. For a write without etags it throws `ReadTooOldError` when
   * the read the write is based on went out longer ago than the bound allows: that try is not sent.
   */
  sending(): void;
}

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
  /**
   * The document, its etag (when the remote has them) and facts learned on the way (a role's ARN).
   * A store without etags calls `timing.sending()` right before each try goes out.
   */
  read(target: string, timing?: CallTiming): Promise<{ policy: P; etag?: string; facts: F }>;
  /**
   * Writes the whole document; throws StalePolicyError when the etag is no longer current. A store
   * without etags calls `timing.sending()` right before each try goes out and lets the
   * `ReadTooOldError` it may throw through as it is.
   */
  write(target: string, policy: P, etag: string | undefined, timing?: CallTiming): Promise<void>;
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

/**
 * A write (or a retry of one) was about to go out longer after its read than the bound allows, and
 * was not sent; the batch reads again. An earlier try of the same write may have been sent (and
 * landed) within the bound: `earlierTryMayHaveLanded` says so.
 */
export class ReadTooOldError extends Error {
  constructor(
    message: string,
    readonly earlierTryMayHaveLanded = false,
  ) {
    super(message);
    this.name = "ReadTooOldError";
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

/**
 * Writes without etags (IAM trust policies) follow one timing rule, the same in every process that
 * runs this code, taken from what the writer measures rather than from constants:
 *
 * - The bound. A write is sent at most B after the read it is based on was sent, with
 *   B = max(maxReadAgeMs, median of the recent reads + sendWithinMs). Both ends are taken right
 *   before the request goes out (`CallTiming.sending`), so a late timer, a busy event loop or a
 *   client that sends later than asked can only make a write miss the bound, never send it past
 *   it: a write that would go out too late is not sent, and its batch reads again (up to
 *   `staleReadAttempts` times in a row, then the edit fails; there is no "write anyway").
 * - The read-back. A write is read back at least D after its answer arrived, with
 *   D = max(verifyDelayMs, max(maxReadAgeMs, U + sendWithinMs) + U + verifyMarginMs), plus up to
 *   a quarter of verifyDelayMs of jitter, where U is how long a call to the remote may take: the
 *   slowest of the last 32 calls (reads and writes), plus their spread and median over their
 *   number, so that while few were seen (a process's first writes) a slower call is still covered.
 *   Each call is timed from the send of the try that was answered to its answer, the wait of a
 *   busy event loop included, which only makes D longer. A read-back that a late timer sends later
 *   only waited longer; one that an early timer would send sooner waits out the rest.
 *
 * Why another writer's overwrite is seen: say our write lands at w, before its answer arrives at a,
 * and another writer's write, based on a read the remote served before w (so without our edit),
 * lands after w. That read was sent before w, the write at most B' after the read, and it landed
 * before its answer, at most W' after it was sent: before a + B' + W'. Our read-back is sent after
 * a + D, so it is served after that write when D >= B' + W', finds our edit gone, and applies it
 * again. For a writer running this code, B' <= max(maxReadAgeMs, its median read + sendWithinMs)
 * and W' is one of its calls, and D puts U in the place of both: it covers another process whose
 * calls to the same remote are no slower than U (verifyMarginMs covers a little more). Nothing is
 * assumed about how a call's latency splits between the way there and the way back (the worst
 * split, a read served at once and answered late, a write landing just before its answer, is the
 * one counted), or about the speed of this machine. A writer that does not run this code is
 * covered when it sends its write within B of sending its read (within sendWithinMs of its
 * answer, when its read is no slower than ours) and its write is no slower than U. One that holds
 * its read longer can still overwrite an edit unseen; and an edit another writer makes between our
 * read and our write is undone by our write, and only that writer's own read-back can see it.
 *
 * On a fast remote (calls of a few ms) this is what it always was: B = 250 ms, D = 300 ms.
 */
export interface SharedPolicyOptions {
  /** Tries to converge when another writer keeps overwriting (or racing) the document. */
  convergeAttempts?: number;
  baseDelayMs?: number;
  /** The least bound between a read's send and its write's send (without etags); default 250. */
  maxReadAgeMs?: number;
  /** What the bound allows after a read's answer, on top of the read's latency; default 200. */
  sendWithinMs?: number;
  /** The least read-back delay, counted from a write's answer (without etags); default 300. */
  verifyDelayMs?: number;
  /** What the read-back delay adds to cover another writer's slower calls; default 25. */
  verifyMarginMs?: number;
  /** Reads redone in a row because the write would have missed the bound, before the edit fails; default 12. */
  staleReadAttempts?: number;
  sleep?: (ms: number) => Promise<void>;
}

/** A read as the writer saw it: when it was sent and answered, by this process's clock. */
interface Snapshot<P, F> {
  policy: P;
  etag?: string;
  facts: F;
  sentAt: number;
  answeredAt: number;
}

interface QueuedEdit<P, F> extends PolicyEdit<P, F> {
  tries: number;
  /** Reads redone in a row for this edit because its write would have missed the bound. */
  staleReads: number;
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
  /** The edits of writes not yet read back (without etags), in the order they were written. */
  unverified: Array<Array<QueuedEdit<P, F>>>;
}

/** A write to read back: its edits, the document it was written over, and when its answer came. */
interface Written<P, F> {
  edits: Array<QueuedEdit<P, F>>;
  before: P;
  answeredAt: number;
}

/** The latencies of the last tries of one kind of call, in ms. */
class LatencyWindow {
  private readonly samples: number[] = [];
  constructor(private readonly size = 32) {}

  add(ms: number): void {
    this.samples.push(Math.max(0, ms));
    if (this.samples.length > this.size) this.samples.shift();
  }

  /**
   * How long a call may take, from what was seen: the slowest of the window, plus its spread and
   * its median over the number of samples, so that while few calls were seen (the first writes of
   * a process) a call slower than any of them is still covered, and with a full window of calls at
   * one steady latency the estimate is that latency plus a few percent.
   */
  upper(): number {
    const n = this.samples.length;
    if (n === 0) return 0;
    const slowest = Math.max(...this.samples);
    return slowest + (slowest - Math.min(...this.samples) + this.median()) / n;
  }

  median(): number {
    if (this.samples.length === 0) return 0;
    const sorted = [...this.samples].sort((a, b) => a - b);
    return sorted[Math.floor((sorted.length - 1) / 2)]!;
  }
}

/**
 * Read-modify-write of shared policy documents under a per-target lock kept on `globalThis`.
 * An edit goes out as soon as no write of its target is in flight; the edits that arrive while one
 * is (or while the read for the next one is) share the next write. So a create waits for no timer
 * (its slot in the engine is freed as soon as its own write is done), and the slower the remote
 * answers, the more edits each write carries. With etags, a stale write is re-read and re-applied;
 * without, every write is read back and an overwritten edit re-applied, each after a jittered pause
 * and within a bound (see SharedPolicyOptions for the timing).
 */
export class SharedPolicyWriter<P, F> {
  private readonly queues = new Map<string, TargetQueue<P, F>>();
  private readonly sharedReads = new Map<string, Promise<Snapshot<P, F>>>();
  /** Reads only: the bound is a promise about this process's reads. */
  private readonly readLatency = new LatencyWindow();
  /** Every call, reads and writes: what another process's calls to the same remote may take. */
  private readonly callLatency = new LatencyWindow();

  constructor(
    private readonly store: PolicyStore<P, F>,
    private readonly options: SharedPolicyOptions = {},
  ) {}

  /** The bound, now: the longest a write may go out after its read went out (without etags). */
  readBound(): number {
    return Math.max(this.options.maxReadAgeMs ?? 250, this.readLatency.median() + (this.options.sendWithinMs ?? 200));
  }

  /** The read-back delay, now: the least time between a write's answer and its read-back (without etags). */
  verifyDelay(): number {
    const call = this.callLatency.upper();
    const othersBound = Math.max(this.options.maxReadAgeMs ?? 250, call + (this.options.sendWithinMs ?? 200));
    return Math.max(this.options.verifyDelayMs ?? 300, othersBound + call + (this.options.verifyMarginMs ?? 25));
  }

  /** Reads for refresh: concurrent reads of one target share one remote read. */
  async read(target: string): Promise<{ policy: P; facts: F }> {
    const { policy, facts } = await this.sharedRead(target, this.store.lockKey(target));
    return { policy, facts };
  }

  submit(target: string, edit: PolicyEdit<P, F>): Promise<EditResult<P, F>> {
    return new Promise((resolve, reject) => {
      const key = this.store.lockKey(target);
      const queue = this.queues.get(key) ?? this.newQueue(key);
      queue.edits.push({ ...edit, tries: 0, staleReads: 0, resolve, reject });
      this.kick(target, key, queue);
    });
  }

  private sharedRead(target: string, key: string): Promise<Snapshot<P, F>> {
    let shared = this.sharedReads.get(key);
    if (!shared) {
      shared = this.timedRead(target).finally(() => this.sharedReads.delete(key));
      this.sharedReads.set(key, shared);
    }
    return shared;
  }

  /** One read, timed from the send of the try that was answered to its answer. */
  private async timedRead(target: string): Promise<Snapshot<P, F>> {
    let sentAt = Date.now();
    const answer = await this.store.read(target, { sending: () => (sentAt = Date.now()) });
    const answeredAt = Date.now();
    this.readLatency.add(answeredAt - sentAt);
    this.callLatency.add(answeredAt - sentAt);
    const snapshot = { ...answer, sentAt, answeredAt };
    return snapshot;
  }

  private newQueue(key: string): TargetQueue<P, F> {
    const queue: TargetQueue<P, F> = { edits: [], draining: false, unverified: [] };
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
        const written = await withLock(key, () => this.writeBatch(target, key, queue));
        // The read-back waits outside the lock, so the next batch is written meanwhile: it reads
        // after this write and applies this batch's edits again until they are read back, so a read
        // the remote serves stale does not undo them; this read-back still sees any overwrite by
        // another process.
        for (const write of written) {
          queue.unverified.push(write.edits);
          void this.verify(target, key, write, queue);
        }
      }
    } finally {
      queue.draining = false;
    }
    this.kick(target, key, queue);
  }

  /**
   * One read and one write for every edit waiting when the read is answered. Without etags, returns
   * what was written (and what an unseen write of ours had written), for `verify` to read back.
   */
  private async writeBatch(target: string, key: string, queue: TargetQueue<P, F>): Promise<Array<Written<P, F>>> {
    let read: Snapshot<P, F>;
    try {
      read = await this.timedRead(target);
    } catch (error) {
      queue.edits.splice(0).forEach((edit) => edit.reject(error));
      return [];
    }
    // Taken after the read: the edits that arrived during it share its write.
    const batch = queue.edits.splice(0).sort((a, b) => Number(b.removal) - Number(a.removal));
    const { policy, facts } = read;
    const todo: Array<QueuedEdit<P, F>> = [];
    const unseen: Array<Written<P, F>> = [];
    try {
      for (const edit of batch) edit.factsKnown?.(facts);
      const landedUnseen: Array<QueuedEdit<P, F>> = [];
      // The document as our writes not yet read back leave it: an edit found holding only there
      // (or only in the read) is written again, so that its own read-back answers it.
      const ours = queue.unverified.flat().reduce((doc, edit) => edit.apply(doc), policy);
      for (const edit of batch) {
        if (!edit.holds(policy) || !edit.holds(ours)) todo.push(edit);
        // Without etags, a write of ours whose answer was lost is read back like any other.
        else if (edit.beforeUnseenWrite !== undefined && !this.store.etags) landedUnseen.push(edit);
        else if (edit.beforeUnseenWrite !== undefined)
          edit.resolve({ facts, changed: true, before: edit.beforeUnseenWrite });
        else edit.resolve({ facts, changed: false, before: policy });
      }
      if (landedUnseen.length > 0) unseen.push({ edits: landedUnseen, before: policy, answeredAt: read.answeredAt });
      if (todo.length === 0) return unseen;
      return [...(await this.writeEdits(target, key, queue, read, todo)), ...unseen];
    } catch (error) {
      // Settling an edit twice does nothing: those already answered keep their answer.
      batch.forEach((edit) => edit.reject(error));
      return [];
    }
  }

  private async writeEdits(
    target: string,
    key: string,
    queue: TargetQueue<P, F>,
    read: Snapshot<P, F>,
    todo: Array<QueuedEdit<P, F>>,
  ): Promise<Array<Written<P, F>>> {
    const { policy, etag, facts } = read;
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
    if (written.length === 0) return [];

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
        return [];
      }
      written.forEach((edit) => edit.resolve({ facts, changed: true, before: policy }));
      return [];
    }

    // Every try is checked against the bound right before it goes out; the writer checks once more
    // itself, for a store that does not report its sends.
    let sentAt: number | undefined;
    let triesSent = 0;
    const beforeSend = () => {
      const now = Date.now();
      const age = now - read.sentAt;
      const bound = this.readBound();
      if (age > bound)
        throw new ReadTooOldError(
          `the write of ${this.store.describe(target)} would go out ${age} ms after its read, past the ` +
            `${bound} ms bound`,
          triesSent > 0,
        );
      return now;
    };
    try {
      sentAt = beforeSend();
      await this.store.write(target, next, undefined, {
        sending: () => {
          sentAt = beforeSend();
          triesSent++;
        },
      });
    } catch (error) {
      if (error instanceof ReadTooOldError) {
        if (error.earlierTryMayHaveLanded) for (const edit of written) edit.beforeUnseenWrite ??= policy;
        this.readAgain(target, written, queue, error);
        return [];
      }
      for (const edit of written) edit.writeFailed?.(edit.beforeUnseenWrite ?? policy);
      throw error;
    }
    const answeredAt = Date.now();
    this.callLatency.add(answeredAt - sentAt);
    return [{ edits: written, before: policy, answeredAt }];
  }

  /** A write that would have missed the bound goes round again at once, on a new read, a bounded number of times. */
  private readAgain(target: string, edits: Array<QueuedEdit<P, F>>, queue: TargetQueue<P, F>, cause: ReadTooOldError) {
    const limit = this.options.staleReadAttempts ?? 12;
    const again = edits.filter((edit) => {
      if (++edit.staleReads < limit) return true;
      edit.reject(
        new AuthorizationError(
          "CONFLICT",
          `could not ${edit.what} in ${this.store.describe(target)}: ${edit.staleReads} reads in a row were ` +
            `too old to write on (${cause.message}). IAM has no etag on trust policies, so a write is only ` +
            `sent soon after its read; this machine or IAM was too slow for that. Run pulumi up again.`,
        ),
      );
      return false;
    });
    queue.edits.unshift(...again);
  }

  /** Reads a write back once any writer that read before it must have written; re-applies what was lost. */
  private async verify(target: string, key: string, written: Written<P, F>, queue: TargetQueue<P, F>): Promise<void> {
    try {
      const delay = this.verifyDelay();
      const jitter = ((this.options.verifyDelayMs ?? 300) / 4) * Math.random();
      await this.sleep(delay + jitter);
      // A timer may fire a little early by this clock: the read-back never goes out before the delay.
      const early = written.answeredAt + delay - Date.now();
      if (early > 0) await defaultSleep(early);
      const after = await this.timedRead(target);
      const overwritten = written.edits.filter((edit) => {
        if (!edit.holds(after.policy)) return true;
        edit.resolve({ facts: after.facts, changed: true, before: edit.beforeUnseenWrite ?? written.before });
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
