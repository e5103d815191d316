import { describe, expect, it, vi } from "vitest";
import { PolicyStore, SharedPolicyWriter } from "../../provider/core/policyStore";

/** A policy that is a list of entries, in memory, without etags (as IAM trust policies are). */
function memoryStore() {
  const docs = new Map<string, string[]>();
  const log: string[] = [];
  const store: PolicyStore<string[], { name: string }> = {
    etags: false,
    describe: (target) => `policy ${target}`,
    lockKey: (target) => `memory:${target}`,
    read: async (target) => {
      log.push("read");
      return { policy: [...(docs.get(target) ?? [])], facts: { name: target } };
    },
    write: async (target, policy) => {
      log.push("write");
      docs.set(target, [...policy]);
    },
  };
  return { store, docs, log };
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
    store.write = async (target, policy, etag) => {
      if (writesStarted++ === 0) await held;
      await write(target, policy, etag);
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
    store.write = async (target, policy, etag) => {
      if (stale === undefined) stale = [...(docs.get(target) ?? [])];
      await write(target, policy, etag);
    };
    let reads = 0;
    store.read = async (target) => {
      const answer = await read(target);
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
    store.write = async (target, policy, etag) => {
      await original(target, policy, etag);
      // A naive writer that read before our write lands its stale copy right after.
      if (overwrites-- > 0) setTimeout(() => docs.set(target, ["foreign"]), 10);
    };
    await writer.submit("role", add("ours"));
    expect(docs.get("role")).toEqual(["foreign", "ours"]);
  });
});
