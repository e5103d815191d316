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

export interface IamPolicy {
  version?: number | null;
  bindings?: IamBinding[] | null;
  etag?: string | null;
  auditConfigs?: unknown[] | null;
}

/** Google's limit on principals in one allow policy (members over all bindings). */
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

export function principalCount(policy: IamPolicy): number {
  return (policy.bindings ?? []).reduce((n, b) => n + (b.members?.length ?? 0), 0);
}
