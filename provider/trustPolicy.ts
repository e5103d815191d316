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

/**
 * A canonical form for comparing statements: key order ignored, a one-element list equal to its
 * element, list order ignored (IAM treats principal and action lists as sets).
 */
export function canonical(value: PolicyValue | PolicyStatement | undefined): string {
  return JSON.stringify(canonicalValue(value as PolicyValue | undefined));
}

function canonicalValue(value: PolicyValue | undefined): PolicyValue | undefined {
  if (Array.isArray(value)) {
    const items = [...new Set(value.map((v) => JSON.stringify(canonicalValue(v))))].sort();
    return items.length === 1 ? (JSON.parse(items[0]!) as PolicyValue) : items.map((i) => JSON.parse(i) as PolicyValue);
  }
  if (value !== null && typeof value === "object") {
    const out: { [key: string]: PolicyValue } = {};
    for (const key of Object.keys(value).sort()) {
      const v = canonicalValue(value[key]);
      if (v !== undefined) out[key] = v;
    }
    return out;
  }
  return value;
}

export function sameStatement(a: PolicyStatement | undefined, b: PolicyStatement | undefined): boolean {
  return canonical(a) === canonical(b);
}
