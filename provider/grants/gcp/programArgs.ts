import type * as pulumi from "@pulumi/pulumi";
import type { Inputs, Loose } from "../../core/programArgs";
import type { GcpInput } from "./schema";

/** The component's arguments for GCP (`gcp`): the schema's input, each value a Pulumi input. */

export type GcpGrant = Loose<Inputs<GcpInput["grant"]>>;
/** The Deployment's workload identity gets `role` on `gcp.project`. Needs `workloadIdentity`. */
export type GcpProjectRoleGrant = Extract<GcpGrant, { kind: "projectRole" }>;
/** The Deployment's workload identity may impersonate `serviceAccount`. Needs `workloadIdentity`. */
export type GcpImpersonationGrant = Extract<GcpGrant, { kind: "impersonation" }>;
/** The Deployment's Kubernetes service accounts may act as `serviceAccount` (Workload Identity User). */
export type GcpCustomerManagedIdentityGrant = Extract<GcpGrant, { kind: "customerManagedIdentity" }>;

export interface GcpGrantArgs extends Inputs<Omit<GcpInput, "project" | "grant">> {
  /**
   * What to grant: { kind: "projectRole", role }, { kind: "impersonation", serviceAccount } or { kind:
   * "customerManagedIdentity", serviceAccount, workloadIdentityPool, namespace, serviceAccounts?,
   * serviceAccountNames? }.
   */
  grant: GcpGrant;
  /**
   * The customer's project: where a project role is granted, and the connection's `project`, such as
   * my-data-project. Default: for `projectRole`, the stack config `gcp:project`; for the service account
   * kinds, the service account's project (from `name@<project>.iam.gserviceaccount.com`).
   */
  project?: pulumi.Input<string>;
}

/** The component's `gcp` argument, with its documentation. */
export interface GcpArgs {
  /**
   * Grant in Google Cloud: the Deployment's members in one role's binding, on the project or on a
   * service account, and the connection's project. { project?, grant, adoptExistingMembers? }.
   */
  gcp: GcpGrantArgs;
}
