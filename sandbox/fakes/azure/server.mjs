#!/usr/bin/env node
// A stateful fake of the Azure Resource Manager operations the Azure driver calls:
//
//   Microsoft.ManagedIdentity 2024-11-30
//     GET    /subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}
//     GET    …/userAssignedIdentities/{name}/federatedIdentityCredentials            ($top, $skiptoken)
//     GET | PUT | DELETE …/federatedIdentityCredentials/{credential}
//   Microsoft.Authorization 2022-04-01, {scope} = subscription, resource group or resource
//     GET | PUT | DELETE {scope}/providers/Microsoft.Authorization/roleAssignments/{guid}
//     GET    {scope}/providers/Microsoft.Authorization/roleAssignments             ($filter, $skipToken)
//     GET    {scope}/providers/Microsoft.Authorization/roleDefinitions             ($filter)
//     GET    {scope}/providers/Microsoft.Authorization/roleDefinitions/{guid}      (and /providers/… by id)
//   Microsoft.Resources 2021-04-01, {scope} = a user-assigned identity
//     GET | PATCH | PUT | DELETE {scope}/providers/Microsoft.Resources/tags/default
//
// plus a small admin API under /_fake/ for tests (see README.md beside this file). The sandbox
// runs it as two listeners: this http server (the API and /_fake/) and, with --front-port, an
// https front that is what clients call. The front collapses the `//` that @azure/arm-authorization
// sends for a scope starting with `/` and spells ARM's fixed path segments the canonical way
// (ARM is case-insensitive about them), then forwards to Prism, which validates both directions
// against openapi.json and forwards to the http server. This file owns the semantics.
//
//   node sandbox/fakes/azure/server.mjs --port P [--front-port F --upstream http://prism --cert C --key K]
//                                     [--tenant-id GUID] [--write-window-ms 300] [--page-size 100]
//
// Only Node built-ins, so it runs before `npm install`.
import { randomUUID } from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import https from "node:https";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** @typedef {import("node:net").AddressInfo} AddressInfo */

const MSI_VERSION = "2024-11-30";
const AUTHORIZATION_VERSION = "2022-04-01";
const TAGS_VERSION = "2021-04-01";
// https://learn.microsoft.com/azure/azure-resource-manager/management/tag-resources#limitations
const MAX_TAGS = 50;
const MAX_TAG_NAME = 512;
const MAX_TAG_VALUE = 256;
const TAG_NAME_FORBIDDEN = /[<>%&\\?/]/;
// https://learn.microsoft.com/entra/workload-id/workload-identity-federation-considerations
const MAX_CREDENTIALS = 20;
const CREDENTIAL_NAME = /^[a-zA-Z0-9][a-zA-Z0-9-_]{2,119}$/;
const IDENTITY_NAME = /^[a-zA-Z0-9][a-zA-Z0-9-_]{2,127}$/;
const RESOURCE_GROUP_NAME = /^[-\w._()]{1,90}$/;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const IDENTITY_TYPE = "Microsoft.ManagedIdentity/userAssignedIdentities";
const CREDENTIAL_TYPE = `${IDENTITY_TYPE}/federatedIdentityCredentials`;
const ROLE_ASSIGNMENT_TYPE = "Microsoft.Authorization/roleAssignments";
const ROLE_DEFINITION_TYPE = "Microsoft.Authorization/roleDefinitions";
const PRINCIPAL_TYPES = ["User", "Group", "ServicePrincipal", "ForeignGroup", "Device"];
// The object id the fake records as createdBy/updatedBy: the caller, whoever holds the token.
const CALLER = "6f0b1f0e-5a3c-4d8e-9b1a-0c2d3e4f5a6b";
const NOT_FOUND_HINT = "For more details please go to https://aka.ms/ARMResourceNotFoundFix";

/** @typedef {{ target?: string, headers?: Record<string, string> }} ErrorExtra */
class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} code
   * @param {string} message
   * @param {ErrorExtra} [extra]
   */
  constructor(status, code, message, { target, headers } = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.target = target;
    this.headers = headers;
  }
}
/** @param {string} message @param {string} [code] @param {ErrorExtra} [extra] */
const badRequest = (message, code = "BadRequest", extra) => new ApiError(400, code, message, extra);

// Built-in roles, with their well-known ids (https://learn.microsoft.com/azure/role-based-access-control/built-in-roles).
const BUILT_IN_ROLES = [
  {
    name: "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
    roleName: "Owner",
    description: "Grants full access to manage all resources, including the ability to assign roles in Azure RBAC.",
    permissions: [{ actions: ["*"], notActions: [], dataActions: [], notDataActions: [] }],
  },
  {
    name: "b24988ac-6180-42a0-ab88-20f7382dd24c",
    roleName: "Contributor",
    description:
      "Grants full access to manage all resources, but does not allow you to assign roles in Azure RBAC, manage assignments in Azure Blueprints, or share image galleries.",
    permissions: [
      {
        actions: ["*"],
        notActions: [
          "Microsoft.Authorization/*/Delete",
          "Microsoft.Authorization/*/Write",
          "Microsoft.Authorization/elevateAccess/Action",
          "Microsoft.Blueprint/blueprintAssignments/write",
          "Microsoft.Blueprint/blueprintAssignments/delete",
          "Microsoft.Compute/galleries/share/action",
        ],
        dataActions: [],
        notDataActions: [],
      },
    ],
  },
  {
    name: "acdd72a7-3385-48ef-bd42-f606fba81ae7",
    roleName: "Reader",
    description: "View all resources, but does not allow you to make any changes.",
    permissions: [{ actions: ["*/read"], notActions: [], dataActions: [], notDataActions: [] }],
  },
  {
    name: "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",
    roleName: "User Access Administrator",
    description: "Lets you manage user access to Azure resources.",
    permissions: [
      {
        actions: ["*/read", "Microsoft.Authorization/*", "Microsoft.Support/*"],
        notActions: [],
        dataActions: [],
        notDataActions: [],
      },
    ],
  },
  {
    name: "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
    roleName: "Storage Blob Data Reader",
    description: "Allows for read access to Azure Storage blob containers and data",
    permissions: [
      {
        actions: [
          "Microsoft.Storage/storageAccounts/blobServices/containers/read",
          "Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action",
        ],
        notActions: [],
        dataActions: ["Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read"],
        notDataActions: [],
      },
    ],
  },
  {
    name: "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
    roleName: "Storage Blob Data Contributor",
    description: "Allows for read, write and delete access to Azure Storage blob containers and data",
    permissions: [
      {
        actions: [
          "Microsoft.Storage/storageAccounts/blobServices/containers/delete",
          "Microsoft.Storage/storageAccounts/blobServices/containers/read",
          "Microsoft.Storage/storageAccounts/blobServices/containers/write",
          "Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action",
        ],
        notActions: [],
        dataActions: [
          "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/delete",
          "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read",
          "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write",
          "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/move/action",
          "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/add/action",
        ],
        notDataActions: [],
      },
    ],
  },
  {
    name: "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
    roleName: "Storage Blob Data Owner",
    description:
      "Allows for full access to Azure Storage blob containers and data, including assigning POSIX access control.",
    permissions: [
      {
        actions: [
          "Microsoft.Storage/storageAccounts/blobServices/containers/*",
          "Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action",
        ],
        notActions: [],
        dataActions: ["Microsoft.Storage/storageAccounts/blobServices/containers/blobs/*"],
        notDataActions: [],
      },
    ],
  },
  {
    name: "4633458b-17de-408a-b874-0445c86b69e6",
    roleName: "Key Vault Secrets User",
    description:
      "Read secret contents. Only works for key vaults that use the 'Azure role-based access control' permission model.",
    permissions: [
      {
        actions: [],
        notActions: [],
        dataActions: [
          "Microsoft.KeyVault/vaults/secrets/getSecret/action",
          "Microsoft.KeyVault/vaults/secrets/readMetadata/action",
        ],
        notDataActions: [],
      },
    ],
  },
  {
    name: "b86a8fe4-44ce-4948-aee5-eccb2c155cd7",
    roleName: "Key Vault Secrets Officer",
    description:
      "Perform any action on the secrets of a key vault, except manage permissions. Only works for key vaults that use the 'Azure role-based access control' permission model.",
    permissions: [
      {
        actions: [
          "Microsoft.Authorization/*/read",
          "Microsoft.Insights/alertRules/*",
          "Microsoft.Resources/deployments/*",
          "Microsoft.Resources/subscriptions/resourceGroups/read",
          "Microsoft.Support/*",
          "Microsoft.KeyVault/checkNameAvailability/read",
          "Microsoft.KeyVault/deletedVaults/read",
          "Microsoft.KeyVault/locations/*/read",
          "Microsoft.KeyVault/vaults/*/read",
          "Microsoft.KeyVault/operations/read",
        ],
        notActions: [],
        dataActions: ["Microsoft.KeyVault/vaults/secrets/*"],
        notDataActions: [],
      },
    ],
  },
];
const BUILT_IN_DATE = "2015-02-02T21:55:09.8806423Z";

// ---------------------------------------------------------------------------------------------
// State

/**
 * @typedef {{ subscriptionId: string, name: string, location: string }} ResourceGroup
 * @typedef {{ subscriptionId: string, resourceGroup: string, name: string }} IdentityRef
 * @typedef {{ name: string, issuer: string, subject: string, audiences: string[] }} Credential
 * @typedef {IdentityRef & {
 *   location: string,
 *   tags?: Tags,
 *   isolationScope: string,
 *   principalId: string,
 *   clientId: string,
 *   credentials: Map<string, Credential>,
 * }} Identity credentials by lower-case name
 * @typedef {Record<string, string>} Tags
 * @typedef {{
 *   scope: string,
 *   name: string,
 *   roleDefinitionId: string,
 *   roleGuid: string,
 *   principalId: string,
 *   principalType: string,
 *   description?: string,
 *   condition?: string,
 *   conditionVersion?: string,
 *   delegatedManagedIdentityResourceId?: string,
 * }} AssignmentWrite a role assignment as a write gives it
 * @typedef {AssignmentWrite & { createdOn: string, updatedOn: string, createdBy: string, updatedBy: string }} RoleAssignment
 * @typedef {{ identity?: string, scope?: string }} ResourceRef
 * @typedef {{ operation: string } & ResourceRef} Call
 * @typedef {{ operation: string, remaining: number, kind: string, retryAfterSeconds?: number } & ResourceRef} Fault
 * @typedef {{ value: object[], nextLink?: string }} Page
 */

const settings = { tenantId: lower(randomUUID()), writeWindowMs: 300, pageSize: 100 };
/** @type {Map<string, ResourceGroup>} by "<sub>/<rg>", lower-case */
let resourceGroups = new Map();
/** @type {Map<string, Identity>} by "<sub>/<rg>/<name>", lower-case */
let identities = new Map();
/** @type {Map<string, string>} object id, lower-case -> principal type */
let principals = new Map();
/** @type {Map<string, RoleAssignment>} by name (a GUID), lower-case; names are unique in the tenant */
let roleAssignments = new Map();
/** @type {Map<string, symbol>} identity key -> the write in flight */
let holds = new Map();
/** @type {Call[]} */
let calls = [];
/** @type {Fault[]} */
let faults = [];

/** @param {unknown} s */
function lower(s) {
  return String(s ?? "").toLowerCase();
}
const now = () => new Date().toISOString();
/** @param {string} guid */
const hex = (guid) => guid.replaceAll("-", "").toLowerCase();

/**
 * @param {string} subscriptionId
 * @param {string} name
 * @param {string} [location]
 * @returns {ResourceGroup}
 */
function ensureResourceGroup(subscriptionId, name, location = "eastus") {
  const key = lower(`${subscriptionId}/${name}`);
  const existing = resourceGroups.get(key);
  if (existing) return existing;
  const created = { subscriptionId, name, location };
  resourceGroups.set(key, created);
  return created;
}

/** @param {string} subscriptionId @param {string} name */
function resourceGroupOrNotFound(subscriptionId, name) {
  const rg = resourceGroups.get(lower(`${subscriptionId}/${name}`));
  if (!rg) throw new ApiError(404, "ResourceGroupNotFound", `Resource group '${name}' could not be found.`);
  return rg;
}

// ---------------------------------------------------------------------------------------------
// Paths

// The fixed segments of the paths served, as ARM spells them; ARM matches them case-insensitively.
const CANONICAL = new Map(
  [
    "subscriptions",
    "resourceGroups",
    "providers",
    "Microsoft.ManagedIdentity",
    "userAssignedIdentities",
    "federatedIdentityCredentials",
    "Microsoft.Authorization",
    "Microsoft.Resources",
    "roleAssignments",
    "roleDefinitions",
  ].map((s) => [s.toLowerCase(), s]),
);

/**
 * A request target as a URL, its path canonical. Not `new URL(target, base)`: that reads the
 * `//subscriptions/…` that @azure/arm-authorization sends as a host name.
 */
/** @param {string} target @param {string} base */
export function requestUrl(target, base) {
  const i = target.indexOf("?");
  const [pathname, search] = i < 0 ? [target, ""] : [target.slice(0, i), target.slice(i)];
  return new URL(`${canonicalPath(pathname)}${search}`, base);
}

/** `//a//b/` -> `/a/b/`, fixed segments spelled canonically; the query is left alone. */
/** @param {string} pathname */
export function canonicalPath(pathname) {
  return pathname
    .replace(/\/{2,}/g, "/")
    .split("/")
    .map((segment) => CANONICAL.get(segment.toLowerCase()) ?? segment)
    .join("/");
}

const SCOPE = /^\/subscriptions\/([^/]+)(?:\/resourceGroups\/([^/]+)(?:\/providers\/([^/]+)((?:\/[^/]+\/[^/]+)+))?)?$/;

/**
 * @typedef {{ scope: string, kind: "tenant" | "subscription" | "resourceGroup" | "resource", subscriptionId?: string, resourceGroup?: string }} Scope
 */
/**
 * A role assignment or definition scope: "" (tenant), a subscription, a resource group or a resource.
 * @param {string} raw
 * @returns {Scope | undefined}
 */
function parseScope(raw) {
  const scope = canonicalPath(raw).replace(/\/$/, "");
  if (scope === "") return { scope, kind: "tenant" };
  const m = SCOPE.exec(scope);
  if (!m) return undefined;
  const [, subscriptionId, resourceGroup, namespace] = m;
  const kind = namespace ? "resource" : resourceGroup ? "resourceGroup" : "subscription";
  return { scope, kind, subscriptionId, resourceGroup };
}

/** How calls and faults name a resource: its id, canonical and lower-case. */
/** @param {unknown} id */
const ref = (id) => lower(canonicalPath(String(id)).replace(/\/$/, ""));
/** @param {string} outer @param {string} inner */
const inScope = (outer, inner) => lower(inner) === lower(outer) || lower(inner).startsWith(`${lower(outer)}/`);

// ---------------------------------------------------------------------------------------------
// Identities and federated identity credentials

/** @param {string} subscriptionId @param {string} resourceGroup @param {string} name */
const identityKey = (subscriptionId, resourceGroup, name) => lower(`${subscriptionId}/${resourceGroup}/${name}`);
/** @param {IdentityRef} i */
const identityId = (i) =>
  `/subscriptions/${i.subscriptionId}/resourcegroups/${i.resourceGroup}/providers/${IDENTITY_TYPE}/${i.name}`;

/** @param {Identity} i */
function identityJson(i) {
  return {
    id: identityId(i),
    name: i.name,
    type: IDENTITY_TYPE,
    location: i.location,
    ...(i.tags ? { tags: { ...i.tags } } : {}),
    properties: {
      tenantId: settings.tenantId,
      principalId: i.principalId,
      clientId: i.clientId,
      isolationScope: i.isolationScope,
    },
  };
}

// Tags at scope: the identity's own tags, as its GET shows them.
/** @param {Identity} i */
function tagsJson(i) {
  return {
    id: `${identityId(i)}/providers/Microsoft.Resources/tags/default`,
    name: "default",
    type: "Microsoft.Resources/tags",
    properties: { tags: { ...(i.tags ?? {}) } },
  };
}

/** @param {Tags} tags @param {string} name */
const findTag = (tags, name) => Object.keys(tags).find((k) => lower(k) === lower(name));

/**
 * A Tags_UpdateAtScope body applied to `current` (resources.json 2021-04-01): Replace sets the
 * whole set; Merge adds the given names and replaces the values of names present; Delete removes
 * the given names, each only while its value is the one given (a name/value pair), or whatever
 * its value when given with an empty one (a name). Names are case-insensitive, values are not;
 * at most 50 tags at the end.
 */
/**
 * @typedef {{ operation?: string, properties?: { tags?: Tags } }} TagsPatch
 * @param {Tags} current
 * @param {TagsPatch | undefined} body
 * @returns {Tags}
 */
function patchTags(current, body) {
  const { operation } = body ?? {};
  const given = body?.properties?.tags ?? {};
  if (operation === undefined || !["Replace", "Merge", "Delete"].includes(operation)) {
    throw badRequest(`The tags operation '${operation}' is not supported. Use Replace, Merge or Delete.`);
  }
  for (const [name, value] of Object.entries(given)) {
    if (name.length > MAX_TAG_NAME || TAG_NAME_FORBIDDEN.test(name)) {
      throw badRequest(`The tag name '${name}' is invalid.`, "InvalidTagNameCharacters");
    }
    if (String(value).length > MAX_TAG_VALUE) {
      throw badRequest(`The tag value of '${name}' exceeds ${MAX_TAG_VALUE} characters.`, "InvalidTagValueLength");
    }
  }
  let next = { ...current };
  if (operation === "Replace") next = { ...given };
  for (const [name, value] of Object.entries(operation === "Merge" ? given : {})) {
    const existing = findTag(next, name);
    if (existing !== undefined) delete next[existing];
    next[existing ?? name] = value;
  }
  for (const [name, value] of Object.entries(operation === "Delete" ? given : {})) {
    const existing = findTag(next, name);
    if (existing !== undefined && (value === "" || next[existing] === value)) delete next[existing];
  }
  if (Object.keys(next).length > MAX_TAGS) {
    throw badRequest(
      `The resource would have ${Object.keys(next).length} tags: at most ${MAX_TAGS} are allowed on a resource.`,
      "TagsLimitExceeded",
    );
  }
  return next;
}

/** @param {IdentityRef} i @param {Credential} c */
function credentialJson(i, c) {
  return {
    id: `${identityId(i)}/federatedIdentityCredentials/${c.name}`,
    name: c.name,
    type: CREDENTIAL_TYPE,
    properties: { issuer: c.issuer, subject: c.subject, audiences: [...c.audiences] },
  };
}

/** By resource id, in any casing; undefined when it is not an identity's id or does not exist. */
/** @param {unknown} id */
function findIdentityById(id) {
  const m =
    /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.ManagedIdentity\/userAssignedIdentities\/([^/]+)$/.exec(
      canonicalPath(String(id ?? "")),
    );
  if (!m) return undefined;
  const [, subscriptionId = "", resourceGroup = "", name = ""] = m;
  return identities.get(identityKey(subscriptionId, resourceGroup, name));
}

/** @param {string} subscriptionId @param {string} resourceGroup @param {string} name */
function identityOrNotFound(subscriptionId, resourceGroup, name) {
  resourceGroupOrNotFound(subscriptionId, resourceGroup);
  const identity = identities.get(identityKey(subscriptionId, resourceGroup, name));
  if (identity) return identity;
  throw new ApiError(
    404,
    "ResourceNotFound",
    `The Resource '${IDENTITY_TYPE}/${name}' under resource group '${resourceGroup}' was not found. ${NOT_FOUND_HINT}`,
  );
}

// Microsoft documents this message for a credential under an identity that does not exist.
/** @param {string} subscriptionId @param {string} resourceGroup @param {string} name */
function parentOrNotFound(subscriptionId, resourceGroup, name) {
  resourceGroupOrNotFound(subscriptionId, resourceGroup);
  const identity = identities.get(identityKey(subscriptionId, resourceGroup, name));
  if (identity) return identity;
  throw new ApiError(404, "ResourceNotFound", "The parent user-assigned identity doesn't exist.");
}

/**
 * The checks of a credential write, in Microsoft's documented wording
 * (https://learn.microsoft.com/entra/workload-id/workload-identity-federation-considerations#errors).
 */
/**
 * @param {Identity} identity
 * @param {string} name
 * @param {JsonBody} body
 * @returns {Credential}
 */
function checkCredential(identity, name, body) {
  if (!CREDENTIAL_NAME.test(name)) throw badRequest(`Federated Identity Credential name '${name}' is invalid.`);
  const props = body?.properties;
  if (!props || typeof props !== "object" || !Object.keys(props).length) {
    throw badRequest("Federated Identity Credential from HTTP body has empty properties");
  }
  const { issuer, subject, audiences } = /** @type {Record<string, unknown>} */ (props);
  if (typeof issuer !== "string" || !issuer || typeof subject !== "string" || !subject || !Array.isArray(audiences)) {
    throw badRequest(
      "The request format was unexpected. Federated Identity Credential must specify 'issuer', 'subject' and 'audience'.",
    );
  }
  if (audiences.length !== 1 || typeof audiences[0] !== "string" || !audiences[0]) {
    throw badRequest("Federated identity credentials must have exactly one audience.");
  }
  const existing = identity.credentials.get(lower(name));
  const clash = [...identity.credentials.values()].find(
    (c) => c !== existing && c.issuer === issuer && c.subject === subject,
  );
  if (clash) {
    throw badRequest("Issuer and subject combination already exists for this Managed Identity.", "BadRequest", {
      target: clash.name,
    });
  }
  if (!existing && identity.credentials.size >= MAX_CREDENTIALS) {
    throw badRequest(
      `Too many Federated Identity Credentials. A user-assigned managed identity can have at most ${MAX_CREDENTIALS} federated identity credentials.`,
    );
  }
  return { name: existing?.name ?? name, issuer, subject, audiences: [...audiences] };
}

/** @param {IdentityRef} identity */
function concurrentWrites(identity) {
  const id =
    `/subscriptions/${identity.subscriptionId}/resourcegroups/${identity.resourceGroup}` +
    `/providers/microsoft.managedidentity/userassignedidentities/${identity.name}`;
  return new ApiError(
    409,
    "ConcurrentFederatedIdentityCredentialsWritesForSingleManagedIdentity",
    `Too many Federated Identity Credentials are written concurrently for the managed identity '${id}'. Concurrent Federated Identity Credentials writes under the same managed identity are not supported.`,
  );
}

// A write holds its identity for settings.writeWindowMs and is answered when the window ends, so a
// client that waits for each answer never collides with itself, while a second write on the same
// identity within the window meets 409, as concurrent writes do on Azure.
/** @param {IdentityRef} identity */
function holdIdentity(identity) {
  const key = identityKey(identity.subscriptionId, identity.resourceGroup, identity.name);
  if (holds.has(key)) throw concurrentWrites(identity);
  const token = Symbol(key);
  holds.set(key, token);
  return {
    delayMs: settings.writeWindowMs,
    release: () => holds.get(key) === token && holds.delete(key),
  };
}

/** @param {Identity} identity @param {URLSearchParams} query @param {string} base */
function listCredentials(identity, query, base) {
  const top = query.has("$top") ? Number(query.get("$top")) : settings.pageSize;
  if (!Number.isInteger(top) || top < 1) throw badRequest(`The value '${query.get("$top")}' of $top is not valid.`);
  const start = decodeSkipToken(query.get("$skiptoken"));
  const all = [...identity.credentials.values()];
  const value = all.slice(start, start + top).map((c) => credentialJson(identity, c));
  /** @type {Page} */
  const body = { value };
  if (start + top < all.length) {
    const next = new URLSearchParams({
      "api-version": MSI_VERSION,
      $top: String(top),
      $skiptoken: skipToken(start + top),
    });
    body.nextLink = `${base}${identityId(identity)}/federatedIdentityCredentials?${dollars(next)}`;
  }
  return body;
}

/** @param {number} offset */
const skipToken = (offset) => Buffer.from(`offset:${offset}`).toString("base64url");
/** @param {string | null} token */
function decodeSkipToken(token) {
  if (token === null || token === "") return 0;
  const m = /^offset:(\d+)$/.exec(Buffer.from(token, "base64url").toString("utf8"));
  if (!m) throw badRequest(`The skip token '${token}' is not valid.`);
  return Number(m[1]);
}
// URLSearchParams writes `$` as %24; Azure's next links spell the OData names out.
/** @param {URLSearchParams} params */
const dollars = (params) => params.toString().replaceAll("%24", "$");

// ---------------------------------------------------------------------------------------------
// Role definitions and role assignments

/** @typedef {(typeof BUILT_IN_ROLES)[number]} Role */
/** @param {Role} role @param {Scope} scope */
function roleDefinitionJson(role, scope) {
  const sub = scope.subscriptionId ? `/subscriptions/${scope.subscriptionId}` : "";
  return {
    id: `${sub}/providers/${ROLE_DEFINITION_TYPE}/${role.name}`,
    name: role.name,
    type: ROLE_DEFINITION_TYPE,
    properties: {
      roleName: role.roleName,
      description: role.description,
      type: "BuiltInRole",
      permissions: structuredClone(role.permissions),
      assignableScopes: ["/"],
      createdOn: BUILT_IN_DATE,
      updatedOn: BUILT_IN_DATE,
    },
  };
}

/** @param {string} guid */
const findRole = (guid) => BUILT_IN_ROLES.find((r) => r.name === lower(guid));

/** The GUID of `/subscriptions/{s}/providers/Microsoft.Authorization/roleDefinitions/{guid}` or `/providers/…/{guid}`. */
/** @param {unknown} id */
function roleDefinitionGuid(id) {
  const m =
    /^(?:\/subscriptions\/[^/]+)?\/providers\/Microsoft\.Authorization\/roleDefinitions\/([0-9a-f-]{36})$/i.exec(
      canonicalPath(String(id ?? "")),
    );
  return m?.[1] && GUID.test(m[1]) ? lower(m[1]) : undefined;
}

/** @param {string} guid */
function roleDefinitionOrNotFound(guid) {
  const role = findRole(guid);
  if (role) return role;
  throw new ApiError(
    404,
    "RoleDefinitionDoesNotExist",
    `The specified role definition with ID '${guid}' does not exist.`,
  );
}

// OData as Azure takes it here: clauses joined by `and`.
/** @param {string} filter */
function clauses(filter) {
  return filter
    .split(/\s+and\s+/i)
    .map((c) => c.trim())
    .filter(Boolean);
}
/** @param {string | null} filter */
const unsupportedFilter = (filter) => badRequest(`The filter '${filter}' is not supported.`, "UnsupportedQuery");

/** @param {Scope} scope @param {string | null} filter */
function listRoleDefinitions(scope, filter) {
  let roles = BUILT_IN_ROLES;
  for (const clause of filter ? clauses(filter) : []) {
    let m;
    if ((m = /^roleName\s+eq\s+'(.*)'$/i.exec(clause))) {
      const name = (m[1] ?? "").replaceAll("''", "'");
      roles = roles.filter((r) => lower(r.roleName) === lower(name));
    } else if ((m = /^type\s+eq\s+'(BuiltInRole|CustomRole)'$/i.exec(clause))) {
      if (lower(m[1]) === "customrole") roles = [];
    } else if (!/^atScopeAndBelow\(\)$/i.test(clause)) throw unsupportedFilter(filter);
  }
  return { value: roles.map((r) => roleDefinitionJson(r, scope)) };
}

/** @param {RoleAssignment} a */
function roleAssignmentJson(a) {
  return {
    id: `${a.scope}/providers/${ROLE_ASSIGNMENT_TYPE}/${a.name}`,
    name: a.name,
    type: ROLE_ASSIGNMENT_TYPE,
    properties: {
      roleDefinitionId: a.roleDefinitionId,
      principalId: a.principalId,
      principalType: a.principalType,
      scope: a.scope,
      ...(a.description !== undefined ? { description: a.description } : {}),
      ...(a.condition !== undefined ? { condition: a.condition } : {}),
      ...(a.conditionVersion !== undefined ? { conditionVersion: a.conditionVersion } : {}),
      createdOn: a.createdOn,
      updatedOn: a.updatedOn,
      createdBy: a.createdBy,
      updatedBy: a.updatedBy,
      ...(a.delegatedManagedIdentityResourceId !== undefined
        ? { delegatedManagedIdentityResourceId: a.delegatedManagedIdentityResourceId }
        : {}),
    },
  };
}

/** @param {string} name */
function checkAssignmentName(name) {
  if (!GUID.test(name)) {
    throw badRequest(
      `The role assignment ID '${name}' is not valid. The role assignment ID must be a GUID.`,
      "InvalidRoleAssignmentId",
    );
  }
}

/** Resource groups exist for scopes at or below one; subscriptions and resources are not modelled. */
/** @param {Scope} scope */
function scopeOrNotFound(scope) {
  if (scope.subscriptionId && scope.resourceGroup) resourceGroupOrNotFound(scope.subscriptionId, scope.resourceGroup);
  return scope;
}

/** @param {Record<string, unknown>} props @param {string} field */
function optionalString(props, field) {
  const v = props[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw badRequest(`The value of '${field}' must be a string.`, "InvalidRequestContent");
  return v;
}

/** Validates a role assignment write and returns the stored form; `seed` skips the principal lookup. */
/**
 * @param {Scope} scope
 * @param {string} name
 * @param {JsonBody} body
 * @param {{ seed?: boolean }} [options]
 * @returns {AssignmentWrite}
 */
function checkAssignment(scope, name, body, { seed = false } = {}) {
  checkAssignmentName(name);
  const raw = body?.properties;
  if (!raw || typeof raw !== "object") {
    throw badRequest(
      "The request content was invalid and could not be deserialized: 'properties' is required.",
      "InvalidRequestContent",
    );
  }
  const props = /** @type {Record<string, unknown>} */ (raw);
  const { roleDefinitionId, principalId } = props;
  const guid = roleDefinitionGuid(roleDefinitionId);
  if (!guid) throw badRequest(`The role definition ID '${roleDefinitionId}' is not valid.`, "InvalidRoleDefinitionId");
  if (!findRole(guid)) {
    throw badRequest(`The specified role definition with ID '${guid}' does not exist.`, "RoleDefinitionDoesNotExist");
  }
  if (typeof principalId !== "string" || !GUID.test(principalId)) {
    throw badRequest(
      `The Principal ID '${principalId}' is not valid. Principal ID must be a GUID.`,
      "InvalidPrincipalId",
    );
  }
  const given = optionalString(props, "principalType");
  if (given !== undefined && !PRINCIPAL_TYPES.includes(given)) {
    throw badRequest(`The principal type '${given}' is not valid.`, "InvalidPrincipalType");
  }
  const known = principals.get(lower(principalId));
  if (!seed && !known && given === undefined) {
    throw badRequest(
      `Principal ${hex(principalId)} does not exist in the directory ${settings.tenantId}. Check that you have the correct principal ID. If you are creating this principal and then immediately assigning a role, this error might be related to a replication delay. In this case, set the role assignment principalType property to a value, such as ServicePrincipal, User, or Group.  See https://aka.ms/docs-principaltype`,
      "PrincipalNotFound",
    );
  }
  if (!seed && known && given !== undefined && known !== given) {
    throw badRequest(
      `The PrincipalId '${hex(principalId)}' has type '${known}' , which is different from specified PrinciaplType '${given}'.`,
      "UnmatchedPrincipalType",
    );
  }
  const conditionVersion = optionalString(props, "conditionVersion");
  const condition = optionalString(props, "condition");
  if (conditionVersion !== undefined && conditionVersion !== "2.0") {
    throw badRequest(
      `The condition version '${conditionVersion}' is not supported. The supported version is '2.0'.`,
      "InvalidConditionVersion",
    );
  }
  return {
    scope: scope.scope,
    name: lower(name),
    roleDefinitionId: canonicalPath(String(roleDefinitionId)),
    roleGuid: guid,
    principalId: lower(principalId),
    principalType: given ?? known ?? "User",
    description: optionalString(props, "description"),
    condition,
    conditionVersion: condition !== undefined ? (conditionVersion ?? "2.0") : conditionVersion,
    delegatedManagedIdentityResourceId: optionalString(props, "delegatedManagedIdentityResourceId"),
  };
}

/** @param {AssignmentWrite} next */
function putAssignment(next) {
  const existing = roleAssignments.get(next.name);
  if (existing) {
    // A name is one assignment in the whole tenant: its scope, principal and role are fixed.
    if (
      lower(existing.scope) !== lower(next.scope) ||
      existing.principalId !== next.principalId ||
      existing.roleGuid !== next.roleGuid
    ) {
      throw badRequest(
        "Tenant ID, application ID, principal ID, and scope are not allowed to be updated.",
        "RoleAssignmentUpdateNotPermitted",
      );
    }
    Object.assign(existing, {
      principalType: next.principalType,
      description: next.description,
      condition: next.condition,
      conditionVersion: next.conditionVersion,
      delegatedManagedIdentityResourceId: next.delegatedManagedIdentityResourceId,
      updatedOn: now(),
      updatedBy: CALLER,
    });
    return { status: 200, body: roleAssignmentJson(existing) };
  }
  const twin = [...roleAssignments.values()].find(
    (a) => lower(a.scope) === lower(next.scope) && a.principalId === next.principalId && a.roleGuid === next.roleGuid,
  );
  if (twin) {
    throw new ApiError(
      409,
      "RoleAssignmentExists",
      `The role assignment already exists. The ID of the existing role assignment is ${hex(twin.name)}.`,
    );
  }
  const created = { ...next, createdOn: now(), updatedOn: now(), createdBy: CALLER, updatedBy: CALLER };
  roleAssignments.set(created.name, created);
  return { status: 201, body: roleAssignmentJson(created) };
}

// Filters of https://learn.microsoft.com/azure/role-based-access-control/role-assignments-list-rest:
// none = at, above and below the scope; atScope() = at and above; principalId eq / assignedTo() = that
// principal (no groups are modelled, so assignedTo is the same).
/** @param {Scope} scope @param {URLSearchParams} query @param {string} base @param {string} pathname */
function listRoleAssignments(scope, query, base, pathname) {
  const filter = query.get("$filter") ?? "";
  let atScope = false;
  /** @type {string | undefined} */
  let principal;
  for (const clause of filter ? clauses(filter) : []) {
    let m;
    if (/^atScope\(\)$/i.test(clause)) atScope = true;
    else if ((m = /^principalId\s+eq\s+'?([0-9a-f-]{36})'?$/i.exec(clause))) principal = lower(m[1]);
    else if ((m = /^assignedTo\('([0-9a-f-]{36})'\)$/i.exec(clause))) principal = lower(m[1]);
    else throw unsupportedFilter(filter);
  }
  const all = [...roleAssignments.values()].filter(
    (a) =>
      (inScope(a.scope, scope.scope) || (!atScope && inScope(scope.scope, a.scope))) &&
      (!principal || a.principalId === principal),
  );
  const start = decodeSkipToken(query.get("$skipToken"));
  /** @type {Page} */
  const body = { value: all.slice(start, start + settings.pageSize).map(roleAssignmentJson) };
  if (start + settings.pageSize < all.length) {
    const next = new URLSearchParams({ "api-version": AUTHORIZATION_VERSION });
    if (filter) next.set("$filter", filter);
    next.set("$skipToken", skipToken(start + settings.pageSize));
    body.nextLink = `${base}${pathname}?${dollars(next)}`;
  }
  return body;
}

// ---------------------------------------------------------------------------------------------
// ARM routes

const IDENTITY_PATH =
  /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.ManagedIdentity\/userAssignedIdentities\/([^/]+)(\/federatedIdentityCredentials(?:\/([^/]+))?)?$/;
const TAGS_PATH =
  /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.ManagedIdentity\/userAssignedIdentities\/([^/]+)\/providers\/Microsoft\.Resources\/tags\/default$/;
const AUTHORIZATION_PATH =
  /^(.*)\/providers\/Microsoft\.Authorization\/(roleAssignments|roleDefinitions)(?:\/([^/]+))?$/;

/** @type {Record<string, (string | undefined)[]>} by method, then by path shape (identity, list, credential) */
const MSI_OPERATIONS = {
  GET: ["UserAssignedIdentities_Get", "FederatedIdentityCredentials_List", "FederatedIdentityCredentials_Get"],
  PUT: [undefined, undefined, "FederatedIdentityCredentials_CreateOrUpdate"],
  DELETE: [undefined, undefined, "FederatedIdentityCredentials_Delete"],
};
/** @type {Record<string, string>} by method */
const TAGS_OPERATIONS = {
  GET: "Tags_GetAtScope",
  PATCH: "Tags_UpdateAtScope",
  PUT: "Tags_CreateOrUpdateAtScope",
  DELETE: "Tags_DeleteAtScope",
};
/** @type {Record<string, Record<string, (string | undefined)[]>>} by collection, method, then list or item */
const AUTHORIZATION_OPERATIONS = {
  roleAssignments: {
    GET: ["RoleAssignments_ListForScope", "RoleAssignments_Get"],
    PUT: [undefined, "RoleAssignments_Create"],
    DELETE: [undefined, "RoleAssignments_Delete"],
  },
  roleDefinitions: { GET: ["RoleDefinitions_List", "RoleDefinitions_Get"] },
};
export const OPERATIONS = [
  ...new Set(
    [
      ...Object.values(MSI_OPERATIONS),
      ...Object.values(TAGS_OPERATIONS),
      ...Object.values(AUTHORIZATION_OPERATIONS).flatMap(Object.values),
    ].flat(),
  ),
].filter((operation) => operation !== undefined);
const WRITES = new Set([
  "FederatedIdentityCredentials_CreateOrUpdate",
  "FederatedIdentityCredentials_Delete",
  "RoleAssignments_Create",
  "RoleAssignments_Delete",
  "Tags_UpdateAtScope",
  "Tags_CreateOrUpdateAtScope",
  "Tags_DeleteAtScope",
]);
const NO_BODY = new Set(["FederatedIdentityCredentials_Delete", "Tags_DeleteAtScope"]);

/**
 * @typedef {{ subscriptionId?: string, resourceGroup?: string, name?: string, credential?: string, scope?: Scope, item?: string }} RouteParams
 *   what the path captured: the identity's parts, or the scope and the item of an authorization path
 * @typedef {{ operation: string, version: string, params: RouteParams, resource: ResourceRef, subscriptionId?: string }} Route
 * @typedef {Record<string, unknown> | undefined} JsonBody a request body (its shape checked by Prism first)
 * @typedef {{ body: JsonBody, query: URLSearchParams, base: string, pathname: string }} RouteRequest
 * @typedef {{ status?: number, body?: object, headers?: Record<string, string>, delayMs?: number, release?: () => unknown }} Answer
 */
/**
 * The operation a request is, with what it needs to run; undefined when the fake does not serve it.
 * (The `= ""` defaults below are for the type checker: a group that is not optional always matches.)
 * @param {string} method
 * @param {string} pathname
 * @returns {Route | undefined}
 */
function route(method, pathname) {
  let m;
  if ((m = IDENTITY_PATH.exec(pathname))) {
    const [, subscriptionId = "", resourceGroup = "", name = "", credentials, credential] = m;
    const shape = credential !== undefined ? 2 : credentials ? 1 : 0;
    const operation = MSI_OPERATIONS[method]?.[shape];
    if (!operation) return undefined;
    const identity = identities.get(identityKey(subscriptionId, resourceGroup, name));
    return {
      operation,
      version: MSI_VERSION,
      params: { subscriptionId, resourceGroup, name, credential: credential && decodeURIComponent(credential) },
      resource: { identity: ref(identityId(identity ?? { subscriptionId, resourceGroup, name })) },
    };
  }
  if ((m = TAGS_PATH.exec(pathname))) {
    const [, subscriptionId = "", resourceGroup = "", name = ""] = m;
    const operation = TAGS_OPERATIONS[method];
    if (!operation) return undefined;
    const identity = identities.get(identityKey(subscriptionId, resourceGroup, name));
    return {
      operation,
      version: TAGS_VERSION,
      params: { subscriptionId, resourceGroup, name },
      resource: { identity: ref(identityId(identity ?? { subscriptionId, resourceGroup, name })) },
    };
  }
  if ((m = AUTHORIZATION_PATH.exec(pathname))) {
    const [, rawScope = "", collection = "", item] = m;
    const operation = AUTHORIZATION_OPERATIONS[collection]?.[method]?.[item === undefined ? 0 : 1];
    const scope = parseScope(rawScope);
    if (!operation || !scope || (scope.kind === "tenant" && operation !== "RoleDefinitions_Get")) return undefined;
    return {
      operation,
      version: AUTHORIZATION_VERSION,
      params: { scope, item: item && decodeURIComponent(item) },
      resource: { scope: ref(scope.scope) },
      subscriptionId: scope.subscriptionId,
    };
  }
  return undefined;
}

/** @type {Scope} */
const NO_SCOPE = { scope: "", kind: "tenant" };

/**
 * @param {Route} r
 * @param {RouteRequest} request
 * @returns {Answer}
 */
function handle(r, { body, query, base, pathname }) {
  // Each operation reads what its path captured; the defaults stand for what it does not read.
  const { subscriptionId = "", resourceGroup = "", name = "", credential = "", item = "" } = r.params;
  const { scope = NO_SCOPE } = r.params;
  switch (r.operation) {
    case "UserAssignedIdentities_Get":
      return { body: identityJson(identityOrNotFound(subscriptionId, resourceGroup, name)) };
    case "FederatedIdentityCredentials_List":
      return { body: listCredentials(parentOrNotFound(subscriptionId, resourceGroup, name), query, base) };
    case "FederatedIdentityCredentials_Get": {
      const identity = parentOrNotFound(subscriptionId, resourceGroup, name);
      const c = identity.credentials.get(lower(credential));
      if (!c) {
        throw new ApiError(
          404,
          "ResourceNotFound",
          `The Resource '${IDENTITY_TYPE}/${name}/federatedIdentityCredentials/${credential}' under resource group '${resourceGroup}' was not found. ${NOT_FOUND_HINT}`,
        );
      }
      return { body: credentialJson(identity, c) };
    }
    case "FederatedIdentityCredentials_CreateOrUpdate": {
      const identity = parentOrNotFound(subscriptionId, resourceGroup, name);
      const next = checkCredential(identity, credential, body);
      const hold = holdIdentity(identity);
      const created = !identity.credentials.has(lower(credential));
      identity.credentials.set(lower(credential), next);
      return { status: created ? 201 : 200, body: credentialJson(identity, next), ...hold };
    }
    case "FederatedIdentityCredentials_Delete": {
      const identity = parentOrNotFound(subscriptionId, resourceGroup, name);
      if (!CREDENTIAL_NAME.test(credential))
        throw badRequest(`Federated Identity Credential name '${credential}' is invalid.`);
      const hold = holdIdentity(identity);
      return { status: identity.credentials.delete(lower(credential)) ? 200 : 204, ...hold };
    }
    case "Tags_GetAtScope":
      return { body: tagsJson(identityOrNotFound(subscriptionId, resourceGroup, name)) };
    case "Tags_UpdateAtScope": {
      const identity = identityOrNotFound(subscriptionId, resourceGroup, name);
      identity.tags = patchTags(identity.tags ?? {}, /** @type {TagsPatch} */ (body));
      return { body: tagsJson(identity) };
    }
    case "Tags_CreateOrUpdateAtScope": {
      const identity = identityOrNotFound(subscriptionId, resourceGroup, name);
      identity.tags = patchTags({}, { operation: "Replace", properties: /** @type {TagsPatch} */ (body)?.properties });
      return { body: tagsJson(identity) };
    }
    case "Tags_DeleteAtScope":
      identityOrNotFound(subscriptionId, resourceGroup, name).tags = {};
      return { status: 200 };
    case "RoleAssignments_ListForScope":
      return { body: listRoleAssignments(scopeOrNotFound(scope), query, base, pathname) };
    case "RoleAssignments_Get": {
      checkAssignmentName(item);
      scopeOrNotFound(scope);
      const a = roleAssignments.get(lower(item));
      if (!a || lower(a.scope) !== lower(scope.scope)) {
        throw new ApiError(404, "RoleAssignmentNotFound", `The role assignment '${item}' is not found.`);
      }
      return { body: roleAssignmentJson(a) };
    }
    case "RoleAssignments_Create":
      checkAssignmentName(item);
      return putAssignment(checkAssignment(scopeOrNotFound(scope), item, body));
    case "RoleAssignments_Delete": {
      checkAssignmentName(item);
      scopeOrNotFound(scope);
      const a = roleAssignments.get(lower(item));
      if (!a || lower(a.scope) !== lower(scope.scope)) return { status: 204 };
      roleAssignments.delete(a.name);
      return { status: 200, body: roleAssignmentJson(a) };
    }
    case "RoleDefinitions_List":
      return { body: listRoleDefinitions(scopeOrNotFound(scope), query.get("$filter")) };
    case "RoleDefinitions_Get":
      if (scope.kind !== "tenant") scopeOrNotFound(scope);
      return { body: roleDefinitionJson(roleDefinitionOrNotFound(item), scope) };
  }
  throw new Error(`unhandled operation ${r.operation}`);
}

/** @param {http.IncomingMessage} req */
function authenticate(req) {
  const header = req.headers.authorization;
  /** @param {string} reason */
  const challenge = (reason) => ({
    "www-authenticate": `Bearer authorization_uri="https://login.windows.net/${settings.tenantId}", error="invalid_token", error_description="${reason}"`,
  });
  if (header === undefined) {
    throw new ApiError(401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.", {
      headers: challenge("The authentication failed because of missing 'Authorization' header."),
    });
  }
  if (!/^Bearer\s+\S+/i.test(header)) {
    throw new ApiError(
      401,
      "AuthenticationFailed",
      "Authentication failed. The 'Authorization' header is provided in an invalid format.",
      { headers: challenge("The access token is missing or invalid.") },
    );
  }
}

// Deliberate faults that answer in place of the operation; "schema" is applied to the answer.
/** @param {Route} r */
function answerFault(r) {
  const fault = takeFault(r, (f) => f.kind !== "schema");
  if (!fault) return;
  const retryAfter = fault.retryAfterSeconds ?? 1;
  const sub = r.subscriptionId ?? r.params.subscriptionId;
  switch (fault.kind) {
    case "throttle": {
      const kind = WRITES.has(r.operation) ? "write" : "read";
      const message = sub
        ? `Number of '${kind}' requests for subscription '${sub}' actor '${CALLER}' exceeded. Please try again after '${retryAfter}' seconds after the last request. Please see https://aka.ms/ARMThrottling for more details.`
        : `Number of '${kind}' requests for tenant '${settings.tenantId}' exceeded. Please try again after '${retryAfter}' seconds after the last request. Please see https://aka.ms/ARMThrottling for more details.`;
      throw new ApiError(429, sub ? "SubscriptionRequestsThrottled" : "TenantRequestsThrottled", message, {
        headers: { "retry-after": String(retryAfter) },
      });
    }
    case "error500":
      throw new ApiError(
        500,
        "InternalServerError",
        `Encountered internal server error. Diagnostic information: timestamp '${now()}', subscription id '${sub ?? ""}', tracking id '${randomUUID()}', request correlation id '${randomUUID()}'.`,
      );
    case "error503":
      throw new ApiError(503, "ServiceUnavailable", "The service is temporarily unavailable. Please try again later.", {
        headers: fault.retryAfterSeconds !== undefined ? { "retry-after": String(retryAfter) } : {},
      });
    case "concurrentWrite": {
      // Only federated identity credential operations take it: their path names the identity.
      const { subscriptionId = "", resourceGroup = "", name = "" } = r.params;
      throw concurrentWrites({ subscriptionId, resourceGroup, name });
    }
    case "forbidden": {
      // ARM's answer to a caller without the operation's action (AuthorizationFailed).
      const action = TAGS_ACTIONS[r.operation] ?? r.operation;
      const scope = r.resource.identity ?? r.resource.scope;
      throw new ApiError(
        403,
        "AuthorizationFailed",
        `The client '${CALLER}' with object id '${CALLER}' does not have authorization to perform action '${action}' over scope '${scope}' or the scope is invalid. If access was recently granted, please refresh your credentials.`,
      );
    }
  }
}

/** @type {Record<string, string>} */
const TAGS_ACTIONS = {
  Tags_GetAtScope: "Microsoft.Resources/tags/read",
  Tags_UpdateAtScope: "Microsoft.Resources/tags/write",
  Tags_CreateOrUpdateAtScope: "Microsoft.Resources/tags/write",
  Tags_DeleteAtScope: "Microsoft.Resources/tags/delete",
};

/**
 * @param {Route} r
 * @param {(fault: Fault) => boolean} which
 */
function takeFault(r, which) {
  const i = faults.findIndex(
    (f) =>
      f.operation === r.operation &&
      which(f) &&
      (!f.identity || f.identity === r.resource.identity) &&
      (!f.scope || f.scope === r.resource.scope),
  );
  if (i < 0) return undefined;
  const fault = /** @type {Fault} */ (faults[i]);
  if (--fault.remaining <= 0) faults.splice(i, 1);
  return fault;
}

// `ctx` learns the operation as soon as the route is known, so a call that fails still counts,
// and its answer can still carry an injected fault.
/**
 * @param {http.IncomingMessage} req
 * @param {URL} url
 * @param {string} text
 * @param {{ route?: Route }} ctx
 * @returns {Answer}
 */
function arm(req, url, text, ctx) {
  const pathname = canonicalPath(url.pathname);
  const r = route(req.method ?? "", pathname);
  if (!r) {
    throw new ApiError(404, "NotFound", `The fake does not serve ${req.method} ${pathname}.`);
  }
  ctx.route = r;
  calls.push({ operation: r.operation, ...r.resource });
  authenticate(req);
  const version = url.searchParams.get("api-version");
  if (!version) {
    throw badRequest(
      "The api-version query parameter (?api-version=) is required for all requests.",
      "MissingApiVersionParameter",
    );
  }
  if (version !== r.version) {
    throw badRequest(
      `The api-version '${version}' is invalid. The supported versions are '${r.version}'.`,
      "InvalidApiVersionParameter",
    );
  }
  answerFault(r);
  const proto = req.headers["x-forwarded-proto"] ?? "http";
  const host = req.headers["x-forwarded-host"] ?? req.headers.host;
  return handle(r, { body: parseJson(text), query: url.searchParams, base: `${proto}://${host}`, pathname });
}

/**
 * @param {string} text
 * @returns {JsonBody}
 */
function parseJson(text) {
  if (!text.trim()) return undefined;
  try {
    return JSON.parse(text);
  } catch (e) {
    throw badRequest(
      `The request content was invalid and could not be deserialized: '${/** @type {SyntaxError} */ (e).message}'.`,
      "InvalidRequestContent",
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Admin API (/_fake/...): not part of Azure's API, so never behind Prism.

/**
 * @param {http.IncomingMessage} req
 * @param {URL} url
 * @param {string} text
 * @returns {object}
 */
function admin(req, url, text) {
  const body = text.trim() ? JSON.parse(text) : {};
  const request = `${req.method} ${url.pathname}`;
  const q = url.searchParams;
  /** @param {string} message */
  const invalid = (message) => new ApiError(400, "InvalidAdminRequest", message);
  /** @param {string} message */
  const notFound = (message) => new ApiError(404, "NotFound", message);
  if (request === "GET /_fake/health") return { ok: true, tenantId: settings.tenantId };
  if (request === "POST /_fake/reset") {
    [resourceGroups, identities, principals, roleAssignments, holds, calls, faults] = [
      new Map(),
      new Map(),
      new Map(),
      new Map(),
      new Map(),
      [],
      [],
    ];
    return {};
  }
  if (request === "GET /_fake/config") return { ...settings };
  if (request === "POST /_fake/config") {
    for (const key of /** @type {const} */ (["writeWindowMs", "pageSize"])) {
      if (body[key] === undefined) continue;
      if (!Number.isInteger(body[key]) || body[key] < (key === "pageSize" ? 1 : 0)) throw invalid(`Invalid ${key}.`);
      settings[key] = body[key];
    }
    return { ...settings };
  }
  if (request === "POST /_fake/resourceGroups") {
    const { subscriptionId, name, location } = body;
    if (!GUID.test(subscriptionId ?? "")) throw invalid(`Invalid subscription id ${subscriptionId}.`);
    if (!RESOURCE_GROUP_NAME.test(name ?? "")) throw invalid(`Invalid resource group name ${name}.`);
    const rg = ensureResourceGroup(subscriptionId, name, location);
    return { id: `/subscriptions/${rg.subscriptionId}/resourceGroups/${rg.name}`, ...rg };
  }
  if (request === "DELETE /_fake/resourceGroups") {
    const scope = parseScope(q.get("id") ?? "");
    if (scope?.kind !== "resourceGroup") throw invalid(`Not a resource group id: ${q.get("id")}.`);
    const key = lower(`${scope.subscriptionId}/${scope.resourceGroup}`);
    if (!resourceGroups.delete(key)) throw notFound(`No resource group ${scope.scope}.`);
    for (const [k, i] of identities) {
      if (lower(`${i.subscriptionId}/${i.resourceGroup}`) === key) deleteIdentity(k);
    }
    for (const [k, a] of roleAssignments) if (inScope(scope.scope, a.scope)) roleAssignments.delete(k);
    return {};
  }
  if (request === "POST /_fake/identities") return createIdentity(body);
  if (request === "DELETE /_fake/identities") {
    const identity = findIdentityById(q.get("id"));
    if (!identity) throw notFound(`No identity ${q.get("id")}.`);
    deleteIdentity(identityKey(identity.subscriptionId, identity.resourceGroup, identity.name));
    return {};
  }
  if (request === "GET /_fake/tags") {
    const identity = findIdentityById(q.get("identity"));
    if (!identity) throw notFound(`No identity ${q.get("identity")}.`);
    return { ...(identity.tags ?? {}) };
  }
  if (request === "GET /_fake/credentials") {
    const identity = findIdentityById(q.get("identity"));
    if (!identity) throw notFound(`No identity ${q.get("identity")}.`);
    return [...identity.credentials.values()].map((c) => credentialJson(identity, c));
  }
  if (request === "GET /_fake/roleAssignments") {
    const scope = q.has("scope") ? ref(q.get("scope")) : undefined;
    const principal = q.has("principalId") ? lower(q.get("principalId")) : undefined;
    return [...roleAssignments.values()]
      .filter((a) => (!scope || ref(a.scope) === scope) && (!principal || a.principalId === principal))
      .map(roleAssignmentJson);
  }
  if (request === "POST /_fake/roleAssignments") return seedRoleAssignment(body);
  if (request === "DELETE /_fake/roleAssignments") {
    const m = /^(.*)\/providers\/Microsoft\.Authorization\/roleAssignments\/([^/]+)$/.exec(
      canonicalPath(q.get("id") ?? ""),
    );
    const a = m && roleAssignments.get(lower(m[2]));
    if (!m || !a || lower(a.scope) !== lower(m[1])) throw notFound(`No role assignment ${q.get("id")}.`);
    roleAssignments.delete(a.name);
    return {};
  }
  if (request === "GET /_fake/calls") {
    /** @type {Record<string, number>} */
    const counts = {};
    for (const c of calls) {
      if (q.has("identity") && c.identity !== ref(q.get("identity"))) continue;
      if (q.has("scope") && c.scope !== ref(q.get("scope"))) continue;
      if (q.has("operation") && c.operation !== q.get("operation")) continue;
      counts[c.operation] = (counts[c.operation] ?? 0) + 1;
    }
    return counts;
  }
  if (request === "POST /_fake/calls/reset") {
    calls = [];
    return {};
  }
  if (request === "POST /_fake/faults") {
    const { operation, count = 1, kind = "schema", retryAfterSeconds, identity, scope } = body;
    if (!OPERATIONS.includes(operation))
      throw invalid(`Unknown operation ${operation}; one of ${OPERATIONS.join(", ")}.`);
    if (!Number.isInteger(count) || count < 1) throw invalid(`Invalid count ${count}.`);
    if (!["schema", "throttle", "error500", "error503", "concurrentWrite", "forbidden"].includes(kind)) {
      throw invalid(`Unknown fault kind ${kind}.`);
    }
    if (kind === "schema" && (NO_BODY.has(operation) || operation === "RoleAssignments_Delete")) {
      throw invalid(`${operation} may answer without a body; a schema fault needs one.`);
    }
    if (kind === "concurrentWrite" && !operation.startsWith("FederatedIdentityCredentials_")) {
      throw invalid("concurrentWrite applies to federated identity credential operations.");
    }
    if (retryAfterSeconds !== undefined && !(Number.isInteger(retryAfterSeconds) && retryAfterSeconds >= 0)) {
      throw invalid(`Invalid retryAfterSeconds ${retryAfterSeconds}.`);
    }
    faults.push({
      operation,
      remaining: count,
      kind,
      retryAfterSeconds,
      identity: identity && ref(identity),
      scope: scope && ref(scope),
    });
    return {};
  }
  throw notFound(`No admin route ${request}.`);
}

/** @param {string} key */
function deleteIdentity(key) {
  const identity = identities.get(key);
  identities.delete(key);
  // Deleting an identity deletes its service principal; role assignments to it stay, orphaned.
  if (identity) principals.delete(lower(identity.principalId));
}

/**
 * @typedef {{ name?: string, issuer?: unknown, subject?: unknown, audiences?: unknown }} CredentialSeed
 * @typedef {{
 *   subscriptionId?: string,
 *   resourceGroup?: string,
 *   name?: string,
 *   location?: string,
 *   tags?: Tags,
 *   isolationScope?: string,
 *   principalId?: string,
 *   clientId?: string,
 *   credentials?: (CredentialSeed | null)[],
 * }} IdentitySeed
 */
// The resource group is created when missing, so a test needs one call for an identity.
/** @param {IdentitySeed} seed */
function createIdentity({
  subscriptionId,
  resourceGroup,
  name,
  location = "eastus",
  tags,
  isolationScope = "None",
  principalId,
  clientId,
  credentials = [],
}) {
  /** @param {string} message */
  const invalid = (message) => new ApiError(400, "InvalidAdminRequest", message);
  if (subscriptionId === undefined || !GUID.test(subscriptionId))
    throw invalid(`Invalid subscription id ${subscriptionId}.`);
  if (resourceGroup === undefined || !RESOURCE_GROUP_NAME.test(resourceGroup))
    throw invalid(`Invalid resource group name ${resourceGroup}.`);
  if (name === undefined || !IDENTITY_NAME.test(name)) throw invalid(`Invalid identity name ${name}.`);
  if (!["None", "Regional"].includes(isolationScope)) throw invalid(`Invalid isolationScope ${isolationScope}.`);
  for (const id of [principalId, clientId])
    if (id !== undefined && !GUID.test(id)) throw invalid(`Invalid GUID ${id}.`);
  const key = identityKey(subscriptionId, resourceGroup, name);
  if (identities.has(key)) throw new ApiError(409, "Conflict", `Identity ${name} exists.`);
  const rg = ensureResourceGroup(subscriptionId, resourceGroup, location);
  /** @type {Identity} */
  const identity = {
    subscriptionId,
    resourceGroup: rg.name,
    name,
    location,
    tags,
    isolationScope,
    principalId: lower(principalId ?? randomUUID()),
    clientId: lower(clientId ?? randomUUID()),
    credentials: new Map(),
  };
  // The same checks as a write, so a seeded identity is one Azure could hold.
  for (const c of credentials) {
    const { name: credentialName, issuer, subject, audiences = ["api://AzureADTokenExchange"] } = c ?? {};
    identity.credentials.set(
      lower(credentialName),
      checkCredential(identity, String(credentialName), { properties: { issuer, subject, audiences } }),
    );
  }
  identities.set(key, identity);
  principals.set(identity.principalId, "ServicePrincipal");
  return identityJson(identity);
}

// Someone else's role assignment: the scope's resource group is created when missing, the
// principal is remembered with its type.
/** @param {Record<string, unknown>} body */
function seedRoleAssignment(body) {
  /** @param {string} message */
  const invalid = (message) => new ApiError(400, "InvalidAdminRequest", message);
  const scope = parseScope(String(body.scope ?? ""));
  if (!scope || scope.kind === "tenant") throw invalid(`Invalid scope ${body.scope}.`);
  if (scope.subscriptionId && scope.resourceGroup) ensureResourceGroup(scope.subscriptionId, scope.resourceGroup);
  let roleDefinitionId = body.roleDefinitionId;
  if (!roleDefinitionId && body.roleName) {
    const role = BUILT_IN_ROLES.find((r) => lower(r.roleName) === lower(body.roleName));
    if (!role) throw invalid(`Unknown role ${body.roleName}.`);
    roleDefinitionId = `/subscriptions/${scope.subscriptionId}/providers/${ROLE_DEFINITION_TYPE}/${role.name}`;
  }
  const principalId = body.principalId ?? randomUUID();
  const principalType = body.principalType ?? principals.get(lower(principalId)) ?? "User";
  /** @type {Record<string, unknown>} */
  const properties = { ...body, roleDefinitionId, principalId, principalType };
  delete properties.scope;
  delete properties.name;
  delete properties.roleName;
  const next = checkAssignment(scope, String(body.name ?? randomUUID()), { properties }, { seed: true });
  if (!principals.has(next.principalId)) principals.set(next.principalId, next.principalType);
  return putAssignment(next).body;
}

// ---------------------------------------------------------------------------------------------
// HTTP

/**
 * @param {http.ServerResponse} res
 * @param {number} status
 * @param {object} [body]
 * @param {Record<string, string>} [headers]
 */
function send(res, status, body, headers = {}) {
  const base = { "x-ms-request-id": randomUUID(), "x-ms-correlation-request-id": randomUUID(), ...headers };
  if (body === undefined) {
    res.writeHead(status, base);
    return res.end();
  }
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...base,
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
  });
  res.end(text);
}

/** @param {ApiError} e */
const errorBody = (e) => ({
  error: { code: e.code, message: e.message, ...(e.target !== undefined ? { target: e.target } : {}) },
});
/** @param {number} ms */
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export function createServer() {
  return http.createServer((req, res) => {
    /** @type {Buffer[]} */
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", async () => {
      const url = requestUrl(req.url ?? "/", "http://fake");
      const text = Buffer.concat(chunks).toString("utf8");
      const isAdmin = url.pathname.startsWith("/_fake/");
      /** @type {{ route?: Route }} */
      const ctx = {};
      /** @type {Answer} */
      let result;
      try {
        result = isAdmin ? { body: admin(req, url, text) } : arm(req, url, text, ctx);
      } catch (thrown) {
        const stack = typeof thrown === "object" && thrown !== null && "stack" in thrown ? thrown.stack : undefined;
        const e =
          thrown instanceof ApiError
            ? thrown
            : thrown instanceof SyntaxError || thrown instanceof URIError
              ? badRequest(thrown.message, "InvalidRequestContent")
              : new ApiError(500, "InternalServerError", String(stack ?? thrown));
        result = { status: e.status, body: errorBody(e), headers: e.headers };
      }
      if (result.delayMs) await sleep(result.delayMs);
      result.release?.();
      let { status = 200, body, headers } = result;
      if (ctx.route && body !== undefined && takeFault(ctx.route, (f) => f.kind === "schema")) {
        body = { ...body, injectedFault: "not a field of this response" };
      }
      if (!isAdmin) console.log(`${req.method} ${url.pathname} ${status}`);
      send(res, status, body, headers);
    });
  });
}

// ---------------------------------------------------------------------------------------------
// The https front: what clients call. It collapses `//`, spells fixed segments canonically and
// forwards to `upstream` (Prism), telling it which host and scheme the client used, so next
// links point back at the front.

const HOP_BY_HOP = ["connection", "keep-alive", "transfer-encoding", "upgrade", "proxy-connection", "te", "trailer"];

/** @param {{ upstream: string, cert: Buffer, key: Buffer }} options */
export function createFront({ upstream, cert, key }) {
  const target = new URL(upstream);
  const agent = new http.Agent({ keepAlive: true });
  return https.createServer({ cert, key }, (req, res) => {
    const url = requestUrl(req.url ?? "/", "https://front");
    const headers = { ...req.headers };
    for (const h of [...HOP_BY_HOP, "host"]) delete headers[h];
    headers["x-forwarded-host"] = req.headers.host ?? "";
    headers["x-forwarded-proto"] = "https";
    const forward = http.request(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: `${url.pathname}${url.search}`,
        headers,
        agent,
      },
      (upstreamRes) => {
        const out = { ...upstreamRes.headers };
        for (const h of HOP_BY_HOP) delete out[h];
        res.writeHead(upstreamRes.statusCode ?? 502, out);
        upstreamRes.pipe(res);
      },
    );
    forward.on("error", (e) => {
      if (res.headersSent) return res.destroy(e);
      send(res, 502, { error: { code: "BadGateway", message: `The validating proxy did not answer: ${e.message}` } });
    });
    req.pipe(forward);
  });
}

/**
 * @overload
 * @param {string} name
 * @param {string | number} fallback
 * @returns {string}
 */
/**
 * @overload
 * @param {string} name
 * @returns {string | undefined}
 */
/**
 * @param {string} name
 * @param {string | number} [fallback]
 * @returns {string | number | undefined}
 */
function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  settings.tenantId = lower(arg("tenant-id", settings.tenantId));
  settings.writeWindowMs = Number(arg("write-window-ms", settings.writeWindowMs));
  settings.pageSize = Number(arg("page-size", settings.pageSize));
  const server = createServer();
  server.listen(Number(arg("port", 0)), "127.0.0.1", () =>
    console.log(
      `azure fake listening on http://127.0.0.1:${/** @type {AddressInfo} */ (server.address()).port} (tenant ${settings.tenantId})`,
    ),
  );
  const frontPort = arg("front-port");
  if (frontPort !== undefined) {
    /** @param {string} name */
    const frontArg = (name) => {
      const value = arg(name);
      if (value === undefined) throw new Error(`--front-port needs --${name}`);
      return value;
    };
    const front = createFront({
      upstream: frontArg("upstream"),
      cert: fs.readFileSync(frontArg("cert")),
      key: fs.readFileSync(frontArg("key")),
    });
    front.listen(Number(frontPort), "127.0.0.1", () =>
      console.log(
        `azure front listening on https://127.0.0.1:${/** @type {AddressInfo} */ (front.address()).port} -> ${arg("upstream")}`,
      ),
    );
  }
  // State is in memory only, so there is nothing to flush.
  process.on("SIGTERM", () => process.exit(0));
  process.on("SIGINT", () => process.exit(0));
}
