import { describe, expect, it } from "vitest";
import {
  CLAIM_LABEL_PREFIX,
  claimLabels,
  claimsIn,
  holdsAnyClaim,
  holdsClaim,
  withClaim,
  withoutClaim,
} from "../../provider/grants/gcp/claimLabels";

const digests = (n: number) => Array.from({ length: n }, (_, i) => (0x10000000 + i).toString(16));
const key = (owner: string, part = 1) => `${CLAIM_LABEL_PREFIX}${owner}${part === 1 ? "" : `-${part}`}`;
const INSTANCE = "a1b2c3d4e5f6";
const HANDOVER = "handover-0badc0de";

/** Google's label rules: keys and values of lower-case letters, digits, `_` and `-`, at most 63; keys start with a letter. */
function validLabel(k: string, v: string): boolean {
  return /^[a-z][a-z0-9_-]{0,62}$/.test(k) && /^[a-z0-9_-]{0,63}$/.test(v);
}

describe("claims kept as project labels", () => {
  it("keeps up to 6 digests in one label, joined by _, room left for each to be marked x (found)", () => {
    const marked = digests(6).map((d) => `x${d}`);
    const labels = claimLabels(INSTANCE, marked);
    expect(labels).toEqual({ [key(INSTANCE)]: marked.join("_") });
    expect(labels[key(INSTANCE)]).toHaveLength(59);
    expect(claimsIn(labels)).toEqual(new Map([[INSTANCE, marked]]));
  });

  it("continues in -2, -3, … labels when the digests do not fit in one, every label valid for Google", () => {
    const labels = claimLabels(HANDOVER, digests(13));
    expect(Object.keys(labels)).toEqual([key(HANDOVER), key(HANDOVER, 2), key(HANDOVER, 3)]);
    expect(labels[key(HANDOVER, 3)]).toBe(digests(13)[12]);
    for (const [k, v] of Object.entries(labels)) expect(validLabel(k, v), `${k}=${v}`).toBe(true);
    expect(claimsIn(labels)).toEqual(new Map([[HANDOVER, digests(13)]]));
  });

  it("an owner without digests still has its label, with an empty value", () => {
    expect(claimLabels(INSTANCE, [])).toEqual({ [key(INSTANCE)]: "" });
    expect(claimsIn({ [key(INSTANCE)]: "" })).toEqual(new Map([[INSTANCE, []]]));
  });

  it("joins the parts in their order, whatever order the labels come in", () => {
    const labels = claimLabels(INSTANCE, digests(16));
    const shuffled = Object.fromEntries(Object.entries(labels).reverse());
    expect(claimsIn(shuffled).get(INSTANCE)).toEqual(digests(16));
  });

  it("a new claim replaces every part of the owner's earlier one, and leaves other labels and owners alone", () => {
    const before = {
      team: "data",
      "deployment-authorization-note": "not ours",
      ...claimLabels(INSTANCE, digests(10)),
      ...claimLabels(HANDOVER, digests(2)),
    };
    const after = withClaim(before, INSTANCE, ["deadbeef"]);
    expect(after).toEqual({
      team: "data",
      "deployment-authorization-note": "not ours",
      [key(INSTANCE)]: "deadbeef",
      [key(HANDOVER)]: digests(2).join("_"),
    });
    expect(holdsClaim(after, INSTANCE, ["deadbeef"])).toBe(true);
    expect(holdsClaim(before, INSTANCE, ["deadbeef"])).toBe(false);
    // A leftover part beyond what the claim needs is not the claim.
    expect(holdsClaim({ ...after, [key(INSTANCE, 2)]: "0badc0de" }, INSTANCE, ["deadbeef"])).toBe(false);
  });

  it("a release removes every part of the owner's claim and nothing else", () => {
    const before = { team: "data", ...claimLabels(INSTANCE, digests(9)), ...claimLabels(HANDOVER, ["deadbeef"]) };
    const after = withoutClaim(before, INSTANCE);
    expect(after).toEqual({ team: "data", [key(HANDOVER)]: "deadbeef" });
    expect(holdsAnyClaim(after, INSTANCE)).toBe(false);
    expect(holdsAnyClaim(before, INSTANCE)).toBe(true);
    expect(withoutClaim(after, INSTANCE)).toEqual(after);
  });

  it("reads only labels shaped as claims", () => {
    const labels = {
      [key(INSTANCE)]: "deadbeef_0badc0de",
      [`${CLAIM_LABEL_PREFIX}a1b2c3`]: "deadbeef",
      [`${CLAIM_LABEL_PREFIX}${INSTANCE}-1`]: "deadbeef",
      [`${CLAIM_LABEL_PREFIX}handover-0badc0de-02`]: "deadbeef",
      env: "prod",
    };
    expect(claimsIn(labels)).toEqual(new Map([[INSTANCE, ["deadbeef", "0badc0de"]]]));
  });

  it("refuses an owner or a digest that cannot be a claim, before anything is written", () => {
    expect(() => claimLabels("A1B2C3D4E5F6", ["deadbeef"])).toThrow(/12 hex digits/);
    expect(() => claimLabels("handover-xyz", ["deadbeef"])).toThrow(/handover-<8 hex digits>/);
    expect(() => claimLabels(INSTANCE, ["DEADBEEF"])).toThrow(/not a claim digest/);
    expect(() => withoutClaim({}, "someone")).toThrow(/cannot own a claim/);
  });
});
