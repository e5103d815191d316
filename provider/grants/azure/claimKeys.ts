import type { AzureGrant } from "./plan";

/** Entra keeps one credential per issuer and subject on an identity: that pair is the unit of access. */
export function credentialKey(grant: AzureGrant, credential: AzureGrant["credentials"][number]): string {
  return `azure ${grant.identity.toLowerCase()} ${credential.issuer} ${credential.subject}`;
}

export function assignmentKey(grant: AzureGrant): string {
  const { scope, role } = grant.roleAssignment!;
  return `azure ${grant.identity.toLowerCase()} role ${role} at ${scope.toLowerCase()}`;
}
