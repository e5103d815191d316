import { describe, expect, it } from "vitest";
import {
  NO_TRUST_SID,
  findStatement,
  minify,
  parsePolicyDocument,
  sameStatement,
  statementsOf,
  withStatement,
  withoutStatement,
  withGrant,
  withoutGrant,
  liveShare,
  grantHolds,
  staleShare,
  OwnedGrant,
  handMadeTwins,
  withoutHandMadeTwins,
} from "../../provider/grants/aws/trustPolicy";
import { canonical } from "../../provider/core/canonical";
import { FOREIGN_COUNT, NOT_ACTION_STATEMENT, foreignPolicy } from "../support/fixtures";

const ours = {
  Sid: "AirflowDAabc",
  Effect: "Allow",
  Principal: { AWS: "arn:aws:iam::111122223333:role/x" },
  Action: "sts:AssumeRole",
};

describe("trust policy edits", () => {
  it("appends our statement and keeps every foreign statement, same content, same order", () => {
    const before = foreignPolicy();
    const snapshot = JSON.stringify(before);
    const after = withStatement(before, ours);
    expect(JSON.stringify(before)).toBe(snapshot);
    expect(statementsOf(after).slice(0, FOREIGN_COUNT)).toEqual(statementsOf(before));
    expect(statementsOf(after)[FOREIGN_COUNT]).toEqual(ours);
  });

  it("carries a NotAction statement through add and remove unchanged", () => {
    const before = { ...foreignPolicy(), Statement: [NOT_ACTION_STATEMENT, ...statementsOf(foreignPolicy())] };
    const added = withStatement(before, ours);
    expect(statementsOf(added)[0]).toEqual(NOT_ACTION_STATEMENT);
    expect(minify(withoutStatement(added, ours.Sid))).toBe(minify(before));
  });

  it("replaces our statement in place when it changes", () => {
    const policy = withStatement(withStatement(foreignPolicy(), ours), {
      Sid: "Other1",
      Effect: "Allow",
      Principal: { AWS: "*" },
      Action: "sts:AssumeRole",
    });
    const changed = { ...ours, Principal: { AWS: "arn:aws:iam::111122223333:role/y" } };
    const after = withStatement(policy, changed);
    expect(statementsOf(after).map((s) => s.Sid)).toEqual(statementsOf(policy).map((s) => s.Sid));
    expect(findStatement(after, ours.Sid)).toEqual(changed);
  });

  it("removes only our statement and restores the foreign policy exactly", () => {
    const before = foreignPolicy();
    const roundTrip = withoutStatement(withStatement(before, ours), ours.Sid);
    expect(minify(roundTrip)).toBe(minify(before));
  });

  it("returns the same object when there is nothing of ours to remove", () => {
    const before = foreignPolicy();
    expect(withoutStatement(before, "AirflowDAnothere")).toBe(before);
  });

  it("accepts a single statement object and never leaves an empty statement list", () => {
    const single = { Version: "2012-10-17", Statement: ours };
    const emptied = withoutStatement(single, ours.Sid);
    expect(statementsOf(emptied)).toEqual([expect.objectContaining({ Sid: NO_TRUST_SID, Effect: "Deny" })]);
    // the placeholder goes away again as soon as a real grant comes back
    expect(statementsOf(withStatement(emptied, ours))).toEqual([ours]);
  });

  it("parses URL-encoded documents as GetRole returns them", () => {
    const encoded = encodeURIComponent(minify(foreignPolicy()));
    expect(parsePolicyDocument(encoded)).toEqual(foreignPolicy());
    expect(parsePolicyDocument(minify(foreignPolicy()))).toEqual(foreignPolicy());
  });

  it("compares statements ignoring key order and one-element lists", () => {
    expect(
      sameStatement(ours, {
        Action: ["sts:AssumeRole"],
        Principal: { AWS: [ours.Principal.AWS] },
        Effect: "Allow",
        Sid: ours.Sid,
      }),
    ).toBe(true);
    expect(sameStatement(ours, { ...ours, Action: "sts:TagSession" })).toBe(false);
    expect(canonical({ AWS: ["b", "a"] })).toBe(canonical({ AWS: ["a", "b"] }));
  });
});

function share(principal: string): OwnedGrant {
  return {
    sid: "AirflowDAAssumeRole",
    entryPath: ["Principal", "AWS"],
    statement: { Sid: "AirflowDAAssumeRole", Effect: "Allow", Principal: { AWS: principal }, Action: "sts:AssumeRole" },
  };
}

describe("shared statements", () => {
  const a = share("arn:aws:iam::111122223333:role/astro-a");
  const b = share("arn:aws:iam::111122223333:role/astro-b");

  it("packs grants of the same shape into one statement, one entry each", () => {
    const policy = withGrant(withGrant(foreignPolicy(), a), b);
    expect(statementsOf(policy)).toHaveLength(FOREIGN_COUNT + 1);
    expect(findStatement(policy, "AirflowDAAssumeRole")?.Principal).toEqual({
      AWS: ["arn:aws:iam::111122223333:role/astro-a", "arn:aws:iam::111122223333:role/astro-b"],
    });
    expect(grantHolds(policy, a) && grantHolds(policy, b)).toBe(true);
    expect(liveShare(policy, a)).toEqual(a.statement);
    expect(withGrant(policy, a)).toBe(policy); // already there: nothing to write
  });

  it("removes only its own entry, and the statement with the last one", () => {
    const both = withGrant(withGrant(foreignPolicy(), a), b);
    const onlyB = withoutGrant(both, a);
    expect(findStatement(onlyB, "AirflowDAAssumeRole")?.Principal).toEqual({
      AWS: "arn:aws:iam::111122223333:role/astro-b",
    });
    expect(liveShare(onlyB, a)).toBeUndefined();
    expect(minify(withoutGrant(onlyB, b))).toBe(minify(foreignPolicy()));
  });

  it("puts back the rest of a shared statement someone edited, keeping every entry", () => {
    const both = withGrant(withGrant(foreignPolicy(), a), b);
    const tampered = withStatement(both, { ...findStatement(both, "AirflowDAAssumeRole")!, Effect: "Deny" });
    expect(grantHolds(tampered, a)).toBe(false);
    const repaired = withGrant(tampered, a);
    expect(findStatement(repaired, "AirflowDAAssumeRole")).toEqual(findStatement(both, "AirflowDAAssumeRole"));
  });

  it("takes back only the entries a changed grant no longer has", () => {
    expect(staleShare(a, a)).toBeUndefined();
    expect(staleShare(a, b)).toEqual(a);
    const other = { ...a, sid: "AirflowDAWebIdx" };
    expect(staleShare(other, a)).toEqual(other);
  });
});

describe("taking over hand-made trust", () => {
  const a = "arn:aws:iam::111122223333:role/astro-a";
  const b = "arn:aws:iam::111122223333:role/astro-b";
  const grant: OwnedGrant = {
    sid: "AirflowDAAssumeRole",
    entryPath: ["Principal", "AWS"],
    statement: { Sid: "AirflowDAAssumeRole", Effect: "Allow", Principal: { AWS: a }, Action: "sts:AssumeRole" },
  };
  const isOwned = (sid: string) => sid.startsWith("AirflowDA");
  const guide = { Effect: "Allow", Principal: { AWS: [a, b] }, Action: "sts:AssumeRole" };
  const conditioned = { ...guide, Condition: { Bool: { "aws:SecureTransport": "true" } } };
  const alone = { Sid: "ByHand", Effect: "Allow", Principal: { AWS: [a] }, Action: ["sts:AssumeRole"] };

  it("finds the statements that trust our entries exactly as ours does, and only those", () => {
    const policy = {
      Version: "2012-10-17",
      Statement: [...statementsOf(foreignPolicy()), guide, conditioned, alone, grant.statement],
    };
    expect(handMadeTwins(policy, grant, isOwned)).toEqual([FOREIGN_COUNT, FOREIGN_COUNT + 2]);
  });

  it("takes our entry out of them, keeping a list a list, and drops one left empty", () => {
    const policy = {
      Version: "2012-10-17",
      Statement: [...statementsOf(foreignPolicy()), guide, conditioned, alone, grant.statement],
    };
    const next = withoutHandMadeTwins(policy, grant, isOwned);
    expect(statementsOf(next)).toEqual([
      ...statementsOf(foreignPolicy()),
      { Effect: "Allow", Principal: { AWS: [b] }, Action: "sts:AssumeRole" },
      conditioned,
      grant.statement,
    ]);
    expect(withoutHandMadeTwins(next, grant, isOwned)).toBe(next);
  });
});
