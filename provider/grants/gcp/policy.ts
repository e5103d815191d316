/**
 * Pure edits of a Google Cloud IAM policy. Ownership is the exact member/role pair in the role's
 * unconditional binding: every other binding (conditional ones included), every other member, the
 * audit configs and the policy version are carried over as they were, in the same order.
 */

export interface IamCondition {
  expression?: string | null;
  title?: string | null;
  description?: string | null;
  location?: string | null;
}

export interface IamBinding {
  role?: string | null;
  members?: string[] | null;
  condition?: IamCondition | null;
}

export interface IamAuditLogConfig {
  logType?: string | null;
  exemptedMembers?: string[] | null;
}

export interface IamAuditConfig {
  service?: string | null;
  auditLogConfigs?: IamAuditLogConfig[] | null;
}

export interface IamPolicy {
  version?: number | null;
  bindings?: IamBinding[] | null;
  etag?: string | null;
  auditConfigs?: IamAuditConfig[] | null;
}

/** Google's limit on principals in one allow policy; what counts is `principalCount`'s rule. */
export const MAX_PRINCIPALS_PER_POLICY = 1500;

const unconditional = (binding: IamBinding, role: string) => binding.role === role && !binding.condition;

/** Which of `members` the role's unconditional binding holds now. */
export function liveMembers(policy: IamPolicy, role: string, members: readonly string[]): string[] {
  const held = new Set((policy.bindings ?? []).filter((b) => unconditional(b, role)).flatMap((b) => b.members ?? []));
  return members.filter((m) => held.has(m));
}

/** Adds the members to the role's first unconditional binding, or appends one binding for them. */
export function withMembers(policy: IamPolicy, role: string, members: readonly string[]): IamPolicy {
  const missing = members.filter((m) => !liveMembers(policy, role, [m]).length);
  if (missing.length === 0) return policy;
  const bindings = [...(policy.bindings ?? [])];
  const index = bindings.findIndex((b) => unconditional(b, role));
  if (index >= 0) {
    const binding = bindings[index]!;
    bindings[index] = { ...binding, members: [...(binding.members ?? []), ...missing] };
  } else {
    bindings.push({ role, members: [...missing] });
  }
  return { ...policy, bindings };
}

/** Removes only these members from the role's unconditional bindings; a binding left empty goes. */
export function withoutMembers(policy: IamPolicy, role: string, members: readonly string[]): IamPolicy {
  if (liveMembers(policy, role, members).length === 0) return policy;
  const drop = new Set(members);
  const bindings: IamBinding[] = [];
  for (const binding of policy.bindings ?? []) {
    if (!unconditional(binding, role)) {
      bindings.push(binding);
      continue;
    }
    const kept = (binding.members ?? []).filter((m) => !drop.has(m));
    if (kept.length > 0) bindings.push({ ...binding, members: kept });
  }
  return { ...policy, bindings };
}

/**
 * The principals of an allow policy as Google counts them against its limit of 1,500
 * (https://cloud.google.com/iam/docs/allow-policies, "Limits for all principals"; the same rule in
 * the Policy reference: "Each occurrence of a principal counts towards these limits"):
 * - every appearance in a role binding, conditional bindings included: a principal in 50 bindings
 *   counts 50 times, nothing is de-duplicated across bindings;
 * - plus every principal the policy exempts from audit logging
 *   (`auditConfigs[].auditLogConfigs[].exemptedMembers`);
 * - a Google group or a domain counts once per appearance, however many members it has.
 * Google keeps a member once within one binding (or one audit log config), so a repeat there counts
 * once, as Google would store it. Google may refuse a policy with conditions or very long
 * identifiers below 1,500; its refusal is then reported as the same limit (see the driver).
 */
export function principalCount(policy: IamPolicy): number {
  const distinct = (members: readonly string[] | null | undefined) => new Set(members ?? []).size;
  const inBindings = (policy.bindings ?? []).reduce((n, b) => n + distinct(b.members), 0);
  const exempted = (policy.auditConfigs ?? [])
    .flatMap((c) => c.auditLogConfigs ?? [])
    .reduce((n, l) => n + distinct(l.exemptedMembers), 0);
  return inBindings + exempted;
}
