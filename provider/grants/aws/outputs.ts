import type { GrantOutput } from "../../core/types";
import type { AwsGrant, AwsResolved } from "./types";

/** The component's `grant` output for AWS: the role, the statement and the entries it trusts. */
export const awsGrantOutput = (grant: AwsGrant, resolved: AwsResolved): GrantOutput => ({
  cloud: "aws",
  roleArn: resolved.roleArn,
  statementId: grant.sid,
  trusted: grant.entries,
  statement: grant.statement,
  oidcProviderCreated: resolved.oidcProviderCreated ?? false,
});
