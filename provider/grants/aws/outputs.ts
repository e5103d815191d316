import type { GrantOutputs } from "../../core/types";
import type { AwsGrantOutput } from "./outputSchema";
import { awsExtraAsApplied } from "./resolved";
import type { AwsGrant, AwsResolved } from "./types";

/** The component's outputs for AWS: the role, the statement and the entries it trusts; `role_arn` as written. */
export const awsOutputs: GrantOutputs<AwsGrant, AwsResolved, AwsGrantOutput> = {
  grant: (grant, resolved) => ({
    cloud: "aws",
    roleArn: resolved.roleArn,
    statementId: grant.sid,
    trusted: grant.entries,
    statement: grant.statement,
    oidcProviderCreated: resolved.oidcProviderCreated ?? false,
  }),
  connectionExtra: awsExtraAsApplied,
};
