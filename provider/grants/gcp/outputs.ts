import type { GrantOutput } from "../../core/types";
import type { GcpGrant, GcpResolved } from "./plan";

/** The component's `grant` output for GCP: the resource, the role and the binding's members. */
export const gcpGrantOutput = (grant: GcpGrant, resolved: GcpResolved): GrantOutput => ({
  cloud: "gcp",
  mode: grant.mode,
  resource: grant.resource,
  role: grant.role,
  members: grant.members,
  binding: grant.binding,
  preExistingMembers: resolved.preExistingMembers ?? [],
});
