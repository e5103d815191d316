import type { CloudInputs } from "../../core/types";
import { awsConnectionExtra, planAwsGrant } from "./plan";
import { AwsInput, RESERVED_AWS_EXTRA_KEYS, SECRET_AWS_EXTRA_KEYS, awsInputSchema, refineAwsInput } from "./schema";
import type { AwsGrant } from "./types";

/** AWS's inputs: a role and whom its trust policy admits, planned as a statement and an `aws` connection. */
export const awsInputs: CloudInputs<AwsInput, AwsGrant> = {
  schema: awsInputSchema,
  reservedExtraKeys: RESERVED_AWS_EXTRA_KEYS,
  secretExtraKeys: SECRET_AWS_EXTRA_KEYS,
  refine: refineAwsInput,
  plan(input, common) {
    const grant = planAwsGrant(input, common);
    return { grant, connType: "aws", extra: awsConnectionExtra(input, grant.mode) };
  },
};
