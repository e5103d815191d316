import { canonical } from "../../core/canonical";

/**
 * Pure edits of an IAM role trust policy. Every statement we did not write is carried over as the
 * same object in the same position: ownership is decided by our `Sid` alone.
 */

export type PolicyValue = string | number | boolean | null | PolicyValue[] | { [key: string]: PolicyValue };

export interface PolicyStatement {
  Sid?: string;
  Effect?: string;
  [key: string]: PolicyValue | undefined;
}

export interface TrustPolicy {
  Version?: string;
  Statement?: PolicyStatement | PolicyStatement[];
  [key: string]: PolicyValue | PolicyStatement | PolicyStatement[] | undefined;
}

/** IAM refuses an empty statement list; a role left with no trust gets this, which trusts nobody. */
export const NO_TRUST_SID = "AirflowDANoTrust";
const NO_TRUST_STATEMENT: PolicyStatement = {
  Sid: NO_TRUST_SID,
  Effect: "Deny",
  Principal: { AWS: "*" },
  Action: "sts:AssumeRole",
};

export function statementsOf(policy: TrustPolicy): PolicyStatement[] {
  const s = policy.Statement;
  if (s === undefined) return [];
  return Array.isArray(s) ? s : [s];
}

export function findStatement(policy: TrustPolicy, sid: string): PolicyStatement | undefined {
  return statementsOf(policy).find((s) => s.Sid === sid);
}

/**
 * One resource's part of a shared statement. Resources whose grants differ only in who is trusted
 * share one statement (same Sid); each owns its entries in the list at `entryPath` (the principal
 * list, or the `sub` list of a condition) and removes only those.
 */
export interface OwnedGrant {
  sid: string;
  /** Where the shared list lives, e.g. ["Principal", "AWS"] or ["Condition", "StringEquals", "<issuer>:sub"]. */
  entryPath: string[];
  /** The statement with only this resource's entries in that list. */
  statement: PolicyStatement;
}

/** The entries of `share` that `policy` already holds in the same statement (found before a write). */
export function entriesFoundIn(policy: TrustPolicy, share: OwnedGrant): string[] {
  const present = new Set(entriesAt(findStatement(policy, share.sid) ?? {}, share.entryPath));
  return entriesAt(share.statement, share.entryPath).filter((entry) => present.has(entry));
}

function valueAt(statement: PolicyStatement, entryPath: string[]): PolicyValue | undefined {
  let node: PolicyValue | PolicyStatement | undefined = statement;
  for (const key of entryPath) {
    if (node === null || typeof node !== "object" || Array.isArray(node)) return undefined;
    node = (node as { [key: string]: PolicyValue })[key];
  }
  return node as PolicyValue | undefined;
}

export function entriesAt(statement: PolicyStatement, entryPath: string[]): string[] {
  const node = valueAt(statement, entryPath);
  if (typeof node === "string") return [node];
  return Array.isArray(node) ? node.filter((v): v is string => typeof v === "string") : [];
}

/** The statement with the list at `entryPath` set to `entries` (a lone entry as a plain string). */
export function withEntriesAt(
  statement: PolicyStatement,
  entryPath: string[],
  entries: string[],
  asList = false,
): PolicyStatement {
  const set = (node: PolicyValue | undefined, path: string[]): PolicyValue => {
    const [key, ...rest] = path;
    const object = node !== null && typeof node === "object" && !Array.isArray(node) ? node : {};
    if (key === undefined) return entries.length === 1 && !asList ? entries[0]! : entries;
    return { ...object, [key]: set(object[key], rest) };
  };
  return set(statement as PolicyValue, entryPath) as PolicyStatement;
}

function sameTemplate(a: PolicyStatement, b: PolicyStatement, entryPath: string[]): boolean {
  return sameStatement(withEntriesAt(a, entryPath, []), withEntriesAt(b, entryPath, []));
}

/** What of this grant is live: the shared statement narrowed to our entries; undefined when none is. */
export function liveShare(policy: TrustPolicy, grant: OwnedGrant): PolicyStatement | undefined {
  const live = findStatement(policy, grant.sid);
  if (!live) return undefined;
  const ours = new Set(entriesAt(grant.statement, grant.entryPath));
  const present = entriesAt(live, grant.entryPath).filter((e) => ours.has(e));
  if (present.length === 0) return undefined;
  return withEntriesAt(live, grant.entryPath, present);
}

export function grantHolds(policy: TrustPolicy, grant: OwnedGrant): boolean {
  return sameStatement(liveShare(policy, grant), grant.statement);
}

/**
 * Adds our entries to the shared statement (appending the statement if there is none yet). The
 * entries of others stay, in their order; the rest of the statement is set to ours.
 */
export function withGrant(policy: TrustPolicy, grant: OwnedGrant): TrustPolicy {
  const live = findStatement(policy, grant.sid);
  if (!live) return withStatement(policy, grant.statement);
  const existing = entriesAt(live, grant.entryPath);
  const added = entriesAt(grant.statement, grant.entryPath).filter((e) => !existing.includes(e));
  if (added.length === 0 && sameTemplate(live, grant.statement, grant.entryPath)) return policy;
  return withStatement(policy, withEntriesAt(grant.statement, grant.entryPath, [...existing, ...added]));
}

/** Removes our entries only; the shared statement goes when no entry is left in it. */
export function withoutGrant(policy: TrustPolicy, grant: OwnedGrant): TrustPolicy {
  const live = findStatement(policy, grant.sid);
  if (!live) return policy;
  const ours = new Set(entriesAt(grant.statement, grant.entryPath));
  const existing = entriesAt(live, grant.entryPath);
  const kept = existing.filter((e) => !ours.has(e));
  if (kept.length === existing.length) return policy;
  if (kept.length === 0) return withoutStatement(policy, grant.sid);
  return withStatement(policy, withEntriesAt(live, grant.entryPath, kept));
}

/**
 * What of an old grant to take back once the new one is in: all of it under another Sid, else only
 * the entries the new grant no longer has.
 */
export function staleShare<G extends OwnedGrant>(old: G, next: OwnedGrant): G | undefined {
  if (old.sid !== next.sid || canonical(old.entryPath as PolicyValue) !== canonical(next.entryPath as PolicyValue)) {
    return old;
  }
  const kept = new Set(entriesAt(next.statement, next.entryPath));
  const stale = entriesAt(old.statement, old.entryPath).filter((e) => !kept.has(e));
  return stale.length > 0 ? { ...old, statement: withEntriesAt(old.statement, old.entryPath, stale) } : undefined;
}

/**
 * Statements someone wrote by hand that trust some of our entries exactly as our statement does
 * (the same statement but for the list at `entryPath`): what a manual setup left behind. By index.
 */
export function handMadeTwins(policy: TrustPolicy, grant: OwnedGrant, isOwned: (sid: string) => boolean): number[] {
  const ours = new Set(entriesAt(grant.statement, grant.entryPath));
  return statementsOf(policy).flatMap((s, index) => {
    if (s.Sid !== undefined && isOwned(s.Sid)) return [];
    if (!sameTemplate({ ...s, Sid: undefined }, { ...grant.statement, Sid: undefined }, grant.entryPath)) return [];
    return entriesAt(s, grant.entryPath).some((e) => ours.has(e)) ? [index] : [];
  });
}

/**
 * Our entries taken out of the hand-made statements that also trust them; a statement left with no
 * entry goes. Everything else in those statements, and every other statement, stays as it is.
 */
export function withoutHandMadeTwins(
  policy: TrustPolicy,
  grant: OwnedGrant,
  isOwned: (sid: string) => boolean,
): TrustPolicy {
  const twins = new Set(handMadeTwins(policy, grant, isOwned));
  if (twins.size === 0) return policy;
  const ours = new Set(entriesAt(grant.statement, grant.entryPath));
  const next = statementsOf(policy).flatMap((s, index) => {
    if (!twins.has(index)) return [s];
    const kept = entriesAt(s, grant.entryPath).filter((e) => !ours.has(e));
    // A list stays a list: the statement keeps the form its author gave it.
    return kept.length > 0 ? [withEntriesAt(s, grant.entryPath, kept, Array.isArray(valueAt(s, grant.entryPath)))] : [];
  });
  return { ...policy, Statement: next.length > 0 ? next : [NO_TRUST_STATEMENT] };
}

/** Adds or replaces (in place) the statement with this statement's Sid. */
export function withStatement(policy: TrustPolicy, statement: PolicyStatement): TrustPolicy {
  if (!statement.Sid) throw new Error("an owned statement needs a Sid");
  const current = statementsOf(policy).filter((s) => s.Sid !== NO_TRUST_SID);
  const index = current.findIndex((s) => s.Sid === statement.Sid);
  const next = index >= 0 ? current.map((s, i) => (i === index ? statement : s)) : [...current, statement];
  return { ...policy, Version: policy.Version ?? "2012-10-17", Statement: next };
}

/** Removes only the statement with this Sid; returns the policy unchanged (same object) if absent. */
export function withoutStatement(policy: TrustPolicy, sid: string): TrustPolicy {
  const current = statementsOf(policy);
  if (!current.some((s) => s.Sid === sid)) return policy;
  const next = current.filter((s) => s.Sid !== sid);
  return { ...policy, Statement: next.length > 0 ? next : [NO_TRUST_STATEMENT] };
}

export function minify(policy: TrustPolicy): string {
  return JSON.stringify(policy);
}

/** IAM hands the document back URL-encoded (GetRole); accept both forms. */
export function parsePolicyDocument(document: string): TrustPolicy {
  const text = document.trimStart().startsWith("{") ? document : decodeURIComponent(document);
  const parsed: unknown = JSON.parse(text);
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new Error("the trust policy is not a JSON object");
  }
  return parsed as TrustPolicy;
}

export function sameStatement(a: PolicyStatement | undefined, b: PolicyStatement | undefined): boolean {
  return canonical(a) === canonical(b);
}
