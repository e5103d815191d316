import { describe, expect, it, vi } from "vitest";
import { PolicyStore, SharedPolicyWriter, StalePolicyError } from "../../provider/core/policyStore";

/**
 * A policy that is a list of entries, in memory, without etags (as IAM trust policies are). Each call
 * reports its send, then takes `latency.before` ms to reach the document and `latency.after` ms to
 * answer; `log` says what happened and `sends` when each call went out.
 */
function memoryStore(latency: { before?: number; after?: number } = {}) {
  const docs = new Map<string, string[]>();
  const log: string[] = [];
  const sends: Array<{ call: "read" | "write"; at: number }> = [];
  const pause = (ms = 0) => (ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve());
  const store: PolicyStore<string[], { name: string }> = {
    etags: false,
    describe: (target) => `policy ${target}`,
    lockKey: (target) => `memory:${target}`,
    read: async (target, timing) => {
      timing?.sending();
      sends.push({ call: "read", at: Date.now() });
      await pause(latency.before);
      log.push("read");
      const policy = [...(docs.get(target) ?? [])];
      await pause(latency.after);
      return { policy, facts: { name: target } };
    },
    write: async (target, policy, _etag, timing) => {
      timing?.sending();
      sends.push({ call: "write", at: Date.now() });
      await pause(latency.before);
      log.push("write");
      docs.set(target, [...policy]);
      await pause(latency.after);
    },
  };
  return { store, docs, log, sends };
}

const add = (entry: string) => ({
  what: `add ${entry}`,
  apply: (policy: string[]) => (policy.includes(entry) ? policy : [...policy, entry]),
  holds: (policy: string[]) => policy.includes(entry),
  removal: false,
});

describe("the shared policy writer", () => {
  it("writes edits that arrive together in one write, and reports the read's facts before the write is verified", async () => {
    const { store, docs, log } = memoryStore();
    const writer = new SharedPolicyWriter(store, { verifyDelayMs: 50 });
    const factsSeen: string[] = [];
    const results = [];
    for (let i = 0; i < 8; i++) {
      results.push(
        writer.submit("role", {
          ...add(`e${i}`),
          factsKnown: (facts) => factsSeen.push(`${facts.name} before ${log.filter((l) => l === "read").length}`),
        }),
      );
    }
    const done = await Promise.all(results);
    expect(done.every((r) => r.changed)).toBe(true);
    expect(docs.get("role")).toEqual(["e0", "e1", "e2", "e3", "e4", "e5", "e6", "e7"]);
    // One read, one write and one read back for the whole burst; the facts came after the first read.
    expect(log).toEqual(["read", "write", "read"]);
    expect(factsSeen).toEqual(Array(8).fill("role before 1"));
  });

  it("writes the next batch while the previous one waits to be read back, and both are verified", async () => {
    const { store, docs, log } = memoryStore();
    const writer = new SharedPolicyWriter(store, { verifyDelayMs: 300 });
    const first = writer.submit("role", add("a"));
    await vi.waitFor(() => expect(log).toContain("write"), { interval: 1 });
    const second = writer.submit("role", add("b"));
    await Promise.all([first, second]);
    expect(docs.get("role")).toEqual(["a", "b"]);
    // read+write of the first batch, read+write of the second, then the two read-backs.
    expect(log).toEqual(["read", "write", "read", "write", "read", "read"]);
  });

  it("waits for no timer: an edit goes out when no write is in flight, and the edits that came during one share the next", async () => {
    const { store, docs, log } = memoryStore();
    const slept: number[] = [];
    const sleep = (ms: number) => (slept.push(ms), new Promise<void>((resolve) => setTimeout(resolve, 1)));
    const writer = new SharedPolicyWriter(store, { verifyDelayMs: 300, sleep });
    const write = store.write.bind(store);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let writesStarted = 0;
    store.write = async (target, policy, etag, timing) => {
      if (writesStarted++ === 0) await held;
      await write(target, policy, etag, timing);
    };
    const first = writer.submit("role", add("a"));
    await vi.waitFor(() => expect(writesStarted).toBe(1), { interval: 1 });
    // Three creates arrive while the first write is in flight.
    const later = ["b", "c", "d"].map((entry) => writer.submit("role", add(entry)));
    release();
    await Promise.all([first, ...later]);
    expect(docs.get("role")).toEqual(["a", "b", "c", "d"]);
    expect(log).toEqual(["read", "write", "read", "write", "read", "read"]);
    // Every pause was a read-back's (300 ms to a quarter more), none a batching window.
    expect(slept).toHaveLength(2);
    expect(slept.every((ms) => ms >= 300 && ms <= 375)).toBe(true);
  });

  it("does not let a read the remote serves from before an unverified write undo that write", async () => {
    const { store, docs, log } = memoryStore();
    const writer = new SharedPolicyWriter(store, { verifyDelayMs: 50 });
    const read = store.read.bind(store);
    let stale: string[] | undefined;
    // The first write lands, and the next read is served as the document was before it (as an
    // eventually consistent remote may).
    const write = store.write.bind(store);
    store.write = async (target, policy, etag, timing) => {
      if (stale === undefined) stale = [...(docs.get(target) ?? [])];
      await write(target, policy, etag, timing);
    };
    let reads = 0;
    store.read = async (target, timing) => {
      const answer = await read(target, timing);
      return ++reads === 2 && stale ? { ...answer, policy: [...stale] } : answer;
    };
    docs.set("role", ["foreign"]);
    const first = writer.submit("role", add("a"));
    await vi.waitFor(() => expect(log).toContain("write"), { interval: 1 });
    const second = writer.submit("role", add("b"));
    await Promise.all([first, second]);
    expect(docs.get("role")).toEqual(["foreign", "a", "b"]);
    // Two writes and their two read-backs: the stale read cost no third write.
    expect(log.filter((l) => l === "write")).toHaveLength(2);
  });

  it("applies an edit again when another process overwrote it before the read-back", async () => {
    const { store, docs } = memoryStore();
    const writer = new SharedPolicyWriter(store, { verifyDelayMs: 50, baseDelayMs: 5 });
    const original = store.write.bind(store);
    let overwrites = 1;
    store.write = async (target, policy, etag, timing) => {
      await original(target, policy, etag, timing);
      // A naive writer that read before our write lands its stale copy right after.
      if (overwrites-- > 0) setTimeout(() => docs.set(target, ["foreign"]), 10);
    };
    await writer.submit("role", add("ours"));
    expect(docs.get("role")).toEqual(["foreign", "ours"]);
  });
});

describe("the shared policy writer's timing, without etags", () => {
  it("on a fast remote keeps today's bound and read-back delay: 250 ms and 300 ms", async () => {
    const { store } = memoryStore();
    const writer = new SharedPolicyWriter(store);
    await writer.submit("role", add("a"));
    expect(writer.readBound()).toBe(250);
    expect(writer.verifyDelay()).toBe(300);
  });

  it("on a slow remote, grows the bound and the read-back delay from what it measured, and writes on the first read", async () => {
    // 150 ms to reach the document and 150 ms back: every call takes 300 ms, more than the 250 ms floor.
    const { store, log, sends } = memoryStore({ before: 150, after: 150 });
    const writer = new SharedPolicyWriter(store);
    const answered: number[] = [];
    const write = store.write.bind(store);
    store.write = async (...args) => {
      await write(...args);
      answered.push(Date.now());
    };
    await writer.submit("role", add("a"));
    // No read redone because it took longer than 250 ms: the bound is the reads' median + 200 ms.
    expect(log).toEqual(["read", "write", "read"]);
    expect(writer.readBound()).toBeGreaterThanOrEqual(300 + 200);
    // Our slowest read + 200 ms + our slowest write + 25 ms.
    expect(writer.verifyDelay()).toBeGreaterThanOrEqual(300 + 200 + 300 + 25);
    const [read, written, readBack] = sends;
    expect(written!.at - read!.at).toBeLessThanOrEqual(writer.readBound());
    expect(readBack!.at - answered[0]!).toBeGreaterThanOrEqual(writer.verifyDelay());
  });

  it("never sends a write past the bound: a try that would go out too late is not sent, and the batch reads again", async () => {
    const { store, docs, log, sends } = memoryStore();
    const writer = new SharedPolicyWriter(store);
    const write = store.write.bind(store);
    let busy = 2;
    // A client that gets round to sending 300 ms after it was asked to, twice (a saturated machine).
    store.write = async (target, policy, etag, timing) => {
      if (busy-- > 0) await new Promise((resolve) => setTimeout(resolve, 300));
      await write(target, policy, etag, timing);
    };
    await writer.submit("role", add("a"));
    expect(docs.get("role")).toEqual(["a"]);
    expect(log).toEqual(["read", "read", "read", "write", "read"]);
    const written = sends.findIndex((s) => s.call === "write");
    expect(sends[written]!.at - sends[written - 1]!.at).toBeLessThanOrEqual(250);
  });

  it("does not write on an old read at all: after as many reads too old in a row as allowed, the edit fails and says why", async () => {
    const { store, docs, log } = memoryStore();
    const writer = new SharedPolicyWriter(store, { staleReadAttempts: 3 });
    const write = store.write.bind(store);
    store.write = async (target, policy, etag, timing) => {
      await new Promise((resolve) => setTimeout(resolve, 300));
      await write(target, policy, etag, timing);
    };
    await expect(writer.submit("role", add("a"))).rejects.toThrow(/3 reads in a row were too old to write on/);
    expect(log.filter((l) => l === "write")).toHaveLength(0);
    expect(docs.get("role")).toBeUndefined();
  });

  it("reads back a write whose retry was held back by the bound, since its first try may have landed", async () => {
    const { store, docs, log } = memoryStore();
    const writer = new SharedPolicyWriter(store);
    const write = store.write.bind(store);
    let tries = 0;
    // The first try lands and its answer is lost; the client retries 300 ms later, past the bound.
    store.write = async (target, policy, etag, timing) => {
      await write(target, policy, etag, timing);
      if (tries++ > 0) return;
      await new Promise((resolve) => setTimeout(resolve, 300));
      timing?.sending();
      await write(target, policy, etag, timing);
    };
    const result = await writer.submit("role", add("a"));
    expect(result).toMatchObject({ changed: true, before: [] });
    expect(docs.get("role")).toEqual(["a"]);
    // The write, the read that found it landed, and that read's read-back: no second write.
    expect(log).toEqual(["read", "write", "read", "read"]);
  });
});

describe("a write that fails (without etags)", () => {
  it("fails its edits, tells each caller the document it was written over, and is not applied again by the next write", async () => {
    const { store, docs, log } = memoryStore();
    const writer = new SharedPolicyWriter(store, { verifyDelayMs: 50 });
    const write = store.write.bind(store);
    const written: string[][] = [];
    let fail!: () => void;
    const failing = new Promise<void>((resolve) => (fail = resolve));
    // The first write is refused after its retries (a 5xx every time), once a second edit waits.
    store.write = async (target, policy, etag, timing) => {
      written.push([...policy]);
      if (written.length > 1) return write(target, policy, etag, timing);
      await failing;
      throw new Error("IAM answered 503 to every try");
    };
    docs.set("role", ["foreign"]);
    const failedOver: string[][] = [];
    const first = writer.submit("role", { ...add("a"), writeFailed: (before) => failedOver.push(before) });
    await vi.waitFor(() => expect(written).toHaveLength(1), { interval: 1 });
    const second = writer.submit("role", add("b"));
    fail();
    await expect(first).rejects.toThrow(/503 to every try/);
    await expect(second).resolves.toMatchObject({ changed: true, before: ["foreign"] });
    expect(failedOver).toEqual([["foreign"]]);
    expect(written).toEqual([
      ["foreign", "a"],
      ["foreign", "b"],
    ]);
    expect(docs.get("role")).toEqual(["foreign", "b"]);
    expect(log).toEqual(["read", "read", "write", "read"]);
  });
});

describe("the shared policy writer with etags", () => {
  it("reads for the next batch only once the write in flight was answered: a read before it would only make a stale write", async () => {
    const log: string[] = [];
    let doc: string[] = [];
    let version = 0;
    let land!: () => void;
    const landing = new Promise<void>((resolve) => (land = resolve));
    const store: PolicyStore<string[], Record<string, never>> = {
      etags: true,
      describe: (target) => `policy ${target}`,
      lockKey: (target) => `etags:${target}`,
      read: async () => {
        log.push("read");
        return { policy: [...doc], etag: String(version), facts: {} };
      },
      write: async (_target, policy, etag) => {
        log.push("write sent");
        if (version === 0) await landing;
        if (etag !== String(version)) throw new StalePolicyError("etag is stale (409 ABORTED)");
        doc = [...policy];
        version++;
        log.push("write answered");
      },
    };
    const writer = new SharedPolicyWriter(store, { baseDelayMs: 1 });
    const first = writer.submit("p", add("a"));
    await vi.waitFor(() => expect(log).toContain("write sent"), { interval: 1 });
    const second = writer.submit("p", add("b"));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(log).toEqual(["read", "write sent"]);
    land();
    await Promise.all([first, second]);
    expect(doc).toEqual(["a", "b"]);
    expect(log).toEqual(["read", "write sent", "write answered", "read", "write sent", "write answered"]);
  });
});
