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
  apply: (policy: string[]) => [...policy, entry],
  holds: (policy: string[]) => policy.includes(entry),
  removal: false,
});

describe("the shared policy writer", () => {
  it("learns its quiet window from how edits arrive: three times the median gap, within bounds", () => {
    const writer = new SharedPolicyWriter(memoryStore().store, { batchQuietMs: 200, batchQuietMinMs: 10 });
    expect(writer.quietWindow([])).toBe(200);
    expect(writer.quietWindow([1, 2])).toBe(200);
    expect(writer.quietWindow([2, 1, 3])).toBe(10);
    expect(writer.quietWindow([20, 25, 30, 500])).toBe(90);
    expect(writer.quietWindow([150, 150, 150])).toBe(200);
  });

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
    const writer = new SharedPolicyWriter(store, { batchQuietMs: 20, verifyDelayMs: 300 });
    const first = writer.submit("role", add("a"));
    await vi.waitFor(() => expect(log).toContain("write"), { interval: 1 });
    const second = writer.submit("role", add("b"));
    await Promise.all([first, second]);
    expect(docs.get("role")).toEqual(["a", "b"]);
    // read+write of the first batch, read+write of the second, then the two read-backs.
    expect(log).toEqual(["read", "write", "read", "write", "read", "read"]);
  });

  it("learns how many edits the engine keeps open: later waves go out complete, however long a stall inside them", async () => {
    const { store, docs, log } = memoryStore();
    const writer = new SharedPolicyWriter(store, {
      batchQuietMs: 150,
      batchQuietMinMs: 5,
      verifyDelayMs: 20,
    });
    const slots = 4;
    const waves = 4;
    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    // As the engine does: each of `slots` workers submits its next edit once the last is answered.
    // The third edit of every wave comes after a stall five times the gaps before it, longer than
    // the quiet window learned from those gaps (three times their median).
    let written = 0;
    const writesBefore = () => log.filter((l) => l === "write").length;
    const worker = async (slot: number) => {
      for (let wave = 0; wave < waves; wave++) {
        await sleep(slot === 2 ? 50 : slot * 3);
        await writer.submit("role", add(`w${wave}s${slot}`));
        written++;
      }
    };
    await Promise.all(Array.from({ length: slots }, (_, slot) => worker(slot)));
    expect(written).toBe(slots * waves);
    expect(docs.get("role")).toHaveLength(slots * waves);
    // The first wave is gathered by the window alone (150 ms before anything is learned); from then
    // on each wave is written once, at once, when its last edit arrives.
    expect(writesBefore()).toBe(waves);
  });

  it("applies an edit again when another process overwrote it before the read-back", async () => {
    const { store, docs } = memoryStore();
    const writer = new SharedPolicyWriter(store, { batchQuietMs: 5, verifyDelayMs: 50, baseDelayMs: 5 });
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
