import type { ExtraValue } from "../../core/types";
import { UNKNOWN } from "../../core/unknown";
import { ROLE_ARN } from "./names";
import type { AwsGrant, AwsResolved } from "./types";

/**
 * What an AWS grant only knows once applied: the ARN of a role given by name. The plan names it in
 * words, apply writes the ARN, state keeps the words (so a refresh shows no change) and the
 * component's outputs show the ARN. The program loads this module: no schema here.
 */

/** A role given by name has an ARN only AWS knows; the plan says so, and apply fills it in. */
export function plannedRoleArn(role: string): string {
  if (role === UNKNOWN || ROLE_ARN.test(role)) return role;
  return `(ARN of role ${role}, resolved at apply)`;
}

/** The payload's `role_arn` once the role's ARN is known. */
export function awsExtraForApply(extra: Record<string, ExtraValue>, resolved: AwsResolved): Record<string, ExtraValue> {
  return "role_arn" in extra ? { ...extra, role_arn: resolved.roleArn } : extra;
}

/** A live `extra` value in the plan's terms: the role's ARN reads as the plan's `role_arn`. */
export function awsExtraInPlanTerms(
  key: string,
  live: ExtraValue,
  planned: Record<string, ExtraValue>,
  resolved: AwsResolved,
): ExtraValue {
  return key === "role_arn" && live === resolved.roleArn ? (planned.role_arn ?? live) : live;
}

/**
 * `extra` from state as the connection holds it: `role_arn` in the plan's words becomes the ARN.
 * Any other value is what a refresh found (drift) and stays; so do the words while the ARN is not
 * known (a preview).
 */
export function awsExtraAsApplied(
  extra: Record<string, ExtraValue>,
  grant: Pick<AwsGrant, "role">,
  resolved: Partial<AwsResolved>,
): Record<string, ExtraValue> {
  const arn = resolved.roleArn;
  return typeof arn === "string" && "role_arn" in extra && extra.role_arn === plannedRoleArn(grant.role)
    ? { ...extra, role_arn: arn }
    : extra;
}
