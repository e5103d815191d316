/** Azure resource ids, as the schema checks them and the planner and driver read them (no zod here). */
export const GUID = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}";

/**
 * Resource group names ("Naming rules and restrictions for Azure resources",
 * Microsoft.Resources/resourcegroups): 1-90 of underscores, hyphens, periods, parentheses and
 * Unicode letters or digits, not ending in a period. The expressions using it take the `u` flag.
 */
export const RESOURCE_GROUP = "[-_.()\\p{L}\\p{Nd}]{0,89}[-_()\\p{L}\\p{Nd}]";

/** User-assigned managed identity names (Microsoft.ManagedIdentity): 3-128 of alphanumerics, hyphens and underscores, starting with an alphanumeric. */
const IDENTITY_NAME = "[a-zA-Z0-9][-\\w]{2,127}";

export const IDENTITY_ID = new RegExp(
  `^/subscriptions/(${GUID})/resourceGroups/(${RESOURCE_GROUP})/providers/Microsoft\\.ManagedIdentity/userAssignedIdentities/(${IDENTITY_NAME})$`,
  "iu",
);
export const IDENTITY_NAME_ONLY = new RegExp(`^${IDENTITY_NAME}$`);

/**
 * A scope a role can be assigned at: a subscription, a resource group, or a resource in one. A
 * resource id continues `/providers/<namespace>/<type>/<name>`, then `/<child type>/<child name>`
 * pairs ("Resource ID format" of Azure Resource Manager): a type with no name is no resource.
 */
export const SCOPE = new RegExp(
  `^/subscriptions/${GUID}(?:/resourceGroups/${RESOURCE_GROUP}(?:/providers/[a-z0-9]+(?:\\.[a-z0-9]+)+(?:/[a-z][a-z0-9]*/[^/?#\\s]+)+)?)?$`,
  "iu",
);

export const ROLE_DEFINITION_ID = new RegExp(
  `^(?:/subscriptions/${GUID})?/providers/Microsoft\\.Authorization/roleDefinitions/(${GUID})$|^(${GUID})$`,
  "i",
);

/** A managed identity's name: the last part of its resource id (the id itself when it is not one). */
export function identityName(id: string): string {
  return IDENTITY_ID.exec(id)?.[3] ?? id;
}

/** Role names are words (Storage Blob Data Reader): hex digits and hyphens alone are read as a role definition id. */
export const LOOKS_LIKE_A_ROLE_ID = /^\/|^(?=[0-9a-f-]*-)[0-9a-f-]{8,}$/i;
