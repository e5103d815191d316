/** Azure resource ids, as the schema checks them and the planner and driver read them (no zod here). */
export const GUID = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}";
/** Azure resource group names: 1-90 letters, digits, `._-()`, not ending in a period. */
export const RESOURCE_GROUP = "[-\\w._()]{0,89}[-\\w_()]";
export const IDENTITY_ID = new RegExp(
  `^/subscriptions/(${GUID})/resourceGroups/(${RESOURCE_GROUP})/providers/Microsoft\\.ManagedIdentity/userAssignedIdentities/([a-zA-Z0-9][-\\w]{2,127})$`,
  "i",
);
/** A scope a role can be assigned at: a subscription, a resource group or a resource in one. */
export const SCOPE = new RegExp(
  `^/subscriptions/${GUID}(?:/resourceGroups/${RESOURCE_GROUP}(?:/providers/[\\w.]+/[^?#]+)?)?$`,
  "i",
);
export const ROLE_DEFINITION_ID = new RegExp(
  `^(?:/subscriptions/${GUID})?/providers/Microsoft\\.Authorization/roleDefinitions/(${GUID})$|^(${GUID})$`,
  "i",
);

/** A managed identity's name: the last part of its resource id (the id itself when it is not one). */
export function identityName(id: string): string {
  return IDENTITY_ID.exec(id)?.[3] ?? id;
}
