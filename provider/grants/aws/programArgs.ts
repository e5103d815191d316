import type * as pulumi from "@pulumi/pulumi";
import type { Inputs, Loose } from "../../core/programArgs";
import type { AwsInput } from "./schema";

/** The component's arguments for AWS (`aws`): the schema's input, each value a Pulumi input. */

/** Anything with a role ARN output, such as an `aws.iam.Role` from `@pulumi/aws`. */
export interface RoleLike {
  /** The role's ARN, such as arn:aws:iam::123456789012:role/my-role. */
  arn: pulumi.Input<string>;
}

export type AwsTrust = Loose<Inputs<NonNullable<AwsInput["trust"]>>>;
/** Trust the Deployment's workload identity, an IAM role (Astro's default). Needs `workloadIdentity`. */
export type DeploymentRoleTrust = Extract<AwsTrust, { kind: "deploymentRole" }>;
/** Trust an Astro cluster's role, `AirflowS3Logs-<clusterId>`, for every Deployment on the cluster. */
export type ClusterRoleTrust = Extract<AwsTrust, { kind: "clusterRole" }>;
/** Trust the Deployment's Kubernetes service accounts through the cluster's OIDC provider (IRSA). */
export type WebIdentityTrust = Extract<AwsTrust, { kind: "webIdentity" }>;

export interface AwsGrantArgs extends Inputs<Omit<AwsInput, "targetRole" | "region" | "trust">> {
  /**
   * Whom the role trusts: { kind: "deploymentRole" }, { kind: "clusterRole", ... } or { kind: "webIdentity",
   * issuerUrl, namespace, ... }. Default: { kind: "deploymentRole" }, the Deployment's `workloadIdentity`.
   */
  trust?: AwsTrust;
  /**
   * The customer's IAM role the Deployment will assume: an ARN, a role name, or an `aws.iam.Role`, such as
   * arn:aws:iam::123456789012:role/my-role or my-role. The resource adds one trust statement to this role; it
   * never creates or deletes the role.
   */
  targetRole: pulumi.Input<string> | RoleLike;
  /**
   * Region written to the connection (`region_name`), such as us-east-1. Default: the stack config
   * `aws:region`.
   */
  region?: pulumi.Input<string>;
}

/** The component's `aws` argument, with its documentation. */
export interface AwsArgs {
  /**
   * Grant in AWS: one trust statement for the Deployment in an IAM role's trust policy, and the
   * connection's role and region. { targetRole, trust?, region?, adoptExistingTrust? }.
   */
  aws: AwsGrantArgs;
}
