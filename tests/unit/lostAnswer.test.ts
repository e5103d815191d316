import { describe, expect, it } from "vitest";
import { PolicyStore, SharedPolicyWriter, StalePolicyError } from "../../provider/core/policyStore";

/**
 * A policy with etags whose first write lands but is reported stale, as a client sees it when the
 * answer to its write was lost and the retry, carrying the same etag, met 409.
 */
function storeWhoseFirstWriteLandsUnseen(landedByUs: boolean) {
  let doc: string[] = [];
  let version = 0;
  let writes = 0;
  const store: PolicyStore<string[], Record<string, never>> = {
    etags: true,
    describe: (target) => `policy ${target}`,
    lockKey: (target) => `lost-answer:${target}:${landedByUs}`,
    read: async () => ({ policy: [...doc], etag: String(version), facts: {} }),
    write: async (_target, policy) => {
      writes++;
      doc = [...policy];
      version++;
      if (writes === 1) throw new StalePolicyError("etag is stale (409 ABORTED)", landedByUs);
    },
  };
  return { store, doc: () => doc, writes: () => writes };
}

const add = (entry: string) => ({
  what: `add ${entry}`,
  apply: (policy: string[]) => (policy.includes(entry) ? policy : [...policy, entry]),
  holds: (policy: string[]) => policy.includes(entry),
  removal: false,
});

describe("an edit whose write landed while its answer was lost", () => {
  it("is still this call's change, measured against the document read before that write", async () => {
    const { store, doc, writes } = storeWhoseFirstWriteLandsUnseen(true);
    const writer = new SharedPolicyWriter(store, { baseDelayMs: 1 });
    const result = await writer.submit("p", add("ours"));
    expect(result).toEqual({ facts: {}, changed: true, before: [] });
    expect(doc()).toEqual(["ours"]);
    expect(writes()).toBe(1);
  });

  it("is found already there, when nothing says an earlier try of ours may have landed", async () => {
    const { store } = storeWhoseFirstWriteLandsUnseen(false);
    const writer = new SharedPolicyWriter(store, { baseDelayMs: 1 });
    const result = await writer.submit("p", add("theirs"));
    expect(result).toEqual({ facts: {}, changed: false, before: ["theirs"] });
  });
});
