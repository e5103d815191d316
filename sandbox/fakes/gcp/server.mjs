#!/usr/bin/env node
// A stateful fake of the Google Cloud methods the provider calls:
//
//   Cloud Resource Manager v3  POST /v3/projects/{project}:getIamPolicy | :setIamPolicy
//                              GET | PATCH /v3/projects/{project}    (a project, its labels)
//                              GET  /v3/operations/{operation}       (what a PATCH started)
//   IAM v1                     GET  /v1/projects/{project}/serviceAccounts/{email or uniqueId}
//                              POST /v1/projects/{project}/serviceAccounts/{email}:getIamPolicy | :setIamPolicy
//
// plus a small admin API under /_fake/ for tests (see README.md beside this file). The sandbox
// puts Prism in front of the Google paths, validating both directions against Google's
// discovery documents; this file owns the semantics (etags, versions, labels, normalisation, errors).
//
//   node sandbox/fakes/gcp/server.mjs --port P
//
// Only Node built-ins, so it runs before `npm install`.
import { createHash, randomBytes, randomInt } from "node:crypto";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";

const MAX_PRINCIPALS = 1500; // per allow policy; what counts: checkPrincipalCount
const EMPTY_ETAG = "ACAB"; // what Google answers for a policy that was never written
const SA_ETAG = "MDEwMjE5MjA="; // ServiceAccount.etag is deprecated; Google sends this constant
const SA_DOMAIN = ".iam.gserviceaccount.com";
const MAX_LABELS = 64; // per resource (Resource Manager, "Labels overview")
// Label keys and values: lower-case letters (international ones too), digits, `_` and `-`, at most
// 63 characters; a key starts with a letter and is never empty.
const LABEL_KEY = /^[\p{Ll}\p{Lo}][\p{Ll}\p{Lo}\p{N}_-]{0,62}$/u;
const LABEL_VALUE = /^[\p{Ll}\p{Lo}\p{N}_-]{0,63}$/u;

class ApiError extends Error {
  /**
   * @param {number} code HTTP status
   * @param {string} status google.rpc.Code name
   * @param {string} message
   * @param {object[]} [details]
   */
  constructor(code, status, message, details) {
    super(message);
    this.code = code;
    this.status = status;
    this.details = details;
  }
}
/** @param {string} message */
const invalid = (message) => new ApiError(400, "INVALID_ARGUMENT", message);

/**
 * Parsed request messages: names and JSON types checked by parseMessage, values not yet.
 * @typedef {{ expression?: string, title?: string, description?: string, location?: string }} Expr
 * @typedef {{ role?: string, members?: string[], condition?: Expr }} BindingMessage
 * @typedef {{ logType?: string, exemptedMembers?: string[] }} AuditLogConfigMessage
 * @typedef {{ service?: string, auditLogConfigs?: AuditLogConfigMessage[] }} AuditConfigMessage
 * @typedef {{ version?: number, bindings?: BindingMessage[], auditConfigs?: AuditConfigMessage[], etag?: string }} PolicyMessage
 * @typedef {{ policy?: PolicyMessage, updateMask?: string }} SetIamPolicyRequest
 * @typedef {{ options?: { requestedPolicyVersion?: number } }} GetIamPolicyRequest
 *
 * Stored state, normalised as Google keeps it.
 * @typedef {{ role: string, members: string[], condition?: Expr }} Binding
 * @typedef {{ logType: string, exemptedMembers?: string[] }} AuditLogConfig
 * @typedef {{ service: string, auditLogConfigs?: AuditLogConfig[] }} AuditConfig
 * @typedef {{ version: number, bindings: Binding[], auditConfigs: AuditConfig[], etag: string }} Policy
 * @typedef {{ displayName?: string, labels?: Record<string, string>, etag?: string }} ProjectMessage
 * @typedef {{ projectId: string, projectNumber: string, policy: Policy, displayName: string, labels: Record<string, string>, etag: string, createTime: string, updateTime: string }} Project
 * @typedef {{ name: string, projectId: string, checks: number }} Operation a projects.patch; done from its first operations.get
 * @typedef {{ email: string, projectId: string, uniqueId: string, displayName?: string, description?: string, disabled: boolean, policy: Policy }} ServiceAccount
 * @typedef {{ policy: Policy }} PolicyHolder
 * @typedef {"project" | "serviceAccount" | "auditConfig"} ResourceKind what a policy or member belongs to
 * @typedef {{ project?: string, serviceAccount?: string }} ResourceRef
 * @typedef {{ method: string } & ResourceRef} Call
 * @typedef {{ method: string, remaining: number, kind: string } & ResourceRef} Fault
 * @typedef {{ version?: number, bindings?: Binding[], auditConfigs?: AuditConfig[], etag: string }} PolicyJson
 */

// ---------------------------------------------------------------------------------------------
// State

/** @type {Map<string, Project>} by projectId */
let projects = new Map();
/** @type {Map<string, ServiceAccount>} by email */
let serviceAccounts = new Map();
/** @type {Call[]} */
let calls = [];
/** @type {Fault[]} */
let faults = [];
/** @type {Map<string, Operation>} by name (`operations/cp.<digits>`) */
let operations = new Map();

/** @param {string} [previous] */
function newEtag(previous) {
  for (;;) {
    const bytes = randomBytes(8);
    bytes[0] = 0x07; // Google's etags start "Bw"; cosmetic, but makes logs look familiar
    const etag = bytes.toString("base64");
    if (etag !== previous) return etag;
  }
}

/** @param {number} n */
const digits = (n) => `${randomInt(1, 10)}${Array.from({ length: n - 1 }, () => randomInt(0, 10)).join("")}`;
/** @returns {Policy} */
const emptyPolicy = () => ({ version: 0, bindings: [], auditConfigs: [], etag: EMPTY_ETAG });
/** @param {Binding[]} bindings */
const conditional = (bindings) => bindings.some((b) => b.condition);
// A policy's version is what its content needs: 3 with conditions, else 1 (0 = never written).
/** @param {Binding[]} bindings */
const versionFor = (bindings) => (conditional(bindings) ? 3 : 1);

/** @param {string} idOrNumber */
function findProject(idOrNumber) {
  return projects.get(idOrNumber) ?? [...projects.values()].find((p) => p.projectNumber === idOrNumber);
}

// `projects/-/...` or the owning project's id or number; by e-mail or by uniqueId.
/** @param {string} projectRef @param {string} id */
function findServiceAccount(projectRef, id) {
  const sa = serviceAccounts.get(id.toLowerCase()) ?? [...serviceAccounts.values()].find((s) => s.uniqueId === id);
  if (!sa) return undefined;
  if (projectRef === "-" || projectRef === sa.projectId) return sa;
  return projects.get(sa.projectId)?.projectNumber === projectRef ? sa : undefined;
}

// ---------------------------------------------------------------------------------------------
// Request bodies, parsed like Google's proto3 JSON parser: unknown names and wrong types are
// INVALID_ARGUMENT with Google's wording; null means "not set".

/** @type {Record<string, Record<string, string | [string]>>} field name -> type, [type] for a list */
const MESSAGES = {
  SetIamPolicyRequest: { policy: "Policy", updateMask: "string" },
  GetIamPolicyRequest: { options: "GetPolicyOptions" },
  GetPolicyOptions: { requestedPolicyVersion: "int32" },
  Policy: { version: "int32", bindings: ["Binding"], auditConfigs: ["AuditConfig"], etag: "bytes" },
  Binding: { role: "string", members: ["string"], condition: "Expr" },
  Expr: { expression: "string", title: "string", description: "string", location: "string" },
  AuditConfig: { service: "string", auditLogConfigs: ["AuditLogConfig"] },
  AuditLogConfig: { logType: "LogType", exemptedMembers: ["string"] },
  // What projects.patch may carry: every field of Project; the output-only ones are ignored, as Google does.
  Project: {
    name: "string",
    parent: "string",
    projectId: "string",
    state: "string",
    displayName: "string",
    createTime: "string",
    updateTime: "string",
    deleteTime: "string",
    etag: "string",
    labels: "StringMap",
    tags: "StringMap",
    configuredCapabilities: ["string"],
    isManagementProject: "bool",
    managementType: "string",
  },
};
const LOG_TYPES = ["LOG_TYPE_UNSPECIFIED", "ADMIN_READ", "DATA_WRITE", "DATA_READ"];

/**
 * @param {unknown} value
 * @param {string} type a key of MESSAGES
 * @param {string} at
 * @returns {Record<string, unknown>}
 */
function parseMessage(value, type, at) {
  const fields = MESSAGES[type] ?? {};
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw invalid(`Invalid JSON payload received. Expected an object at '${at || type}'.`);
  }
  /** @type {Record<string, unknown>} */
  const out = {};
  for (const [name, v] of Object.entries(value)) {
    const where = at ? `${at}.${name}` : name;
    const spec = fields[name];
    if (!spec)
      throw invalid(`Invalid JSON payload received. Unknown name "${name}" at '${at || type}': Cannot find field.`);
    if (v === null) continue;
    if (Array.isArray(spec)) {
      if (!Array.isArray(v)) throw invalid(`Invalid value at '${where}', expected a list.`);
      out[name] = v.map((item, i) => parseValue(item, spec[0], `${where}[${i}]`));
    } else out[name] = parseValue(v, spec, where);
  }
  return out;
}

/**
 * @param {unknown} v
 * @param {string} type
 * @param {string} at
 * @returns {unknown}
 */
function parseValue(v, type, at) {
  /** @param {string} t */
  const bad = (t) => invalid(`Invalid value at '${at}' (${t}), ${JSON.stringify(v)}`);
  switch (type) {
    case "string":
      if (typeof v !== "string") throw bad("TYPE_STRING");
      return v;
    case "int32": {
      const n = typeof v === "string" && /^-?\d+$/.test(v) ? Number(v) : v;
      if (typeof n !== "number" || !Number.isInteger(n) || n < -(2 ** 31) || n >= 2 ** 31) throw bad("TYPE_INT32");
      return n;
    }
    case "bytes":
      if (typeof v !== "string" || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(v)) throw bad("TYPE_BYTES");
      return v;
    case "bool":
      if (typeof v !== "boolean") throw bad("TYPE_BOOL");
      return v;
    case "StringMap": {
      if (v === null || typeof v !== "object" || Array.isArray(v)) throw bad("TYPE_MESSAGE");
      for (const [k, item] of Object.entries(v)) {
        if (typeof item !== "string")
          throw invalid(`Invalid value at '${at}[${JSON.stringify(k)}]' (TYPE_STRING), ${JSON.stringify(item)}`);
      }
      return { ...v };
    }
    case "LogType":
      if (typeof v !== "string" || !LOG_TYPES.includes(v)) throw bad("TYPE_ENUM");
      return v;
    default:
      return parseMessage(v, type, at);
  }
}

// ---------------------------------------------------------------------------------------------
// Policies

const EMAIL = /^[^@\s:]+@[^@\s:]+\.[^@\s:]+$/;
const DOMAIN = /^([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}$/i;
const ROLE = /^(roles|projects\/[^/]+\/roles|organizations\/\d+\/roles)\/[A-Za-z0-9_.]+$/;
// A Kubernetes service account in a GKE workload identity pool: <project>.svc.id.goog[<ns>/<ksa>].
const KUBERNETES_SA =
  /^[a-z][a-z0-9-]{4,28}[a-z0-9]\.svc\.id\.goog\[[a-z0-9]([-a-z0-9]*[a-z0-9])?\/[a-z0-9]([-a-z0-9.]*[a-z0-9])?\]$/;

/** @param {string} m */
function validMember(m) {
  if (m === "allUsers" || m === "allAuthenticatedUsers") return true;
  const deleted = /^deleted:(user|serviceAccount|group):([^?]+)\?uid=\d+$/.exec(m);
  if (deleted) return EMAIL.test(deleted[2] ?? "");
  if (/^(deleted:)?(principal|principalSet):\/\/\S+$/.test(m)) return true;
  const [type, value] = [m.slice(0, m.indexOf(":")), m.slice(m.indexOf(":") + 1)];
  if (type === "serviceAccount" && KUBERNETES_SA.test(value)) return true;
  if (["user", "serviceAccount", "group"].includes(type)) return EMAIL.test(value);
  if (type === "domain") return DOMAIN.test(value);
  return false;
}

/** @param {string} m @param {ResourceKind} kind */
function checkMember(m, kind) {
  if (!validMember(m)) {
    throw invalid(`Invalid principal "${m}": policy members must be of the form "<type>:<value>".`);
  }
  // Stated in the setIamPolicy reference of Cloud Resource Manager.
  if (kind === "project" && (m === "allUsers" || m === "allAuthenticatedUsers")) {
    throw invalid(`Principal ${m} is of an invalid type for this resource: projects do not support public access.`);
  }
}

/**
 * @param {string | undefined} role
 * @returns {asserts role is string}
 */
function checkRole(role) {
  if (!role) throw invalid("A binding has no role.");
  // What a version 1 read shows in place of a conditional binding is not a real role.
  if (!ROLE.test(role) || role.includes("_withcond_")) {
    throw invalid(`Role ${role} is not supported for this resource.`);
  }
}

// Google's normalisation on write: members de-duplicated in each binding, empty bindings
// dropped; order is kept as written.
/**
 * @param {BindingMessage[]} bindings
 * @param {ResourceKind} kind
 * @returns {Binding[]}
 */
function normaliseBindings(bindings, kind) {
  const out = [];
  for (const b of bindings) {
    checkRole(b.role);
    const members = [...new Set(b.members ?? [])];
    members.forEach((m) => checkMember(m, kind));
    if (!members.length) continue;
    /** @type {Binding} */
    const binding = { role: b.role, members };
    if (b.condition) {
      const { expression, title, description, location } = b.condition;
      if (!expression) throw invalid(`The condition of a binding for ${b.role} has no expression.`);
      if (!title) throw invalid(`The condition of a binding for ${b.role} has no title.`);
      binding.condition = {
        expression,
        title,
        ...(description ? { description } : {}),
        ...(location ? { location } : {}),
      };
    }
    out.push(binding);
  }
  return out;
}

/**
 * @param {AuditConfigMessage[]} configs
 * @returns {AuditConfig[]}
 */
function normaliseAuditConfigs(configs) {
  return configs.map((c) => {
    const service = c.service;
    if (!service) throw invalid("An audit config has no service.");
    const auditLogConfigs = (c.auditLogConfigs ?? []).map((l) => {
      const logType = l.logType;
      if (!logType || logType === "LOG_TYPE_UNSPECIFIED")
        throw invalid(`An audit log config of ${c.service} has no log type.`);
      const exemptedMembers = [...new Set(l.exemptedMembers ?? [])];
      exemptedMembers.forEach((m) => checkMember(m, "auditConfig"));
      return { logType, ...(exemptedMembers.length ? { exemptedMembers } : {}) };
    });
    return { service, ...(auditLogConfigs.length ? { auditLogConfigs } : {}) };
  });
}

// Google's rule (https://cloud.google.com/iam/docs/allow-policies, "Limits for all principals"):
// every appearance of a principal in a role binding, conditional ones included and nothing
// de-duplicated across bindings, plus the principals exempted from audit logging; a group or a
// domain counts once per appearance. Called on normalised bindings and audit configs, where a
// member appears once per binding and once per audit log config.
/** @param {Binding[]} bindings @param {AuditConfig[]} auditConfigs */
function checkPrincipalCount(bindings, auditConfigs) {
  const count =
    bindings.reduce((n, b) => n + b.members.length, 0) +
    auditConfigs.flatMap((c) => c.auditLogConfigs ?? []).reduce((n, l) => n + (l.exemptedMembers?.length ?? 0), 0);
  if (count > MAX_PRINCIPALS) {
    /** @param {number} n */
    const fmt = (n) => n.toLocaleString("en-US");
    throw invalid(
      `The number of members in the policy (${fmt(count)}) is larger than the maximum allowed size ${fmt(MAX_PRINCIPALS)}.`,
    );
  }
}

/** A policy given to the admin API: the same checks as a write, version from its content. */
/**
 * @param {unknown} raw
 * @param {"project" | "serviceAccount"} kind
 * @returns {Policy}
 */
function seedPolicy(raw, kind) {
  if (!raw) return emptyPolicy();
  const p = /** @type {PolicyMessage} */ (parseMessage(raw, "Policy", "policy"));
  const bindings = normaliseBindings(p.bindings ?? [], kind);
  const auditConfigs = kind === "project" ? normaliseAuditConfigs(p.auditConfigs ?? []) : [];
  if (kind !== "project" && p.auditConfigs?.length) throw invalid("Service accounts do not take audit configs.");
  checkPrincipalCount(bindings, auditConfigs);
  return { version: versionFor(bindings), bindings, auditConfigs, etag: newEtag() };
}

// The policy as Google formats it for `requested` (0, 1 or 3). Below 3, a policy with
// conditions comes back as version 1 with each conditional binding's condition left out and its
// role renamed <role>_withcond_<hash> (https://cloud.google.com/iam/docs/policies#versions).
/**
 * @param {Policy} stored
 * @param {number} requested
 * @param {ResourceKind} kind
 * @returns {PolicyJson}
 */
function formatPolicy(stored, requested, kind) {
  const withConditions = conditional(stored.bindings);
  const v3 = withConditions && requested === 3;
  const bindings = stored.bindings.map((b) => {
    if (!b.condition || v3) return structuredClone(b);
    const hash = createHash("sha256").update(JSON.stringify(b.condition)).digest("hex").slice(0, 20);
    return { role: `${b.role}_withcond_${hash}`, members: [...b.members] };
  });
  return {
    ...(stored.version ? { version: v3 ? 3 : 1 } : {}),
    ...(bindings.length ? { bindings } : {}),
    ...(kind === "project" && stored.auditConfigs.length ? { auditConfigs: structuredClone(stored.auditConfigs) } : {}),
    etag: stored.etag,
  };
}

/** @param {number | undefined} v */
function requestedVersion(v) {
  if (v === undefined) return 0;
  if (![0, 1, 3].includes(v)) throw invalid(`Invalid requested policy version: ${v}. Valid values are 0, 1 and 3.`);
  return v;
}

/** @param {PolicyHolder} resource @param {ResourceKind} kind @param {number | undefined} requested */
function getIamPolicy(resource, kind, requested) {
  return formatPolicy(resource.policy, requestedVersion(requested), kind);
}

/** @param {PolicyHolder} resource @param {ResourceKind} kind @param {unknown} body */
function setIamPolicy(resource, kind, body) {
  const request = /** @type {SetIamPolicyRequest} */ (parseMessage(body ?? {}, "SetIamPolicyRequest", ""));
  if (!request.policy) throw invalid("The request has no policy.");
  const policy = request.policy;
  const mask = new Set(
    (request.updateMask || "bindings,etag")
      .split(",")
      .map((f) => f.trim())
      .filter(Boolean)
      .map((f) => (f === "audit_configs" ? "auditConfigs" : f)),
  );
  const allowed = kind === "project" ? ["bindings", "etag", "auditConfigs"] : ["bindings", "etag"];
  for (const field of mask) {
    if (!allowed.includes(field)) throw invalid(`Invalid update mask field "${field}" for this resource.`);
  }
  const stored = resource.policy;
  if (policy.etag && Buffer.compare(Buffer.from(policy.etag, "base64"), Buffer.from(stored.etag, "base64")) !== 0) {
    throw new ApiError(
      409,
      "ABORTED",
      "There were concurrent policy changes. Please retry the whole read-modify-write with exponential backoff.",
    );
  }
  const version = policy.version ?? 0;
  if (![0, 1, 3].includes(version)) throw invalid(`Invalid policy version: ${version}. Valid values are 0, 1 and 3.`);

  let bindings = stored.bindings;
  if (mask.has("bindings")) {
    bindings = normaliseBindings(policy.bindings ?? [], kind);
    if (conditional(bindings) && version < 3) {
      throw invalid(`Policy version ${version} cannot contain conditional role bindings; set the version to 3.`);
    }
    // Only a blind write (no etag) may replace a policy with conditions by an older version.
    if (conditional(stored.bindings) && version < 3 && policy.etag) {
      throw invalid(
        `The policy has conditional role bindings: modifying it requires policy version 3, not ${version}.`,
      );
    }
  }
  let auditConfigs = stored.auditConfigs;
  if (mask.has("auditConfigs")) auditConfigs = normaliseAuditConfigs(policy.auditConfigs ?? []);
  checkPrincipalCount(bindings, auditConfigs);

  resource.policy = { version: versionFor(bindings), bindings, auditConfigs, etag: newEtag(stored.etag) };
  return formatPolicy(resource.policy, 3, kind);
}

/** @param {ServiceAccount} sa */
function serviceAccountJson(sa) {
  return {
    name: `projects/${sa.projectId}/serviceAccounts/${sa.email}`,
    projectId: sa.projectId,
    uniqueId: sa.uniqueId,
    email: sa.email,
    ...(sa.displayName ? { displayName: sa.displayName } : {}),
    ...(sa.description ? { description: sa.description } : {}),
    etag: SA_ETAG,
    oauth2ClientId: sa.uniqueId,
    ...(sa.disabled ? { disabled: true } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// Projects and their labels

/**
 * Resource Manager's rules for labels (https://cloud.google.com/resource-manager/docs/labels-overview):
 * at most 64; keys of 1-63 and values of 0-63 lower-case letters, digits, `_` and `-`, keys
 * starting with a letter; international letters allowed; keys and values under 128 bytes.
 * @param {Record<string, string>} labels
 */
function checkLabels(labels) {
  for (const [key, value] of Object.entries(labels)) {
    if (!LABEL_KEY.test(key) || Buffer.byteLength(key) > 128) {
      throw invalid(
        `Label key "${key}" violates format constraints: a key must start with a lower-case letter, hold only ` +
          "lower-case letters, digits, underscores and dashes, and be 1 to 63 characters long.",
      );
    }
    if (!LABEL_VALUE.test(value) || Buffer.byteLength(value) > 128) {
      throw invalid(
        `Label value "${value}" of key "${key}" violates format constraints: a value may hold only lower-case ` +
          "letters, digits, underscores and dashes, and be at most 63 characters long.",
      );
    }
  }
  const count = Object.keys(labels).length;
  if (count > MAX_LABELS) {
    throw invalid(
      `No more than ${MAX_LABELS} labels can be associated with a given resource; the request has ${count}.`,
    );
  }
}

/** @param {Project} project */
function projectJson(project) {
  return {
    name: `projects/${project.projectNumber}`,
    projectId: project.projectId,
    state: "ACTIVE",
    displayName: project.displayName,
    createTime: project.createTime,
    updateTime: project.updateTime,
    etag: project.etag,
    ...(Object.keys(project.labels).length ? { labels: { ...project.labels } } : {}),
  };
}

const UPDATABLE = { labels: "labels", display_name: "displayName", displayName: "displayName" };

/**
 * projects.patch: the fields the update mask names (without one, those the body sets), with the
 * etag checked when one is sent. Done at once; the operation it answers says so on its first read.
 * @param {Project} project
 * @param {unknown} body
 * @param {URLSearchParams} query
 */
function patchProject(project, body, query) {
  const request = /** @type {ProjectMessage} */ (parseMessage(body ?? {}, "Project", ""));
  const mask = query.get("updateMask");
  /** @type {Set<string>} */
  const fields = new Set();
  if (mask) {
    for (const field of mask.split(",").map((f) => f.trim())) {
      const known = UPDATABLE[/** @type {keyof typeof UPDATABLE} */ (field)];
      if (!known)
        throw invalid(`Invalid update mask field "${field}": a project's labels and display_name can be updated.`);
      fields.add(known);
    }
  } else {
    if (request.labels && Object.keys(request.labels).length) fields.add("labels");
    if (request.displayName) fields.add("displayName");
  }
  if (request.etag && request.etag !== project.etag) {
    throw new ApiError(
      409,
      "ABORTED",
      `The etag "${request.etag}" of the request is not the current etag of project ${project.projectId}: the project ` +
        "changed since it was read. Read it again and retry the whole read-modify-write.",
    );
  }
  if (fields.has("labels")) checkLabels(request.labels ?? {});
  if (fields.has("displayName") && !/^[A-Za-z0-9 '"!-]{4,30}$/.test(request.displayName ?? "")) {
    throw invalid(`Invalid display name "${request.displayName ?? ""}": 4 to 30 letters, digits, spaces and -'"!.`);
  }
  if (fields.size) {
    if (fields.has("labels")) project.labels = { ...(request.labels ?? {}) };
    if (fields.has("displayName")) project.displayName = request.displayName ?? project.displayName;
    project.etag = newEtag(project.etag);
    project.updateTime = new Date().toISOString();
  }
  /** @type {Operation} */
  const operation = { name: `operations/cp.${digits(19)}`, projectId: project.projectId, checks: 0 };
  operations.set(operation.name, operation);
  return operationJson(operation, project, false);
}

/**
 * @param {Operation} operation
 * @param {Project | undefined} project
 * @param {boolean} done
 */
function operationJson(operation, project, done) {
  return {
    name: operation.name,
    metadata: { "@type": "type.googleapis.com/google.cloud.resourcemanager.v3.UpdateProjectMetadata" },
    ...(done
      ? {
          done: true,
          ...(project
            ? {
                response: {
                  "@type": "type.googleapis.com/google.cloud.resourcemanager.v3.Project",
                  ...projectJson(project),
                },
              }
            : { error: { code: 5, message: `Project ${operation.projectId} was deleted.` } }),
        }
      : {}),
  };
}

/** @param {string} name */
function getOperation(name) {
  const operation = operations.get(name);
  if (!operation) throw new ApiError(404, "NOT_FOUND", `Operation ${name} not found.`);
  operation.checks++;
  return operationJson(operation, projects.get(operation.projectId), true);
}

// ---------------------------------------------------------------------------------------------
// Google routes

/**
 * @typedef {{ params: [string, string], body: unknown, query: URLSearchParams }} RouteRequest
 *   params: the path's captures (each pattern captures what its handler reads)
 * @typedef {{ method: string, http: string, path: RegExp, permission: string, handle: (request: RouteRequest) => object }} Route
 */
/** @type {Route[]} */
const ROUTES = [
  {
    method: "projects.getIamPolicy",
    http: "POST",
    path: /^\/v3\/projects\/([^/]+):getIamPolicy$/,
    permission: "resourcemanager.projects.getIamPolicy",
    handle: ({ params: [project], body, query }) => {
      const request = /** @type {GetIamPolicyRequest} */ (parseMessage(body ?? {}, "GetIamPolicyRequest", ""));
      const requested = request.options?.requestedPolicyVersion ?? queryVersion(query);
      return getIamPolicy(projectOrDenied(project, "getIamPolicy"), "project", requested);
    },
  },
  {
    method: "projects.setIamPolicy",
    http: "POST",
    path: /^\/v3\/projects\/([^/]+):setIamPolicy$/,
    permission: "resourcemanager.projects.setIamPolicy",
    handle: ({ params: [project], body }) => setIamPolicy(projectOrDenied(project, "setIamPolicy"), "project", body),
  },
  {
    method: "projects.get",
    http: "GET",
    path: /^\/v3\/projects\/([^/:]+)$/,
    permission: "resourcemanager.projects.get",
    handle: ({ params: [project] }) => projectJson(projectOrDenied(project, "get")),
  },
  {
    method: "projects.patch",
    http: "PATCH",
    path: /^\/v3\/projects\/([^/:]+)$/,
    permission: "resourcemanager.projects.update",
    handle: ({ params: [project], body, query }) => patchProject(projectOrDenied(project, "update"), body, query),
  },
  {
    method: "operations.get",
    http: "GET",
    path: /^\/v3\/operations\/(.+)$/,
    permission: "resourcemanager.projects.get",
    handle: ({ params: [id] }) => getOperation(`operations/${id}`),
  },
  {
    method: "projects.serviceAccounts.get",
    http: "GET",
    path: /^\/v1\/projects\/([^/]+)\/serviceAccounts\/([^/:]+)$/,
    permission: "iam.serviceAccounts.get",
    handle: ({ params: [project, id] }) => serviceAccountJson(serviceAccountOrNotFound(project, id)),
  },
  {
    method: "projects.serviceAccounts.getIamPolicy",
    http: "POST",
    path: /^\/v1\/projects\/([^/]+)\/serviceAccounts\/([^/:]+):getIamPolicy$/,
    permission: "iam.serviceAccounts.getIamPolicy",
    handle: ({ params: [project, id], query }) =>
      getIamPolicy(serviceAccountOrNotFound(project, id), "serviceAccount", queryVersion(query)),
  },
  {
    method: "projects.serviceAccounts.setIamPolicy",
    http: "POST",
    path: /^\/v1\/projects\/([^/]+)\/serviceAccounts\/([^/:]+):setIamPolicy$/,
    permission: "iam.serviceAccounts.setIamPolicy",
    handle: ({ params: [project, id], body }) =>
      setIamPolicy(serviceAccountOrNotFound(project, id), "serviceAccount", body),
  },
];

/**
 * @param {URLSearchParams} query
 * @returns {number | undefined}
 */
function queryVersion(query) {
  const v = query.get("options.requestedPolicyVersion");
  return v === null ? undefined : /** @type {number} */ (parseValue(v, "int32", "options.requested_policy_version"));
}

// Google answers 403 alike for a project that does not exist and one the caller cannot see.
/** @param {string} id @param {string} verb */
function projectOrDenied(id, verb) {
  const project = findProject(id);
  if (project) return project;
  throw deniedOnProject(`resourcemanager.projects.${verb}`, id);
}

/** @param {string} permission @param {string} id */
function deniedOnProject(permission, id) {
  return new ApiError(
    403,
    "PERMISSION_DENIED",
    `Permission '${permission}' denied on resource '//cloudresourcemanager.googleapis.com/projects/${id}' (or it may not exist).`,
    [
      {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        reason: "IAM_PERMISSION_DENIED",
        domain: "cloudresourcemanager.googleapis.com",
        metadata: { permission, resource: `projects/${id}` },
      },
    ],
  );
}

/** What IAM answers a caller without the permission on a service account. @param {string} permission */
function deniedOnServiceAccount(permission) {
  return new ApiError(
    403,
    "PERMISSION_DENIED",
    `Permission '${permission}' denied on resource (or it may not exist).`,
    [
      {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        reason: "IAM_PERMISSION_DENIED",
        domain: "iam.googleapis.com",
        metadata: { permission },
      },
    ],
  );
}

/** @param {string} project @param {string} id */
function serviceAccountOrNotFound(project, id) {
  const sa = findServiceAccount(project, id);
  if (sa) return sa;
  throw new ApiError(404, "NOT_FOUND", `Service account projects/${project}/serviceAccounts/${id} does not exist.`);
}

/**
 * @param {Route} route
 * @param {[string, string]} params
 * @returns {ResourceRef}
 */
function resourceOf(route, params) {
  if (route.method.startsWith("projects.serviceAccounts.")) {
    const sa = findServiceAccount(params[0], params[1]);
    return { serviceAccount: sa?.email ?? params[1].toLowerCase() };
  }
  if (route.method === "operations.get") {
    const operation = operations.get(`operations/${params[0]}`);
    return operation ? { project: operation.projectId } : {};
  }
  return { project: findProject(params[0])?.projectId ?? params[0] };
}

/** @param {http.IncomingMessage} req @param {URLSearchParams} query */
function authenticated(req, query) {
  const m = /^Bearer\s+(\S+)/i.exec(req.headers.authorization ?? "");
  return Boolean(m || query.get("access_token") || query.get("oauth_token"));
}

// `ctx` learns the method and resource as soon as the route is known, so a call that fails
// still counts, and its error body can still carry an injected fault.
/**
 * @typedef {{ method?: string, resource?: ResourceRef }} CallContext
 * @param {http.IncomingMessage} req
 * @param {URL} url
 * @param {string} body
 * @param {CallContext} ctx
 */
function google(req, url, body, ctx) {
  const route = ROUTES.find((r) => r.http === req.method && r.path.test(url.pathname));
  if (!route) throw new ApiError(404, "NOT_FOUND", `The requested URL ${url.pathname} was not found on this server.`);
  const match = /** @type {RegExpExecArray} matched by the test above */ (route.path.exec(url.pathname));
  const params = /** @type {[string, string]} */ (match.slice(1).map(decodeURIComponent));
  const resource = resourceOf(route, params);
  Object.assign(ctx, { method: route.method, resource });
  calls.push({ method: route.method, ...resource });
  if (!authenticated(req, url.searchParams)) {
    throw new ApiError(
      401,
      "UNAUTHENTICATED",
      "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
    );
  }
  // A caller without the permission: Google's answer, whether the resource exists or not.
  if (takeFault(route.method, resource, ["forbidden"])) {
    throw resource.serviceAccount
      ? deniedOnServiceAccount(route.permission)
      : deniedOnProject(route.permission, resource.project ?? params[0]);
  }
  return route.handle({ params, body: parseJson(body), query: url.searchParams });
}

/**
 * @param {string} text
 * @returns {unknown}
 */
function parseJson(text) {
  if (!text.trim()) return undefined;
  try {
    return JSON.parse(text);
  } catch (e) {
    throw invalid(`Invalid JSON payload received. ${/** @type {SyntaxError} */ (e).message}`);
  }
}

// Deliberate faults: "schema" breaks the response's contract, so a test can prove that Prism's
// response validation is live; "concurrentWrite" lets another writer change the policy (or, after
// a projects.get, the project's labels) right after this read, so the reader's next write meets a
// stale etag (409 ABORTED); "forbidden" answers the call as Google answers a caller without its
// permission (403 PERMISSION_DENIED naming it).
/**
 * The next fault of one of `kinds` for this method and resource, used up by one.
 * @param {string} method
 * @param {ResourceRef} resource
 * @param {readonly string[]} kinds
 * @returns {Fault | undefined}
 */
function takeFault(method, resource, kinds) {
  const i = faults.findIndex(
    (f) =>
      f.method === method &&
      kinds.includes(f.kind) &&
      (!f.project || f.project === resource.project) &&
      (!f.serviceAccount || f.serviceAccount === resource.serviceAccount),
  );
  if (i < 0) return undefined;
  const fault = /** @type {Fault} */ (faults[i]);
  if (--fault.remaining <= 0) faults.splice(i, 1);
  return fault;
}

/**
 * @param {string} method
 * @param {ResourceRef} resource
 * @param {object} body
 */
function applyFault(method, resource, body) {
  const fault = takeFault(method, resource, ["schema", "concurrentWrite"]);
  if (!fault) return body;
  if (fault.kind === "concurrentWrite") {
    const suffix = randomBytes(3).toString("hex");
    const project = resource.project ? projects.get(resource.project) : undefined;
    if (method === "projects.get" && project) {
      project.labels = { ...project.labels, [`concurrent-${suffix}`]: "written-by-another" };
      project.etag = newEtag(project.etag);
      return body;
    }
    const target = project ?? serviceAccounts.get(resource.serviceAccount ?? "");
    if (target) {
      const stored = target.policy;
      const member = `user:concurrent-${suffix}@example.com`;
      const bindings = [...stored.bindings, { role: "roles/browser", members: [member] }];
      target.policy = { ...stored, version: versionFor(bindings), bindings, etag: newEtag(stored.etag) };
    }
    return body;
  }
  return { ...body, injectedFault: "not a field of this response" };
}

// ---------------------------------------------------------------------------------------------
// Admin API (/_fake/...): not part of Google's API, so never behind Prism.

/**
 * @param {http.IncomingMessage} req
 * @param {URL} url
 * @param {string} text
 * @returns {object}
 */
function admin(req, url, text) {
  const body = text.trim() ? JSON.parse(text) : {};
  const route = `${req.method} ${url.pathname}`;
  const q = url.searchParams;
  let m;
  if (route === "GET /_fake/health") return { ok: true };
  if (route === "POST /_fake/reset") {
    [projects, serviceAccounts, calls, faults, operations] = [new Map(), new Map(), [], [], new Map()];
    return {};
  }
  if (route === "POST /_fake/projects") return createProject(body);
  if (req.method === "GET" && (m = /^\/_fake\/projects\/([^/]+)$/.exec(url.pathname))) {
    const id = decodeURIComponent(m[1] ?? "");
    const project = projects.get(id);
    if (!project) throw new ApiError(404, "NOT_FOUND", `No project ${id}.`);
    return {
      projectId: project.projectId,
      projectNumber: project.projectNumber,
      labels: project.labels,
      etag: project.etag,
    };
  }
  if (req.method === "DELETE" && (m = /^\/_fake\/projects\/([^/]+)$/.exec(url.pathname))) {
    const id = decodeURIComponent(m[1] ?? "");
    if (!projects.delete(id)) throw new ApiError(404, "NOT_FOUND", `No project ${id}.`);
    for (const [email, sa] of serviceAccounts) if (sa.projectId === id) serviceAccounts.delete(email);
    return {};
  }
  if (route === "POST /_fake/serviceAccounts") return createServiceAccount(body);
  if (req.method === "DELETE" && (m = /^\/_fake\/serviceAccounts\/([^/]+)$/.exec(url.pathname))) {
    const email = decodeURIComponent(m[1] ?? "").toLowerCase();
    if (!serviceAccounts.delete(email)) throw new ApiError(404, "NOT_FOUND", `No service account ${email}.`);
    return {};
  }
  if (route === "GET /_fake/policy") {
    const resource = q.has("project")
      ? projects.get(q.get("project") ?? "")
      : serviceAccounts.get((q.get("serviceAccount") ?? "").toLowerCase());
    if (!resource) throw new ApiError(404, "NOT_FOUND", `No such resource: ${url.search}`);
    return resource.policy;
  }
  if (route === "GET /_fake/calls") {
    /** @type {Record<string, number>} */
    const counts = {};
    for (const c of calls) {
      if (q.has("project") && c.project !== q.get("project")) continue;
      if (q.has("serviceAccount") && c.serviceAccount !== q.get("serviceAccount")?.toLowerCase()) continue;
      counts[c.method] = (counts[c.method] ?? 0) + 1;
    }
    return counts;
  }
  if (route === "POST /_fake/calls/reset") {
    calls = [];
    return {};
  }
  if (route === "POST /_fake/faults") {
    const { method, count = 1, kind = "schema", project, serviceAccount } = body;
    if (!ROUTES.some((r) => r.method === method)) throw invalid(`Unknown method ${method}.`);
    if (!Number.isInteger(count) || count < 1) throw invalid(`Invalid count ${count}.`);
    if (!["schema", "concurrentWrite", "forbidden"].includes(kind)) throw invalid(`Unknown fault kind ${kind}.`);
    faults.push({ method, remaining: count, kind, project, serviceAccount: serviceAccount?.toLowerCase() });
    return {};
  }
  throw new ApiError(404, "NOT_FOUND", `No admin route ${route}.`);
}

/**
 * @param {{ projectId?: string, projectNumber?: string | number, policy?: unknown, labels?: unknown }} spec
 * @returns {Project}
 */
function createProject({ projectId, projectNumber, policy, labels }) {
  if (projectId === undefined || !/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/.test(projectId))
    throw invalid(`Invalid project id ${projectId}.`);
  if (projects.has(projectId)) throw new ApiError(409, "ALREADY_EXISTS", `Project ${projectId} exists.`);
  const number = projectNumber === undefined ? digits(12) : String(projectNumber);
  if (!/^\d+$/.test(number) || findProject(number)) throw invalid(`Invalid or taken project number ${number}.`);
  const seeded = /** @type {Record<string, string>} */ (parseValue(labels ?? {}, "StringMap", "labels"));
  checkLabels(seeded);
  const now = new Date().toISOString();
  /** @type {Project} */
  const project = {
    projectId,
    projectNumber: number,
    policy: seedPolicy(policy, "project"),
    displayName: projectId,
    labels: seeded,
    etag: newEtag(),
    createTime: now,
    updateTime: now,
  };
  projects.set(projectId, project);
  return project;
}

// The project comes from the address (<name>@<project>.iam.gserviceaccount.com) and is created
// when missing, so a test needs one call for an account.
/**
 * @param {{ email?: string, policy?: unknown, displayName?: string, description?: string, disabled?: boolean }} spec
 */
function createServiceAccount({ email, policy, displayName, description, disabled }) {
  email = (email ?? "").toLowerCase();
  const m = /^([a-z][a-z0-9-]{4,28}[a-z0-9])@([a-z][a-z0-9-]{4,28}[a-z0-9])\.iam\.gserviceaccount\.com$/.exec(email);
  if (!m?.[2]) throw invalid(`Invalid service account e-mail ${email}: expected <name>@<project>${SA_DOMAIN}.`);
  if (serviceAccounts.has(email)) throw new ApiError(409, "ALREADY_EXISTS", `Service account ${email} exists.`);
  const projectId = m[2];
  if (!projects.has(projectId)) createProject({ projectId });
  /** @type {ServiceAccount} */
  const sa = {
    email,
    projectId,
    uniqueId: digits(21),
    displayName,
    description,
    disabled: Boolean(disabled),
    policy: seedPolicy(policy, "serviceAccount"),
  };
  serviceAccounts.set(email, sa);
  return { ...serviceAccountJson(sa), policy: sa.policy };
}

// ---------------------------------------------------------------------------------------------
// HTTP

// Indented, as Google answers unless ?prettyPrint=false.
/**
 * @param {http.ServerResponse} res
 * @param {number} status
 * @param {unknown} body
 * @param {boolean} pretty
 */
function send(res, status, body, pretty) {
  const text = JSON.stringify(body, null, pretty ? 2 : undefined);
  res.writeHead(status, {
    "content-type": "application/json; charset=UTF-8",
    "content-length": Buffer.byteLength(text),
  });
  res.end(text);
}

/** @param {ApiError} e */
const errorBody = (e) => ({
  error: { code: e.code, message: e.message, status: e.status, ...(e.details ? { details: e.details } : {}) },
});

export function createServer() {
  return http.createServer((req, res) => {
    /** @type {Buffer[]} */
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://fake");
      const text = Buffer.concat(chunks).toString("utf8");
      const isAdmin = url.pathname.startsWith("/_fake/");
      /** @type {CallContext} */
      const ctx = {};
      let status = 200;
      /** @type {object} */
      let body;
      try {
        body = isAdmin ? admin(req, url, text) : google(req, url, text, ctx);
      } catch (thrown) {
        const e =
          thrown instanceof ApiError
            ? thrown
            : thrown instanceof SyntaxError || thrown instanceof URIError
              ? invalid(thrown.message)
              : new ApiError(500, "INTERNAL", String(thrown));
        status = e.code;
        body = errorBody(e);
      }
      if (ctx.method) body = applyFault(ctx.method, ctx.resource ?? {}, body);
      if (!isAdmin) console.log(`${req.method} ${url.pathname} ${status}`);
      send(res, status, body, url.searchParams.get("prettyPrint") !== "false");
    });
  });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf("--port");
  const port = i > 0 ? Number(process.argv[i + 1]) : 0;
  const server = createServer();
  server.listen(port, "127.0.0.1", () =>
    console.log(
      `gcp fake listening on http://127.0.0.1:${/** @type {import("node:net").AddressInfo} */ (server.address()).port}`,
    ),
  );
  // State is in memory only, so there is nothing to flush.
  process.on("SIGTERM", () => process.exit(0));
  process.on("SIGINT", () => process.exit(0));
}
