import type { CloudModule } from "../../core/cloud";
import type { AwsGrantArgs } from "./programArgs";
import { awsOutputs } from "./outputs";
import type { AwsGrantOutput } from "./outputSchema";
import { awsGrantDriver, awsPlanner } from "./planner";
import type { AwsInput } from "./schema";
import type { AwsGrant, AwsResolved } from "./types";

/** Where IAM is: the SDK's own endpoint and credentials, and the trust policy size quota when the account's differs. */
export interface AwsRemote {
  policySizeQuota?: number;
}

/** AWS: a statement in an IAM role's trust policy, and an `aws` connection that assumes the role. */
export const awsCloud: CloudModule<AwsInput, AwsGrant, AwsResolved, AwsGrantOutput, AwsRemote, AwsGrantArgs> = {
  cloud: "aws",
  planner: awsPlanner,
  outputs: awsOutputs,
  loadOutputSchema: async () => (await import("./outputSchema.js")).awsGrantOutputSchema,
  loadInputs: async () => (await import("./inputs.js")).awsInputs,
  program: {
    withDefaults: (args, program) => ({
      ...args,
      targetRole: roleArnOrName(args.targetRole, program.isOutput),
      region: args.region ?? program.config("aws", "region"),
    }),
    withDeploymentFacts(args, fill) {
      const trust = (args.trust ?? { kind: "deploymentRole" }) as Record<string, unknown>;
      return {
        args: trust.kind === "webIdentity" ? { ...args, trust: fill(trust, ["issuerUrl", "namespace"]) } : args,
        needsWorkloadIdentity: trust.kind === "deploymentRole",
      };
    },
  },
  remoteSettings(settings, env) {
    const quota = Number(settings("awsTrustPolicySizeQuota") ?? env.AWS_TRUST_POLICY_SIZE_QUOTA ?? Number.NaN);
    return Number.isInteger(quota) && quota > 0 ? { policySizeQuota: quota } : {};
  },
  async loadDriver(remote, { policy, ...calls }) {
    const { AwsIamTrustDriver } = await import("./driver.js");
    return awsGrantDriver(new AwsIamTrustDriver({ ...policy, ...calls, ...remote }));
  },
  discovery: {
    targets: [{ option: "aws-role", value: "<arn|name>", help: "an IAM role whose trust policy to search" }],
    connTypes: ["aws"],
    load: async () => (await import("./discover.js")).awsDiscoverer,
  },
};

/** An `aws.iam.Role` (anything with an `arn`) gives its ARN; an ARN or a name is taken as given. */
function roleArnOrName(role: unknown, isOutput: (value: unknown) => boolean): unknown {
  if (typeof role === "object" && role !== null && "arn" in role && !isOutput(role)) return role.arn;
  return role;
}

export { awsGrantDriver, awsPlanner } from "./planner";
export type { AwsGrant, AwsResolved } from "./types";
export type { AwsInput } from "./schema";
export type { AwsGrantOutput } from "./outputSchema";
