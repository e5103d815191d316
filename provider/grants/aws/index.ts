import type { GrantPlugin } from "../../core/types";
import { awsConnectionExtra, planAwsGrant } from "./plan";
import { awsPlanner } from "./planner";
import { AwsInput, RESERVED_AWS_EXTRA_KEYS, SECRET_AWS_EXTRA_KEYS, awsInputSchema, refineAwsInput } from "./schema";
import type { AwsGrant, AwsResolved } from "./types";

/** AWS: a statement in an IAM role's trust policy, and an `aws` connection that assumes the role. */
export const awsPlugin: GrantPlugin<AwsInput, AwsGrant, AwsResolved> = {
  ...awsPlanner,
  schema: awsInputSchema,
  reservedExtraKeys: RESERVED_AWS_EXTRA_KEYS,
  secretExtraKeys: SECRET_AWS_EXTRA_KEYS,
  refine: refineAwsInput,
  plan(input, common) {
    const grant = planAwsGrant(input, common);
    return { grant, connType: "aws", extra: awsConnectionExtra(input, grant.mode) };
  },
};

export { awsGrantDriver, awsPlanner } from "./planner";
export type { AwsGrant, AwsResolved } from "./types";
export type { AwsInput } from "./schema";
