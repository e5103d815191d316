import type { GrantOutputs } from "../../core/types";
import type { AzureGrantOutput } from "./outputSchema";
import type { AzureGrant, AzureResolved } from "./plan";
import { azureExtraAsApplied } from "./resolved";

/** The component's outputs for Azure: the identity, its credentials and its role assignment, with the ids apply read. */
export const azureOutputs: GrantOutputs<AzureGrant, AzureResolved, AzureGrantOutput> = {
  grant: (grant, resolved) => ({
    cloud: "azure",
    identity: grant.identity,
    clientId: resolved.clientId,
    principalId: resolved.principalId,
    tenantId: resolved.tenantId,
    credentials: grant.credentials,
    roleAssignment: grant.roleAssignment
      ? {
          ...grant.roleAssignment,
          principal: resolved.principalId,
          roleDefinitionId: resolved.roleDefinitionId ?? null,
        }
      : null,
    preExistingAssignment: resolved.preExistingAssignment ?? null,
    adoptedCredentials: resolved.adoptedCredentials ?? [],
  }),
  connectionExtra: azureExtraAsApplied,
};
