import type { GrantOutput } from "../../core/types";
import type { AzureGrant, AzureResolved } from "./plan";

/** The component's `grant` output for Azure: the identity, its credentials and its role assignment. */
export const azureGrantOutput = (grant: AzureGrant, resolved: AzureResolved): GrantOutput => ({
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
});
