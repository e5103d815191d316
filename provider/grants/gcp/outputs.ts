import type { GrantOutputs } from "../../core/types";
import type { GcpGrantOutput } from "./outputSchema";
import type { GcpGrant, GcpResolved } from "./plan";

/** The component's outputs for GCP: the resource, the role and the binding's members. */
export const gcpOutputs: GrantOutputs<GcpGrant, GcpResolved, GcpGrantOutput> = {
  grant: (grant, resolved) => ({
    cloud: "gcp",
    mode: grant.mode,
    resource: grant.resource,
    role: grant.role,
    members: grant.members,
    binding: grant.binding,
    preExistingMembers: resolved.preExistingMembers ?? [],
  }),
  // The plan knows every value of the connection's extra (the project, the service account): nothing to resolve.
  connectionExtra: (extra) => extra,
};
