#!/usr/bin/env node
// A stateful fake of the seven Astro Platform API operations the resource uses:
//
//   GET    /v1/organizations/{org}/deployments/{id}           GetDeployment
//   POST   /v1/organizations/{org}/deployments/{id}           UpdateDeployment (a full replace)
//   GET    /v1/organizations/{org}/environment-objects        ListEnvironmentObjects
//   POST   /v1/organizations/{org}/environment-objects        CreateEnvironmentObject
//   GET    /v1/organizations/{org}/environment-objects/{id}   GetEnvironmentObject
//   POST   /v1/organizations/{org}/environment-objects/{id}   UpdateEnvironmentObject
//   DELETE /v1/organizations/{org}/environment-objects/{id}   DeleteEnvironmentObject
//
// plus a small admin API under /_fake/ that seeds organizations, workspaces and Deployments (see
// README.md beside this file). The sandbox puts Prism in front of the API paths, validating both
// directions against openapi.yaml beside this file; this file owns the semantics.
//
//   node sandbox/fakes/astro/server.mjs --port P
//
// Only Node built-ins, so it runs before `npm install`.
import { createHash, randomBytes, randomInt, randomUUID } from "node:crypto";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";

const BASE = "/v1"; // https://api.astronomer.io/v1
const DEFAULT_LIMIT = 20; // ListEnvironmentObjects `limit` default, as published
const DEFAULT_PROPAGATION_READS = 2; // GETs that still show the old effective identity after a change
const SECRET_MASK_FIELDS = /** @type {const} */ (["password"]); // connection fields never returned unless showSecrets
// Airflow's rule for sensitive keys of a connection's `extra` (secrets_masker DEFAULT_SENSITIVE_FIELDS,
// matched as substrings of the lower-cased key); the fake masks those keys in responses.
const SENSITIVE_EXTRA = [
  "access_token",
  "api_key",
  "apikey",
  "authorization",
  "passphrase",
  "passwd",
  "password",
  "private_key",
  "secret",
  "token",
  "keyfile_dict",
  "service_account",
];
// Astro machine sizes of hosted worker queues: CPU cores and memory of one worker Pod.
/** @type {Record<string, [number, number]>} */
const MACHINES = { A5: [1, 2], A10: [2, 4], A20: [4, 8], A40: [8, 16], A60: [12, 24], A120: [24, 48], A160: [32, 64] };
/** @type {Record<string, [number, number]>} */
const SCHEDULER_SIZES = { SMALL: [1, 2], MEDIUM: [2, 4], LARGE: [4, 8], EXTRA_LARGE: [8, 16] };
/** @type {Record<string, { airflowVersion: string, runtimeVersion: string, api: string }>} by major version */
const AIRFLOW = {
  2: { airflowVersion: "2.10.5", runtimeVersion: "12.9.0", api: "/api/v1" },
  3: { airflowVersion: "3.0.6", runtimeVersion: "3.0-10", api: "/api/v2" },
};

/** @typedef {{ field: string, code: string, message: string }} FieldError */
class ApiError extends Error {
  /**
   * @param {number} statusCode
   * @param {string} message
   * @param {FieldError[]} [fieldErrors]
   */
  constructor(statusCode, message, fieldErrors) {
    super(message);
    this.statusCode = statusCode;
    this.fieldErrors = fieldErrors;
    /** @type {Record<string, string> | undefined} set by a throttling fault */
    this.headers = undefined;
  }
}
/** @param {string} field @param {string} code @param {string} message @returns {FieldError} */
const fieldError = (field, code, message) => ({ field, code, message });
/** @param {FieldError[]} fieldErrors */
const invalid = (fieldErrors) =>
  new ApiError(400, `Invalid request: ${fieldErrors.map((f) => f.message).join("; ")}`, fieldErrors);
/** @param {string} what */
const notFound = (what) => new ApiError(404, `${what} not found`);

// ---------------------------------------------------------------------------------------------
// State

/**
 * @typedef {{ id: string, name: string, shortName: string, authOrgId: string }} Organization
 * @typedef {{ id: string, organizationId: string, name: string }} Workspace
 * @typedef {{ id: string, subjectType: string, apiTokenName?: string, username?: string }} Subject
 * @typedef {{ readOnly: boolean, revoked: boolean, organizationId?: string, name?: string }} Token
 * @typedef {{ organizationId?: string, deploymentId?: string, workspaceId?: string, environmentObjectId?: string }} Target
 *   what a call is about
 * @typedef {{ operation: string, status?: number } & Target} Call
 * @typedef {{
 *   operation: string,
 *   kind: string,
 *   status?: number,
 *   when: string,
 *   remaining: number,
 *   deploymentId?: string,
 *   environmentObjectId?: string,
 * }} Fault
 *
 * @typedef {{
 *   id: string,
 *   name: string,
 *   isDefault: boolean,
 *   astroMachine?: string,
 *   nodePoolId?: string,
 *   minWorkerCount: number,
 *   maxWorkerCount: number,
 *   workerConcurrency: number,
 *   podEphemeralStorage?: string,
 * }} Queue
 * @typedef {Omit<Queue, "id"> & { id?: string }} QueueRequest
 * @typedef {{ key: string, value: string, isSecret: boolean, updatedAt: string }} EnvironmentVariable
 * @typedef {{ au: number, replicas: number }} HybridScheduler
 * @typedef {{ enabled: boolean, allowedIpAddressRanges?: string[], taskLogBucket?: string, taskLogUrlPattern?: string }} RemoteExecution
 * @typedef {{
 *   hibernationSpec?: {
 *     override?: { isHibernating?: boolean, overrideUntil?: string },
 *     schedules?: { description?: string, hibernateAtCron: string, wakeAtCron: string, isEnabled: boolean }[],
 *   },
 * }} ScalingSpec
 * @typedef {{
 *   id: string,
 *   organizationId: string,
 *   workspaceId: string,
 *   name: string,
 *   description?: string,
 *   type: string,
 *   cloudProvider: string,
 *   region: string,
 *   clusterId: string,
 *   clusterName: string,
 *   namespace: string,
 *   dataplaneAccountId: string,
 *   dataplaneProjectId: string,
 *   airflowMajor: number,
 *   airflowVersion: string,
 *   runtimeVersion: string,
 *   executor: string,
 *   status: string,
 *   isCicdEnforced: boolean,
 *   isDagDeployEnabled: boolean,
 *   isHighAvailability?: boolean,
 *   isDevelopmentMode?: boolean,
 *   schedulerSize?: string,
 *   scheduler?: HybridScheduler,
 *   defaultTaskPodCpu?: string,
 *   defaultTaskPodMemory?: string,
 *   resourceQuotaCpu?: string,
 *   resourceQuotaMemory?: string,
 *   taskPodNodePoolId?: string,
 *   workerQueues: Queue[],
 *   environmentVariables: EnvironmentVariable[],
 *   contactEmails?: string[],
 *   remoteExecution?: RemoteExecution,
 *   scalingSpec?: ScalingSpec,
 *   workloadIdentity?: string,
 *   drWorkloadIdentity?: string,
 *   defaultWorkloadIdentity?: string,
 *   identityPropagationReads: number,
 *   identityPropagation?: { previous: string | undefined, readsLeft: number },
 *   oidcIssuerUrl?: string,
 *   webServerAirflowApiUrl?: string,
 *   apiUrl?: string,
 *   segment: string,
 *   host: string,
 *   imageRepository: string,
 *   imageTag: string,
 *   createdAt: string,
 *   updatedAt: string,
 *   createdBy: Subject,
 *   updatedBy: Subject,
 * }} Deployment hosted-only fields are undefined on Hybrid Deployments, `scheduler` on hosted ones
 *
 * @typedef {"CONNECTION" | "ENVIRONMENT_VARIABLE" | "AIRFLOW_VARIABLE" | "METRICS_EXPORT"} ObjectType
 * @typedef {"connection" | "airflowVariable" | "environmentVariable" | "metricsExport"} TypedField
 * @typedef {{
 *   type?: string,
 *   host?: string,
 *   login?: string,
 *   password?: string,
 *   schema?: string,
 *   port?: number,
 *   extra?: Record<string, unknown>,
 *   authTypeId?: string,
 * }} ConnectionValues
 * @typedef {{ value?: string, isSecret?: boolean }} VariableValues
 * @typedef {{
 *   endpoint?: string,
 *   exporterType?: string,
 *   authType?: string,
 *   basicToken?: string,
 *   username?: string,
 *   password?: string,
 *   sigV4AssumeArn?: string,
 *   sigV4StsRegion?: string,
 *   headers?: Record<string, string>,
 *   labels?: Record<string, string>,
 * }} MetricsExportValues
 * @typedef {ConnectionValues & VariableValues & MetricsExportValues} Values
 *   the fields of an object's value or of a link's overrides; which apply depends on the object type
 * @typedef {{ connection?: Values, airflowVariable?: Values, environmentVariable?: Values, metricsExport?: Values }} TypedFields
 * @typedef {{ scope: string, scopeEntityId: string }} ScopeRef
 * @typedef {ScopeRef & { overrides?: Values }} Link
 * @typedef {TypedFields & {
 *   id: string,
 *   organizationId: string,
 *   objectKey: string,
 *   objectType: ObjectType,
 *   scope: string,
 *   scopeEntityId: string,
 *   description?: string,
 *   autoLinkDeployments?: boolean,
 *   links: Link[],
 *   excludeLinks: ScopeRef[],
 *   createdAt: string,
 *   createdBy: Subject,
 *   updatedAt: string,
 *   updatedBy: Subject,
 *   createdSeq: number,
 *   updatedSeq: number,
 * }} EnvironmentObject
 */

/** @type {Map<string, Organization>} */
let organizations = new Map();
/** @type {Map<string, Workspace>} */
let workspaces = new Map();
/** @type {Map<string, Deployment>} */
let deployments = new Map();
/** @type {Map<string, EnvironmentObject>} */
let environmentObjects = new Map();
/** @type {Map<string, Token>} by the token itself */
let tokens = new Map();
/** @type {Call[]} */
let calls = [];
/** @type {Fault[]} */
let faults = [];
let writes = 0; // orders environment objects exactly; their times have only second precision

const ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789";
/** @param {number} n @param {string} [alphabet] */
const randomString = (n, alphabet = ALNUM) =>
  Array.from({ length: n }, () => alphabet[randomInt(alphabet.length)]).join("");
// Astro ids are cuids: 25 lower-case characters starting with "c".
const cuid = () => `cl${randomString(23)}`;
/** @param {number} n */
const digits = (n) => `${randomInt(1, 10)}${randomString(n - 1, "0123456789")}`;
// `YYYY-MM-DDTHH:MM:SSZ`, as the API formats times.
const now = () => new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
/**
 * @template T
 * @param {T} x
 * @returns {T}
 */
const clone = (x) => (x === undefined ? x : structuredClone(x));
/**
 * `o` without its undefined members: still a T, as those members are optional or may be undefined.
 * @template {object} T
 * @param {T} o
 * @returns {T}
 */
const compact = (o) => /** @type {T} */ (Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)));

const ADJECTIVES = [
  "weightless",
  "celestial",
  "nebular",
  "orbital",
  "radiant",
  "stellar",
  "lunar",
  "cosmic",
  "galactic",
];
const NOUNS = ["diameter", "telescope", "quasar", "meteor", "parallax", "zenith", "pulsar", "comet", "aurora"];
// Astro names a Deployment's Kubernetes namespace like "weightless-diameter-8927".
// On GCP the default identity is astro-<namespace>@…, and Google's account ids are at most 30
// characters: a generated namespace always leaves a valid one.
const namespaceName = () => {
  for (;;) {
    const name = `${ADJECTIVES[randomInt(ADJECTIVES.length)]}-${NOUNS[randomInt(NOUNS.length)]}-${randomInt(1000, 10000)}`;
    if (`astro-${name}`.length <= 30) return name;
  }
};

// The subject recorded in createdBy/updatedBy for a call made with `token`.
/** @param {string} token @returns {Subject} */
function tokenSubject(token) {
  const id = `cl${createHash("sha256").update(token).digest("hex").slice(0, 23)}`;
  return { id, subjectType: "SERVICEKEY", apiTokenName: tokens.get(token)?.name ?? "sandbox token" };
}
/** @type {Subject} */
const SEED_SUBJECT = { id: "clseedsubject0000000000000", subjectType: "USER", username: "seed@example.com" };

// ---------------------------------------------------------------------------------------------
// Request bodies. Called directly, the fake parses bodies like the API's Go server: unknown
// fields are ignored, a wrong type or a missing required field is a 400 with fieldErrors.
// Through Prism, an unknown field never gets here (422).

/**
 * @typedef {{ type: "string", enum?: string[] }
 *   | { type: "boolean" }
 *   | { type: "integer" }
 *   | { type: "array", items: Spec }
 *   | { type: "object", fields?: Record<string, Spec>, required?: string[], values?: Spec }} Spec
 *   a body's shape: `values` is the type of every member of a map
 */
/** @type {Spec} */
const str = { type: "string" };
/** @type {Spec} */
const bool = { type: "boolean" };
/** @type {Spec} */
const int = { type: "integer" };
/** @type {Spec} */
const freeObject = { type: "object" };
/** @type {Spec} */
const stringMap = { type: "object", values: str };
/** @param {string[]} values @returns {Spec} */
const oneOf = (...values) => ({ type: "string", enum: values });
/** @param {Spec} items @returns {Spec} */
const arrayOf = (items) => ({ type: "array", items });
/** @param {Record<string, Spec>} fields @param {string[]} [required] @returns {Spec} */
const object = (fields, required = []) => ({ type: "object", fields, required });

const ENV_VAR_REQUEST = object({ key: str, value: str, isSecret: bool }, ["isSecret", "key"]);
const QUEUE_REQUEST = object(
  {
    id: str,
    name: str,
    isDefault: bool,
    astroMachine: oneOf(...Object.keys(MACHINES)),
    nodePoolId: str,
    minWorkerCount: int,
    maxWorkerCount: int,
    workerConcurrency: int,
    podEphemeralStorage: str,
  },
  ["isDefault", "maxWorkerCount", "minWorkerCount", "name", "workerConcurrency"],
);
const HOSTED_UPDATE = object(
  {
    type: oneOf("DEDICATED", "HYBRID", "STANDARD"),
    name: str,
    description: str,
    workspaceId: str,
    executor: oneOf("CELERY", "KUBERNETES", "ASTRO"),
    isCicdEnforced: bool,
    isDagDeployEnabled: bool,
    isHighAvailability: bool,
    isDevelopmentMode: bool,
    schedulerSize: oneOf(...Object.keys(SCHEDULER_SIZES)),
    environmentVariables: arrayOf(ENV_VAR_REQUEST),
    workerQueues: arrayOf(QUEUE_REQUEST),
    workloadIdentity: str,
    drWorkloadIdentity: str,
    contactEmails: arrayOf(str),
    defaultTaskPodCpu: str,
    defaultTaskPodMemory: str,
    resourceQuotaCpu: str,
    resourceQuotaMemory: str,
    remoteExecution: object(
      { enabled: bool, allowedIpAddressRanges: arrayOf(str), taskLogBucket: str, taskLogUrlPattern: str },
      ["enabled"],
    ),
    scalingSpec: object({
      hibernationSpec: object({
        override: object({ isHibernating: bool, overrideUntil: str }),
        schedules: arrayOf(
          object({ description: str, hibernateAtCron: str, wakeAtCron: str, isEnabled: bool }, [
            "hibernateAtCron",
            "isEnabled",
            "wakeAtCron",
          ]),
        ),
      }),
    }),
  },
  [
    "environmentVariables",
    "executor",
    "isCicdEnforced",
    "isDagDeployEnabled",
    "isHighAvailability",
    "name",
    "schedulerSize",
    "type",
    "workspaceId",
  ],
);
const HYBRID_UPDATE = object(
  {
    type: oneOf("DEDICATED", "HYBRID", "STANDARD"),
    name: str,
    description: str,
    workspaceId: str,
    executor: oneOf("CELERY", "KUBERNETES"),
    isCicdEnforced: bool,
    isDagDeployEnabled: bool,
    scheduler: object({ au: int, replicas: int }, ["au", "replicas"]),
    environmentVariables: arrayOf(ENV_VAR_REQUEST),
    workerQueues: arrayOf(QUEUE_REQUEST),
    workloadIdentity: str,
    drWorkloadIdentity: str,
    contactEmails: arrayOf(str),
    taskPodNodePoolId: str,
  },
  [
    "environmentVariables",
    "executor",
    "isCicdEnforced",
    "isDagDeployEnabled",
    "name",
    "scheduler",
    "type",
    "workspaceId",
  ],
);

const CONNECTION = { type: str, host: str, login: str, password: str, schema: str, port: int, extra: freeObject };
const METRICS_EXPORT = {
  endpoint: str,
  exporterType: oneOf("PROMETHEUS"),
  authType: oneOf("BASIC", "AUTH_TOKEN", "SIGV4"),
  basicToken: str,
  username: str,
  password: str,
  sigV4AssumeArn: str,
  sigV4StsRegion: str,
  headers: stringMap,
  labels: stringMap,
};
/** @param {boolean} update */
const overridesRequest = (update) =>
  object({
    connection: object(CONNECTION),
    airflowVariable: object({ value: str }),
    environmentVariable: object({ value: str }),
    metricsExport: object(METRICS_EXPORT),
    ...(update ? { unsetFields: arrayOf(str) } : {}),
  });
const scopeRef = object({ scope: oneOf("DEPLOYMENT"), scopeEntityId: str }, ["scope", "scopeEntityId"]);
/** @param {boolean} update */
const linkRequest = (update) =>
  object({ scope: oneOf("DEPLOYMENT"), scopeEntityId: str, overrides: overridesRequest(update) }, [
    "scope",
    "scopeEntityId",
  ]);
const OBJECT_TYPES = ["CONNECTION", "ENVIRONMENT_VARIABLE", "AIRFLOW_VARIABLE", "METRICS_EXPORT"];
const CREATE_OBJECT = object(
  {
    objectKey: str,
    objectType: oneOf(...OBJECT_TYPES),
    scope: oneOf("WORKSPACE", "DEPLOYMENT"),
    scopeEntityId: str,
    description: str,
    autoLinkDeployments: bool,
    connection: object({ ...CONNECTION, authTypeId: str }, ["type"]),
    airflowVariable: object({ value: str, isSecret: bool }),
    environmentVariable: object({ value: str, isSecret: bool }),
    metricsExport: object(METRICS_EXPORT, ["endpoint", "exporterType"]),
    links: arrayOf(linkRequest(false)),
    excludeLinks: arrayOf(scopeRef),
  },
  ["objectKey", "objectType", "scope", "scopeEntityId"],
);
const UPDATE_OBJECT = object({
  description: str,
  autoLinkDeployments: bool,
  connection: object({ ...CONNECTION, authTypeId: str }, ["type"]),
  airflowVariable: object({ value: str }),
  environmentVariable: object({ value: str }),
  metricsExport: object(METRICS_EXPORT),
  links: arrayOf(linkRequest(true)),
  excludeLinks: arrayOf(scopeRef),
});

/**
 * @param {unknown} value
 * @param {Spec} spec
 * @param {string} at
 * @param {FieldError[]} errors
 */
function typeErrors(value, spec, at, errors) {
  const name = at || "body";
  if (spec.type === "string" && typeof value !== "string") {
    errors.push(fieldError(name, "type", `${name} must be a string`));
  } else if (spec.type === "boolean" && typeof value !== "boolean") {
    errors.push(fieldError(name, "type", `${name} must be a boolean`));
  } else if (spec.type === "integer" && !Number.isInteger(value)) {
    errors.push(fieldError(name, "type", `${name} must be an integer`));
  } else if (spec.type === "array") {
    if (!Array.isArray(value)) errors.push(fieldError(name, "type", `${name} must be an array`));
    else value.forEach((v, i) => typeErrors(v, spec.items, `${at}[${i}]`, errors));
  } else if (spec.type === "object") {
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      errors.push(fieldError(name, "type", `${name} must be an object`));
      return;
    }
    const members = /** @type {Record<string, unknown>} */ (value);
    for (const r of spec.required ?? []) {
      if (members[r] === undefined || members[r] === null) {
        const field = at ? `${at}.${r}` : r;
        errors.push(fieldError(field, "required", `${field} is required`));
      }
    }
    for (const [k, v] of Object.entries(value)) {
      if (v === null) continue;
      const child = spec.fields?.[k] ?? spec.values;
      if (child) typeErrors(v, child, at ? `${at}.${k}` : k, errors);
    }
  }
  if ("enum" in spec && spec.enum && typeof value === "string" && !spec.enum.includes(value)) {
    errors.push(fieldError(name, "oneof", `${name} must be one of ${spec.enum.join(", ")}`));
  }
}

/** The body checked against `spec` (nulls dropped, as Go's decoder leaves them unset), or a 400. */
/**
 * @param {unknown} body
 * @param {Spec} spec
 * @returns {unknown} of the shape `spec` describes
 */
function parseBody(body, spec) {
  /** @type {FieldError[]} */
  const errors = [];
  typeErrors(body ?? null, spec, "", errors);
  if (errors.length) throw invalid(errors);
  return JSON.parse(JSON.stringify(body, (_, v) => (v === null ? undefined : v)));
}

// ---------------------------------------------------------------------------------------------
// Deployments

/** @type {Record<string, { region: string }>} */
const cloudDefaults = {
  AWS: { region: "us-east-1" },
  GCP: { region: "us-central1" },
  AZURE: { region: "westus2" },
};

/** @param {Deployment} d */
function defaultIdentity(d) {
  if (d.cloudProvider === "AWS") return `arn:aws:iam::${d.dataplaneAccountId}:role/astro-${d.namespace}`;
  if (d.cloudProvider === "GCP") return `astro-${d.namespace}@${d.dataplaneProjectId}.iam.gserviceaccount.com`;
  return undefined; // Azure: set up from the Astro UI with a user-assigned managed identity
}

/** @param {Deployment} d */
function oidcIssuer(d) {
  if (d.cloudProvider === "AWS")
    return `https://oidc.eks.${d.region}.amazonaws.com/id/${randomBytes(16).toString("hex").toUpperCase()}`;
  if (d.cloudProvider === "GCP")
    return `https://container.googleapis.com/v1/projects/${d.dataplaneProjectId}/locations/${d.region}/clusters/${d.clusterName}`;
  return `https://${d.region}.oic.prod-aks.azure.com/${randomUUID()}/${randomUUID()}/`;
}

/** @param {Deployment} d */
const effectiveIdentity = (d) => d.workloadIdentity ?? d.defaultWorkloadIdentity;

/**
 * What reads show as effectiveWorkloadIdentity. A change takes a little while to reach reads:
 * after one, the next `identityPropagationReads` GETs still show the previous identity.
 */
/** @param {Deployment} d @param {boolean} consume */
function shownIdentity(d, consume) {
  const p = d.identityPropagation;
  if (!p) return effectiveIdentity(d);
  if (consume && --p.readsLeft <= 0) delete d.identityPropagation;
  return p.previous;
}

/**
 * @typedef {Partial<Omit<Deployment, "airflowVersion" | "defaultWorkloadIdentity" | "environmentVariables">> & {
 *   airflowVersion?: string | number,
 *   defaultWorkloadIdentity?: string | null,
 *   environmentVariables?: { key: string, value?: string, isSecret?: boolean }[],
 *   identityPropagationReads?: number,
 * }} DeploymentSeed
 * @param {DeploymentSeed} body
 */
function seedDeployment(body) {
  // An existing Workspace brings its Organization; anything named but missing is created.
  const orgId =
    body.organizationId ??
    (body.workspaceId === undefined ? undefined : workspaces.get(body.workspaceId)?.organizationId);
  const org = orgId ? ensureOrganization({ id: orgId }) : createOrganization({});
  const ws = body.workspaceId
    ? ensureWorkspace({ id: body.workspaceId, organizationId: org.id })
    : createWorkspace({ organizationId: org.id });
  if (ws.organizationId !== org.id) throw new ApiError(400, `Workspace ${ws.id} is not in organization ${org.id}.`);
  const type = body.type ?? "STANDARD";
  if (!["STANDARD", "DEDICATED", "HYBRID"].includes(type)) throw new ApiError(400, `Invalid type ${type}.`);
  const cloudProvider = body.cloudProvider ?? "AWS";
  const cloud = cloudDefaults[cloudProvider];
  if (!cloud) throw new ApiError(400, `Invalid cloudProvider ${cloudProvider}.`);
  // 2 or 3 picks a current release of that major version; a full version is kept as given.
  const version = String(body.airflowVersion ?? "3");
  const major = version.split(".")[0] ?? version;
  const airflow = AIRFLOW[major];
  if (!airflow) throw new ApiError(400, `Invalid airflowVersion ${body.airflowVersion}: Airflow 2 or 3.`);
  const propagationReads = body.identityPropagationReads ?? DEFAULT_PROPAGATION_READS;
  if (!Number.isInteger(propagationReads) || propagationReads < 0)
    throw new ApiError(400, `Invalid identityPropagationReads ${propagationReads}.`);
  const executor = body.executor ?? "CELERY";
  const id = body.id ?? cuid();
  if (deployments.has(id)) throw new ApiError(409, `Deployment ${id} exists.`);
  const segment = `d${randomString(7)}`;
  const host = `${org.shortName}.astronomer.run`;
  const hosted = type !== "HYBRID";
  const createdAt = now();
  /** @type {Deployment} */
  const d = {
    id,
    organizationId: org.id,
    workspaceId: ws.id,
    name: body.name ?? `deployment-${randomString(4)}`,
    description: body.description,
    type,
    cloudProvider,
    region: body.region ?? cloud.region,
    clusterId: body.clusterId ?? cuid(),
    clusterName: body.clusterName ?? `cluster-${randomString(6)}`,
    namespace: body.namespace ?? namespaceName(),
    dataplaneAccountId: body.dataplaneAccountId ?? digits(12),
    dataplaneProjectId: body.dataplaneProjectId ?? `astro-dp-${randomString(8)}`,
    airflowMajor: Number(major),
    airflowVersion: version === major ? airflow.airflowVersion : version,
    runtimeVersion: body.runtimeVersion ?? airflow.runtimeVersion,
    executor,
    status: "HEALTHY",
    isCicdEnforced: body.isCicdEnforced ?? false,
    isDagDeployEnabled: body.isDagDeployEnabled ?? true,
    isHighAvailability: hosted ? (body.isHighAvailability ?? false) : undefined,
    isDevelopmentMode: hosted ? (body.isDevelopmentMode ?? false) : undefined,
    schedulerSize: hosted ? (body.schedulerSize ?? "SMALL") : undefined,
    scheduler: hosted ? undefined : (body.scheduler ?? { au: 5, replicas: 1 }),
    defaultTaskPodCpu: hosted ? (body.defaultTaskPodCpu ?? "0.25") : undefined,
    defaultTaskPodMemory: hosted ? (body.defaultTaskPodMemory ?? "0.5Gi") : undefined,
    resourceQuotaCpu: hosted ? (body.resourceQuotaCpu ?? "10") : undefined,
    resourceQuotaMemory: hosted ? (body.resourceQuotaMemory ?? "20Gi") : undefined,
    workerQueues: [],
    environmentVariables: (body.environmentVariables ?? []).map((v) => ({
      key: String(v.key),
      value: v.value ?? "",
      isSecret: Boolean(v.isSecret),
      updatedAt: createdAt,
    })),
    workloadIdentity: body.workloadIdentity,
    identityPropagationReads: propagationReads,
    segment,
    host,
    imageRepository: `images.astronomer.cloud/${org.shortName}/${segment}`,
    imageTag: `deploy-${createdAt.slice(0, 16).replace(":", "-")}`,
    createdAt,
    updatedAt: createdAt,
    createdBy: SEED_SUBJECT,
    updatedBy: SEED_SUBJECT,
  };
  if (executor === "CELERY" || executor === "ASTRO") {
    d.workerQueues = [
      {
        id: cuid(),
        name: "default",
        isDefault: true,
        ...(hosted ? { astroMachine: "A5" } : { nodePoolId: cuid() }),
        minWorkerCount: 0,
        maxWorkerCount: 10,
        workerConcurrency: 5,
      },
    ];
  }
  // Seeded (null: none), or Astronomer's default for the cloud.
  d.defaultWorkloadIdentity =
    "defaultWorkloadIdentity" in body ? (body.defaultWorkloadIdentity ?? undefined) : defaultIdentity(d);
  d.oidcIssuerUrl = body.oidcIssuerUrl ?? oidcIssuer(d);
  // A test may point the Deployment's Airflow API at a real Airflow (the sandbox's).
  if (body.webServerAirflowApiUrl) {
    d.webServerAirflowApiUrl = body.webServerAirflowApiUrl;
    d.apiUrl = /^https?:\/\//.test(body.webServerAirflowApiUrl)
      ? body.webServerAirflowApiUrl
      : `https://${body.webServerAirflowApiUrl}`;
  } else {
    d.webServerAirflowApiUrl = `${host}/${segment}${airflow.api}`;
    d.apiUrl = `https://${host}/${segment}${airflow.api}`;
  }
  if (d.workloadIdentity !== undefined) {
    const errors = identityErrors(d, d.workloadIdentity);
    if (errors.length) throw invalid(errors);
  }
  deployments.set(id, d);
  return rawDeployment(d);
}

/** @param {Deployment} d */
const rawDeployment = (d) => ({ ...clone(d), effectiveWorkloadIdentity: effectiveIdentity(d) });

/** @param {Deployment} d */
function schedulerResources(d) {
  if (d.type === "HYBRID") {
    // One Astronomer unit (AU) is 0.1 CPU and 0.375 GiB.
    const { au, replicas } = /** @type {HybridScheduler} a Hybrid Deployment has one */ (d.scheduler);
    return {
      schedulerAu: au,
      schedulerCpu: `${au / 10}`,
      schedulerMemory: `${au * 0.375}Gi`,
      schedulerReplicas: replicas,
    };
  }
  const size = SCHEDULER_SIZES[d.schedulerSize ?? ""];
  if (!size) throw new Error(`Deployment ${d.id} has no scheduler size`);
  const [cpu, memory] = size;
  return { schedulerCpu: `${cpu}`, schedulerMemory: `${memory}Gi`, schedulerReplicas: d.isHighAvailability ? 2 : 1 };
}

/** @param {Queue} q @param {boolean} hosted */
function queueJson(q, hosted) {
  const size = hosted ? MACHINES[q.astroMachine ?? ""] : [1, 2];
  if (!size) throw new Error(`worker queue ${q.name} has no machine`);
  const [cpu, memory] = size;
  return compact({
    id: q.id,
    name: q.name,
    isDefault: q.isDefault,
    astroMachine: q.astroMachine,
    nodePoolId: q.nodePoolId,
    minWorkerCount: q.minWorkerCount,
    maxWorkerCount: q.maxWorkerCount,
    workerConcurrency: q.workerConcurrency,
    podCpu: `${cpu}`,
    podMemory: `${memory}Gi`,
    podEphemeralStorage: q.podEphemeralStorage,
  });
}

/** @param {ScalingSpec | undefined} spec */
function scalingSpecJson(spec) {
  const h = spec?.hibernationSpec;
  if (!h) return spec ? {} : undefined;
  const override = h.override
    ? compact({
        isHibernating: h.override.isHibernating,
        // Accepted as any date; answered as the date-time the response schema wants.
        overrideUntil:
          h.override.overrideUntil && new Date(h.override.overrideUntil).toISOString().replace(/\.\d{3}Z$/, "Z"),
        isActive: Boolean(h.override.overrideUntil && Date.parse(h.override.overrideUntil) > Date.now()),
      })
    : undefined;
  return { hibernationSpec: compact({ override, schedules: clone(h.schedules) }) };
}

/** The Deployment as GetDeployment answers it: secret values left out, the shown identity. */
/** @param {Deployment} d @param {string | undefined} identity */
function deploymentJson(d, identity) {
  const hosted = d.type !== "HYBRID";
  const ws = workspaces.get(d.workspaceId);
  const org = organizations.get(d.organizationId);
  const ui = `${d.host}/${d.segment}?orgId=${org?.authOrgId}`;
  return compact({
    id: d.id,
    name: d.name,
    description: d.description,
    organizationId: d.organizationId,
    workspaceId: d.workspaceId,
    workspaceName: ws?.name,
    type: d.type,
    // As published: cloudProvider only for Standard Deployments; region and clusterName only
    // for Dedicated and Hybrid ones.
    cloudProvider: d.type === "STANDARD" ? d.cloudProvider : undefined,
    region: d.type === "STANDARD" ? undefined : d.region,
    clusterId: d.clusterId,
    clusterName: d.type === "STANDARD" ? undefined : d.clusterName,
    executor: d.executor,
    status: d.status,
    statusReason: d.status === "HEALTHY" ? "Successfully Deployed" : undefined,
    namespace: d.namespace,
    oidcIssuerUrl: d.oidcIssuerUrl,
    effectiveWorkloadIdentity: identity,
    effectiveDRWorkloadIdentity: d.drWorkloadIdentity,
    airflowVersion: d.airflowVersion,
    astroRuntimeVersion: d.runtimeVersion,
    runtimeVersion: d.runtimeVersion,
    apiUrl: d.apiUrl,
    uiUrl: `https://${ui}`,
    webServerAirflowApiUrl: d.webServerAirflowApiUrl,
    webServerIngressHostname: `${d.host}/${d.segment}`,
    webServerUrl: ui,
    webServerCpu: "0.5",
    webServerMemory: "1Gi",
    webServerReplicas: hosted && d.isHighAvailability ? 2 : 1,
    imageRepository: d.imageRepository,
    imageTag: d.imageTag,
    isCicdEnforced: d.isCicdEnforced,
    isDagDeployEnabled: d.isDagDeployEnabled,
    isHighAvailability: d.isHighAvailability,
    isDevelopmentMode: d.isDevelopmentMode,
    schedulerSize: d.schedulerSize,
    ...schedulerResources(d),
    defaultTaskPodCpu: d.defaultTaskPodCpu,
    defaultTaskPodMemory: d.defaultTaskPodMemory,
    resourceQuotaCpu: d.resourceQuotaCpu,
    resourceQuotaMemory: d.resourceQuotaMemory,
    taskPodNodePoolId: d.taskPodNodePoolId,
    workerQueues: d.workerQueues.map((q) => queueJson(q, hosted)),
    environmentVariables: d.environmentVariables.map((v) =>
      compact({ key: v.key, isSecret: v.isSecret, updatedAt: v.updatedAt, value: v.isSecret ? undefined : v.value }),
    ),
    contactEmails: clone(d.contactEmails),
    remoteExecution: d.remoteExecution
      ? compact({
          enabled: d.remoteExecution.enabled,
          allowedIpAddressRanges: d.remoteExecution.allowedIpAddressRanges ?? [],
          remoteApiUrl: `https://${d.host}/${d.segment}/api/v2`,
          taskLogBucket: d.remoteExecution.taskLogBucket,
          taskLogUrlPattern: d.remoteExecution.taskLogUrlPattern,
        })
      : undefined,
    scalingSpec: scalingSpecJson(d.scalingSpec),
    scalingStatus: d.isDevelopmentMode ? { hibernationStatus: { isHibernating: false } } : undefined,
    createdAt: d.createdAt,
    createdBy: d.createdBy,
    updatedAt: d.updatedAt,
    updatedBy: d.updatedBy,
  });
}

const AWS_ROLE = /^arn:aws:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/;
const GCP_SERVICE_ACCOUNT = /^[a-z][a-z0-9-]{4,28}[a-z0-9]@[a-z][a-z0-9-]{4,28}[a-z0-9]\.iam\.gserviceaccount\.com$/;

/** @param {Deployment} d @param {string} identity @returns {FieldError[]} */
function identityErrors(d, identity) {
  // The API's known limitation: on Azure, workload identity is set up from the Astro UI (a
  // user-assigned managed identity and a federated credential), never through this field.
  if (d.cloudProvider === "AZURE") {
    return [
      fieldError(
        "workloadIdentity",
        "unsupported",
        "workloadIdentity cannot be set on Deployments on Azure; configure a managed identity from the Astro UI",
      ),
    ];
  }
  const ok = d.cloudProvider === "AWS" ? AWS_ROLE.test(identity) : GCP_SERVICE_ACCOUNT.test(identity);
  if (ok) return [];
  const want = d.cloudProvider === "AWS" ? "an IAM role ARN" : "a Google service account e-mail";
  return [fieldError("workloadIdentity", "invalid", `workloadIdentity must be ${want}`)];
}

// "0.25" cores and "0.5Gi": memory must be exactly twice the CPU (Astro's documented rule).
/**
 * @param {string} cpuField
 * @param {string} memoryField
 * @param {string | undefined} cpu
 * @param {string | undefined} memory
 */
function quantityErrors(cpuField, memoryField, cpu, memory) {
  const c = Number(cpu);
  const m = /^(\d+(?:\.\d+)?)Gi$/.exec(memory ?? "");
  if (!(c > 0)) return [fieldError(cpuField, "invalid", `${cpuField} must be a number of CPU cores`)];
  if (!m) return [fieldError(memoryField, "invalid", `${memoryField} must be a quantity in Gi`)];
  if (Math.abs(Number(m[1]) - 2 * c) > 1e-9)
    return [fieldError(memoryField, "invalid", `${memoryField} must be twice ${cpuField} (${2 * c}Gi)`)];
  return [];
}

/**
 * UpdateDeployment's body, hosted or Hybrid (HOSTED_UPDATE, HYBRID_UPDATE).
 * @typedef {{
 *   type: string,
 *   name: string,
 *   description?: string,
 *   workspaceId: string,
 *   executor: string,
 *   isCicdEnforced: boolean,
 *   isDagDeployEnabled: boolean,
 *   isHighAvailability?: boolean,
 *   isDevelopmentMode?: boolean,
 *   schedulerSize?: string,
 *   scheduler?: HybridScheduler,
 *   environmentVariables: { key: string, value?: string, isSecret: boolean }[],
 *   workerQueues?: QueueRequest[],
 *   workloadIdentity?: string,
 *   drWorkloadIdentity?: string,
 *   contactEmails?: string[],
 *   defaultTaskPodCpu?: string,
 *   defaultTaskPodMemory?: string,
 *   resourceQuotaCpu?: string,
 *   resourceQuotaMemory?: string,
 *   remoteExecution?: RemoteExecution,
 *   scalingSpec?: ScalingSpec,
 *   taskPodNodePoolId?: string,
 * }} DeploymentUpdate
 */
/**
 * @param {Deployment} d
 * @param {unknown} rawBody
 * @param {Subject} subject
 */
function updateDeployment(d, rawBody, subject) {
  const hosted = d.type !== "HYBRID";
  const body = /** @type {DeploymentUpdate} */ (parseBody(rawBody, hosted ? HOSTED_UPDATE : HYBRID_UPDATE));
  /** @type {FieldError[]} */
  const errors = [];
  /** @param {string} field @param {string} code @param {string} message */
  const err = (field, code, message) => errors.push(fieldError(field, code, message));

  if (body.type !== d.type) err("type", "immutable", `type must be ${d.type}, the Deployment's type`);
  const ws = workspaces.get(body.workspaceId);
  if (!ws || ws.organizationId !== d.organizationId)
    err("workspaceId", "invalid", "workspaceId is not a Workspace of the Organization");
  if (body.executor === "ASTRO" && d.airflowMajor < 3)
    err("executor", "unsupported", "the ASTRO executor needs Airflow 3");

  // Optional fields left out keep their value (the Astro CLI updates without them); required
  // ones are replaced, so environment variables not sent are removed.
  const remote = body.remoteExecution ?? d.remoteExecution;
  const remoteEnabled = Boolean(remote?.enabled);
  /** @type {Partial<Deployment>} */
  const next = {
    name: body.name,
    description: body.description ?? d.description,
    workspaceId: body.workspaceId,
    executor: body.executor,
    isCicdEnforced: body.isCicdEnforced,
    isDagDeployEnabled: body.isDagDeployEnabled,
    contactEmails: body.contactEmails ?? d.contactEmails,
    drWorkloadIdentity: body.drWorkloadIdentity ?? d.drWorkloadIdentity,
  };
  if (hosted) {
    Object.assign(next, {
      isHighAvailability: body.isHighAvailability,
      isDevelopmentMode: body.isDevelopmentMode ?? d.isDevelopmentMode,
      schedulerSize: body.schedulerSize,
      remoteExecution: remote,
      scalingSpec: body.scalingSpec ?? d.scalingSpec,
    });
    let missing = false;
    for (const k of /** @type {const} */ ([
      "defaultTaskPodCpu",
      "defaultTaskPodMemory",
      "resourceQuotaCpu",
      "resourceQuotaMemory",
    ])) {
      next[k] = body[k] ?? d[k];
      if (!remoteEnabled && next[k] === undefined) {
        err(k, "required", `${k} is required when Remote Execution is disabled`);
        missing = true;
      }
    }
    if (!remoteEnabled && !missing) {
      errors.push(
        ...quantityErrors(
          "defaultTaskPodCpu",
          "defaultTaskPodMemory",
          next.defaultTaskPodCpu,
          next.defaultTaskPodMemory,
        ),
      );
      errors.push(
        ...quantityErrors("resourceQuotaCpu", "resourceQuotaMemory", next.resourceQuotaCpu, next.resourceQuotaMemory),
      );
    }
    if (!d.isDevelopmentMode && next.isDevelopmentMode)
      err("isDevelopmentMode", "immutable", "isDevelopmentMode cannot be set to true on a non-development Deployment");
    if (body.scalingSpec && !next.isDevelopmentMode)
      err("scalingSpec", "unsupported", "hibernation (scalingSpec) is available only on development Deployments");
    const until = body.scalingSpec?.hibernationSpec?.override?.overrideUntil;
    if (until !== undefined && Number.isNaN(Date.parse(until)))
      err("scalingSpec.hibernationSpec.override.overrideUntil", "invalid", "overrideUntil must be a date-time");
  } else {
    const scheduler = /** @type {HybridScheduler} required by HYBRID_UPDATE */ (body.scheduler);
    Object.assign(next, {
      scheduler,
      taskPodNodePoolId: body.taskPodNodePoolId ?? d.taskPodNodePoolId,
    });
    if (scheduler.au < 5 || scheduler.au > 24) err("scheduler.au", "invalid", "scheduler.au must be 5 to 24");
    if (scheduler.replicas < 1 || scheduler.replicas > 4)
      err("scheduler.replicas", "invalid", "scheduler.replicas must be 1 to 4");
  }

  // Worker queues: Celery (and the Astro executor without Remote Execution) need one default
  // queue called "default"; hosted queues need a machine, Hybrid ones a node pool.
  const needsQueues = body.executor === "CELERY" || (body.executor === "ASTRO" && !remoteEnabled);
  /** @type {Queue[]} */
  const workerQueues = [];
  next.workerQueues = workerQueues;
  if (needsQueues) {
    /** @type {QueueRequest[]} */
    const requested = body.workerQueues ?? d.workerQueues;
    const names = new Set();
    requested.forEach((q, i) => {
      const at = `workerQueues[${i}]`;
      if (q.id && !d.workerQueues.some((old) => old.id === q.id))
        err(`${at}.id`, "invalid", `${at}.id is not a queue of the Deployment`);
      if (names.has(q.name)) err(`${at}.name`, "duplicate", `worker queue name ${q.name} is used twice`);
      names.add(q.name);
      if (hosted && !q.astroMachine)
        err(`${at}.astroMachine`, "required", `${at}.astroMachine is required on Astro Hosted`);
      if (!hosted && !q.nodePoolId) err(`${at}.nodePoolId`, "required", `${at}.nodePoolId is required on Hybrid`);
      if (q.minWorkerCount > q.maxWorkerCount)
        err(`${at}.minWorkerCount`, "invalid", `${at}.minWorkerCount must not exceed maxWorkerCount`);
      workerQueues.push(compact({ ...clone(q), id: q.id ?? cuid() }));
    });
    const defaults = requested.filter((q) => q.isDefault);
    if (defaults.length !== 1 || defaults[0]?.name !== "default")
      err("workerQueues", "invalid", 'workerQueues must have exactly one default queue, named "default"');
  }

  // Environment variables: the list replaces the stored one. A variable sent without a value
  // keeps its stored value (how clients send back secrets, whose values GET leaves out).
  const keys = new Set();
  const stamp = now();
  next.environmentVariables = body.environmentVariables.map((v, i) => {
    const at = `environmentVariables[${i}]`;
    if (keys.has(v.key)) err(`${at}.key`, "duplicate", `environment variable ${v.key} is set twice`);
    keys.add(v.key);
    const old = d.environmentVariables.find((o) => o.key === v.key);
    if (v.value === undefined && !old) err(`${at}.value`, "required", `${at}.value is required for a new variable`);
    const value = v.value ?? old?.value ?? "";
    const changed = !old || old.value !== value || old.isSecret !== v.isSecret;
    return { key: v.key, value, isSecret: v.isSecret, updatedAt: changed || !old ? stamp : old.updatedAt };
  });

  // workloadIdentity left out keeps the current one (the Astro CLI updates without it).
  let identity = d.workloadIdentity;
  if (body.workloadIdentity !== undefined) {
    errors.push(...identityErrors(d, body.workloadIdentity));
    identity = body.workloadIdentity;
  }

  if (errors.length) throw invalid(errors);

  const [effectiveBefore, shownBefore] = [effectiveIdentity(d), shownIdentity(d, false)];
  Object.assign(d, next, { workloadIdentity: identity, updatedAt: stamp, updatedBy: subject });
  // A new effective identity reaches reads only after `identityPropagationReads` GETs; an
  // update that leaves it alone leaves a propagation under way alone.
  if (effectiveIdentity(d) !== effectiveBefore) {
    if (effectiveIdentity(d) === shownBefore || d.identityPropagationReads === 0) delete d.identityPropagation;
    else d.identityPropagation = { previous: shownBefore, readsLeft: d.identityPropagationReads };
  }
  return deploymentJson(d, shownIdentity(d, false));
}

// ---------------------------------------------------------------------------------------------
// Environment objects

/** @type {Record<ObjectType, TypedField>} */
const TYPED_FIELD = {
  CONNECTION: "connection",
  AIRFLOW_VARIABLE: "airflowVariable",
  ENVIRONMENT_VARIABLE: "environmentVariable",
  METRICS_EXPORT: "metricsExport",
};
/** @type {Record<ObjectType, string>} */
const OVERRIDE_FIELD = {
  CONNECTION: "connectionOverrides",
  AIRFLOW_VARIABLE: "airflowVariableOverrides",
  ENVIRONMENT_VARIABLE: "environmentVariableOverrides",
  METRICS_EXPORT: "metricsExportOverrides",
};
const CONNECTION_ID = /^[\w.-]{1,250}$/; // Airflow's conn_id rule
const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** @param {string} key */
const sensitiveKey = (key) => SENSITIVE_EXTRA.some((s) => key.toLowerCase().includes(s));

// setFields: the names of the fields that have a value, map members as dotted paths. A
// variable's only field is its value (isSecret is a property of the object, always present).
/** @param {Values | undefined} values */
function setFieldsOf(values) {
  /** @type {string[]} */
  const out = [];
  if (values && "isSecret" in values) return values.value ? ["value"] : [];
  for (const [k, v] of Object.entries(values ?? {})) {
    if (v === undefined || v === null || v === "") continue;
    if (typeof v === "object" && !Array.isArray(v)) out.push(...Object.keys(v).map((member) => `${k}.${member}`));
    else out.push(k);
  }
  return out;
}

// Secret values are masked in responses: left out (connection and metrics export secrets,
// sensitive `extra` keys) or empty (secret variable values), unless showSecrets.
/** @param {Values | undefined} c @param {boolean} showSecrets */
function maskConnection(c, showSecrets) {
  if (!c) return c;
  const out = clone(c);
  if (showSecrets) return out;
  for (const f of SECRET_MASK_FIELDS) delete out[f];
  if (out.extra) out.extra = Object.fromEntries(Object.entries(out.extra).filter(([k]) => !sensitiveKey(k)));
  return out;
}
/** @param {Values | undefined} m @param {boolean} showSecrets */
function maskMetricsExport(m, showSecrets) {
  if (!m || showSecrets) return clone(m);
  const { password: _p, basicToken: _b, ...rest } = m;
  return clone(rest);
}
/** @param {Values | undefined} v @param {boolean} showSecrets */
function maskVariable(v, showSecrets) {
  return v && { isSecret: v.isSecret, value: v.isSecret && !showSecrets ? "" : v.value };
}

/** @param {ObjectType} objectType @param {Values | undefined} values @param {boolean} showSecrets */
function typedJson(objectType, values, showSecrets) {
  switch (objectType) {
    case "CONNECTION":
      return maskConnection(values, showSecrets);
    case "METRICS_EXPORT":
      return maskMetricsExport(values, showSecrets);
    default:
      return maskVariable(values, showSecrets);
  }
}

/** @param {ObjectType} objectType @param {Values | undefined} overrides @param {boolean} showSecrets */
function overridesJson(objectType, overrides, showSecrets) {
  if (!overrides) return undefined;
  if (objectType === "CONNECTION") return maskConnection(overrides, showSecrets);
  if (objectType === "METRICS_EXPORT") return maskMetricsExport(overrides, showSecrets);
  // EnvironmentObject{Airflow,Environment}VariableOverrides require `value`.
  return overrides.value === undefined ? undefined : { value: overrides.value };
}

/** The environment object as GetEnvironmentObject answers it. */
/** @param {EnvironmentObject} o @param {{ showSecrets?: boolean }} [options] */
function environmentObjectJson(o, { showSecrets = false } = {}) {
  const typed = TYPED_FIELD[o.objectType];
  const workspaceScope = o.scope === "WORKSPACE";
  return compact({
    id: o.id,
    objectKey: o.objectKey,
    objectType: o.objectType,
    scope: o.scope,
    scopeEntityId: o.scopeEntityId,
    description: o.description,
    [typed]: typedJson(o.objectType, o[typed], showSecrets),
    setFields: setFieldsOf(o[typed]),
    autoLinkDeployments: workspaceScope ? o.autoLinkDeployments : undefined,
    links: o.links.length
      ? o.links.map((l) =>
          compact({
            scope: l.scope,
            scopeEntityId: l.scopeEntityId,
            [OVERRIDE_FIELD[o.objectType]]: overridesJson(o.objectType, l.overrides, showSecrets),
            setFields: setFieldsOf(l.overrides),
          }),
        )
      : undefined,
    excludeLinks: o.excludeLinks.length ? clone(o.excludeLinks) : undefined,
    createdAt: o.createdAt,
    createdBy: o.createdBy,
    updatedAt: o.updatedAt,
    updatedBy: o.updatedBy,
  });
}

/** A Workspace object as a Deployment sees it through a link: the link's overrides applied. */
/** @param {EnvironmentObject} o @param {string} deploymentId @param {boolean} showSecrets */
function resolvedJson(o, deploymentId, showSecrets) {
  const typed = TYPED_FIELD[o.objectType];
  const link = o.links.find((l) => l.scopeEntityId === deploymentId);
  /** @type {Values} */
  const overrides = link?.overrides ?? {};
  let values = clone(o[typed]);
  if (o.objectType === "AIRFLOW_VARIABLE" || o.objectType === "ENVIRONMENT_VARIABLE") {
    if (overrides.value !== undefined) values = { ...values, value: overrides.value };
  } else {
    values = { ...values, ...overrides };
    if (overrides.extra || o[typed]?.extra) values.extra = { ...o[typed]?.extra, ...overrides.extra };
  }
  return compact({
    id: o.id,
    objectKey: o.objectKey,
    objectType: o.objectType,
    scope: "DEPLOYMENT",
    scopeEntityId: deploymentId,
    sourceScope: "WORKSPACE",
    sourceScopeEntityId: o.scopeEntityId,
    description: o.description,
    [typed]: typedJson(o.objectType, values, showSecrets),
    setFields: setFieldsOf(values),
    createdAt: o.createdAt,
    createdBy: o.createdBy,
    updatedAt: o.updatedAt,
    updatedBy: o.updatedBy,
  });
}

/** @param {EnvironmentObject} o @param {string} deploymentId */
const linkedTo = (o, deploymentId) =>
  o.links.some((l) => l.scopeEntityId === deploymentId) ||
  (o.autoLinkDeployments && !o.excludeLinks.some((l) => l.scopeEntityId === deploymentId));

/**
 * @overload
 * @param {string} orgId
 * @param {"DEPLOYMENT"} scope
 * @param {string} id
 * @returns {Deployment}
 */
/**
 * @overload
 * @param {string} orgId
 * @param {string} scope
 * @param {string} id
 * @returns {Workspace | Deployment}
 */
/**
 * @param {string} orgId
 * @param {string} scope
 * @param {string} id
 * @returns {Workspace | Deployment}
 */
function checkScopeEntity(orgId, scope, id) {
  if (scope === "WORKSPACE") {
    const ws = workspaces.get(id);
    if (!ws || ws.organizationId !== orgId) throw notFound("Workspace");
    return ws;
  }
  const d = deployments.get(id);
  if (!d || d.organizationId !== orgId) throw notFound("Deployment");
  return d;
}

// The typed body, links and exclusions of a create or an update, checked against the object.
/**
 * CreateEnvironmentObject's and UpdateEnvironmentObject's bodies (CREATE_OBJECT, UPDATE_OBJECT).
 * @typedef {TypedFields & { unsetFields?: string[] }} OverridesRequest
 * @typedef {ScopeRef & { overrides?: OverridesRequest }} LinkRequest
 * @typedef {TypedFields & {
 *   description?: string,
 *   autoLinkDeployments?: boolean,
 *   links?: LinkRequest[],
 *   excludeLinks?: ScopeRef[],
 * }} UpdateObjectRequest
 * @typedef {UpdateObjectRequest & { objectKey: string, objectType: ObjectType, scope: string, scopeEntityId: string }} CreateObjectRequest
 */
/**
 * @param {EnvironmentObject} o
 * @param {UpdateObjectRequest} body
 * @param {FieldError[]} errors
 * @param {boolean} update
 */
function checkContent(o, body, errors, update) {
  /** @param {string} field @param {string} code @param {string} message */
  const err = (field, code, message) => errors.push(fieldError(field, code, message));
  const typed = TYPED_FIELD[o.objectType];
  for (const [type, field] of Object.entries(TYPED_FIELD)) {
    if (type !== o.objectType && body[field] !== undefined)
      err(field, "invalid", `${field} does not apply to a ${o.objectType} environment object`);
  }
  if (o.objectType === "CONNECTION" && !body.connection)
    err("connection.type", "required", "connection.type is required");
  if (!update && o.objectType !== "CONNECTION" && !body[typed]) err(typed, "required", `${typed} is required`);
  if (body.connection?.authTypeId !== undefined)
    err(
      "connection.authTypeId",
      "unsupported",
      "connection auth types are not modelled by this fake; leave authTypeId out",
    );
  if (body.connection && !body.connection.type) err("connection.type", "required", "connection.type must not be empty");
  if (body.connection?.port !== undefined && (body.connection.port < 0 || body.connection.port > 65535))
    err("connection.port", "invalid", "connection.port must be 0 to 65535");

  const workspaceScope = o.scope === "WORKSPACE";
  const links = body.links ?? [];
  const excludeLinks = body.excludeLinks ?? [];
  if (!workspaceScope) {
    if (links.length) err("links", "invalid", "links are only applicable for WORKSPACE scope");
    if (excludeLinks.length) err("excludeLinks", "invalid", "excludeLinks are only applicable for WORKSPACE scope");
    if (body.autoLinkDeployments)
      err("autoLinkDeployments", "invalid", "autoLinkDeployments is only applicable for WORKSPACE scope");
    return;
  }
  const seen = new Set();
  /** @param {ScopeRef} l @param {string} at */
  const checkTarget = (l, at) => {
    const d = deployments.get(l.scopeEntityId);
    if (!d || d.workspaceId !== o.scopeEntityId)
      err(`${at}.scopeEntityId`, "invalid", `${at}.scopeEntityId is not a Deployment of the Workspace`);
    if (seen.has(l.scopeEntityId))
      err(`${at}.scopeEntityId`, "duplicate", `Deployment ${l.scopeEntityId} is listed twice`);
    seen.add(l.scopeEntityId);
  };
  links.forEach((l, i) => {
    checkTarget(l, `links[${i}]`);
    const ov = l.overrides ?? {};
    for (const [type, field] of Object.entries(TYPED_FIELD)) {
      if (type !== o.objectType && ov[field] !== undefined)
        err(
          `links[${i}].overrides.${field}`,
          "invalid",
          `overrides.${field} does not apply to a ${o.objectType} object`,
        );
    }
    for (const name of ov.unsetFields ?? []) {
      const top = name.split(".")[0] ?? name;
      /** @type {Record<string, unknown>} */
      const set = ov[typed] ?? {};
      const parent = set[top];
      // As the API does, a member of a field that is not an object is a type error (a 500).
      if (name in set || (name.includes(".") && parent && name.slice(top.length + 1) in /** @type {object} */ (parent)))
        err(`links[${i}].overrides.unsetFields`, "invalid", `${name} cannot be both set and unset`);
    }
  });
  excludeLinks.forEach((l, i) => checkTarget(l, `excludeLinks[${i}]`));
}

/** @param {string} objectType @param {string} key @param {FieldError[]} errors */
function checkKey(objectType, key, errors) {
  const bad =
    (objectType === "CONNECTION" && !CONNECTION_ID.test(key)) ||
    (objectType === "ENVIRONMENT_VARIABLE" && !ENV_KEY.test(key)) ||
    !key;
  if (bad)
    errors.push(
      fieldError("objectKey", "invalid", `objectKey ${JSON.stringify(key)} is not a valid key for a ${objectType}`),
    );
}

/** @param {EnvironmentObject} o */
const duplicateOf = (o) =>
  [...environmentObjects.values()].find(
    (x) =>
      x.id !== o.id &&
      x.organizationId === o.organizationId &&
      x.scope === o.scope &&
      x.scopeEntityId === o.scopeEntityId &&
      x.objectType === o.objectType &&
      x.objectKey === o.objectKey,
  );

/** @param {string} orgId @param {unknown} rawBody @param {Subject} subject */
function createEnvironmentObject(orgId, rawBody, subject) {
  const body = /** @type {CreateObjectRequest} */ (parseBody(rawBody, CREATE_OBJECT));
  checkScopeEntity(orgId, body.scope, body.scopeEntityId);
  const stamp = now();
  /** @type {EnvironmentObject} */
  const o = {
    id: cuid(),
    organizationId: orgId,
    objectKey: body.objectKey,
    objectType: body.objectType,
    scope: body.scope,
    scopeEntityId: body.scopeEntityId,
    description: body.description,
    autoLinkDeployments: body.scope === "WORKSPACE" ? Boolean(body.autoLinkDeployments) : undefined,
    links: [],
    excludeLinks: [],
    createdAt: stamp,
    createdBy: subject,
    updatedAt: stamp,
    updatedBy: subject,
    createdSeq: ++writes,
    updatedSeq: writes,
  };
  /** @type {FieldError[]} */
  const errors = [];
  checkKey(o.objectType, o.objectKey, errors);
  checkContent(o, body, errors, false);
  if (errors.length) throw invalid(errors);
  const typed = TYPED_FIELD[o.objectType];
  o[typed] = clone(body[typed]);
  if (typed === "airflowVariable" || typed === "environmentVariable") {
    const given = body[typed]; // required of a variable: checkContent
    o[typed] = { value: given?.value ?? "", isSecret: Boolean(given?.isSecret) };
  }
  o.links = (body.links ?? []).map((l) =>
    compact({ scope: l.scope, scopeEntityId: l.scopeEntityId, overrides: clone(l.overrides?.[typed]) }),
  );
  o.excludeLinks = (body.excludeLinks ?? []).map((l) => ({ scope: l.scope, scopeEntityId: l.scopeEntityId }));
  if (duplicateOf(o)) {
    throw new ApiError(
      409,
      `An environment object of type ${o.objectType} with key ${o.objectKey} already exists in ${o.scope} ${o.scopeEntityId}`,
    );
  }
  environmentObjects.set(o.id, o);
  return { id: o.id };
}

/**
 * UpdateEnvironmentObject: the body replaces the object's settings. A CONNECTION object must
 * always send `connection` (with `type`), which replaces the stored connection, password and
 * all; `description`, `links` and `excludeLinks` left out are cleared and `autoLinkDeployments`
 * left out goes back to false. A variable's value or a metrics export's fields left out stay.
 * Within a link sent again, `overrides` are merged (fields given are set, `unsetFields` removed).
 */
/** @param {EnvironmentObject} o @param {unknown} rawBody @param {Subject} subject */
function updateEnvironmentObject(o, rawBody, subject) {
  const body = /** @type {UpdateObjectRequest} */ (parseBody(rawBody, UPDATE_OBJECT));
  /** @type {FieldError[]} */
  const errors = [];
  checkContent(o, body, errors, true);
  if (errors.length) throw invalid(errors);
  const typed = TYPED_FIELD[o.objectType];
  if (o.objectType === "CONNECTION") o.connection = clone(body.connection);
  else if (o.objectType === "METRICS_EXPORT") o.metricsExport = { ...o.metricsExport, ...clone(body.metricsExport) };
  else {
    const value = body[typed]?.value;
    if (value !== undefined) o[typed] = { ...o[typed], value };
  }
  o.description = body.description;
  if (o.scope === "WORKSPACE") {
    o.autoLinkDeployments = Boolean(body.autoLinkDeployments);
    o.links = (body.links ?? []).map((l) => {
      const old = o.links.find((x) => x.scopeEntityId === l.scopeEntityId)?.overrides;
      if (!l.overrides) return compact({ scope: l.scope, scopeEntityId: l.scopeEntityId, overrides: clone(old) });
      /** @type {Record<string, unknown>} */
      const merged = { ...clone(old), ...clone(l.overrides[typed]) };
      for (const name of l.overrides.unsetFields ?? []) {
        const [top = name, ...rest] = name.split(".");
        const parent = merged[top];
        if (rest.length && parent) delete (/** @type {Record<string, unknown>} */ (parent)[rest.join(".")]);
        else delete merged[name];
      }
      return compact({
        scope: l.scope,
        scopeEntityId: l.scopeEntityId,
        overrides: Object.keys(merged).length ? /** @type {Values} */ (merged) : undefined,
      });
    });
    o.excludeLinks = (body.excludeLinks ?? []).map((l) => ({ scope: l.scope, scopeEntityId: l.scopeEntityId }));
  }
  Object.assign(o, { updatedAt: now(), updatedBy: subject, updatedSeq: ++writes });
  return environmentObjectJson(o);
}

const SORT_FIELDS = ["objectType", "objectKey", "createdAt", "updatedAt"];
/** @type {Record<string, (o: EnvironmentObject) => number>} */
const SORT_KEY = { createdAt: (o) => o.createdSeq, updatedAt: (o) => o.updatedSeq };

/** @param {string} orgId @param {URLSearchParams} q */
function listEnvironmentObjects(orgId, q) {
  const deploymentId = q.get("deploymentId");
  const workspaceId = q.get("workspaceId");
  const showSecrets = q.get("showSecrets") === "true";
  const offset = q.has("offset") ? Number(q.get("offset")) : 0;
  const limit = q.has("limit") ? Number(q.get("limit")) : DEFAULT_LIMIT;
  /** @type {FieldError[]} */
  const errors = [];
  if (!Number.isInteger(offset) || offset < 0)
    errors.push(fieldError("offset", "invalid", "offset must be an integer >= 0"));
  if (!Number.isInteger(limit) || limit < 0)
    errors.push(fieldError("limit", "invalid", "limit must be an integer >= 0"));
  if (!deploymentId && !workspaceId)
    errors.push(fieldError("workspaceId", "required", "workspaceId or deploymentId is required"));
  const sorts = q.getAll("sorts").map((s, i) => {
    const [field = "", dir] = s.split(":");
    if (!SORT_FIELDS.includes(field) || dir === undefined || !["asc", "desc"].includes(dir))
      errors.push(fieldError(`sorts[${i}]`, "invalid", `sorts[${i}] must be <field>:asc or <field>:desc`));
    return { field, dir };
  });
  if (errors.length) throw invalid(errors);

  const all = [...environmentObjects.values()].filter((o) => o.organizationId === orgId);
  /** @type {{ o: EnvironmentObject, json: () => object }[]} */
  let items;
  if (deploymentId) {
    const d = checkScopeEntity(orgId, "DEPLOYMENT", deploymentId);
    if (workspaceId && d.workspaceId !== workspaceId) items = [];
    else {
      const own = all.filter((o) => o.scope === "DEPLOYMENT" && o.scopeEntityId === deploymentId);
      items = own.map((o) => ({ o, json: () => environmentObjectJson(o, { showSecrets }) }));
      if (q.get("resolveLinked") === "true") {
        // A Deployment's own object shadows a linked Workspace object with the same key.
        const taken = new Set(own.map((o) => `${o.objectType}/${o.objectKey}`));
        for (const o of all) {
          if (o.scope !== "WORKSPACE" || o.scopeEntityId !== d.workspaceId || !linkedTo(o, deploymentId)) continue;
          if (taken.has(`${o.objectType}/${o.objectKey}`)) continue;
          items.push({ o, json: () => resolvedJson(o, deploymentId, showSecrets) });
        }
      }
    }
  } else {
    checkScopeEntity(orgId, "WORKSPACE", workspaceId ?? "");
    items = all
      .filter((o) => o.scope === "WORKSPACE" && o.scopeEntityId === workspaceId)
      .map((o) => ({ o, json: () => environmentObjectJson(o, { showSecrets }) }));
  }
  for (const key of /** @type {const} */ (["objectType", "objectKey"])) {
    if (q.has(key)) items = items.filter(({ o }) => o[key] === q.get(key));
  }
  // Sorted as asked, then by creation (the fake's choice of default order).
  const order = [...sorts, { field: "createdAt", dir: "asc" }];
  items.sort((a, b) => {
    for (const { field, dir } of order) {
      const key = SORT_KEY[field];
      /** @param {EnvironmentObject} o the field by name */
      const byName = (o) => String(/** @type {Record<string, unknown>} */ (o)[field]);
      const c = key ? key(a.o) - key(b.o) : byName(a.o).localeCompare(byName(b.o));
      if (c) return dir === "asc" ? c : -c;
    }
    return 0;
  });
  return {
    environmentObjects: items.slice(offset, offset + limit).map(({ json }) => json()),
    limit,
    offset,
    totalCount: items.length,
  };
}

// ---------------------------------------------------------------------------------------------
// API routes

const ORG = "/organizations/([^/]+)";
const WRITE = true;
/**
 * @typedef {Record<string, unknown> | undefined} JsonBody
 * @typedef {[string, string]} Params the organization and, on item paths, the item's id
 * @typedef {{ org: string, params: Params, body: JsonBody, query: URLSearchParams, subject: Subject }} RouteRequest
 * @typedef {{
 *   operation: string,
 *   method: string,
 *   path: RegExp,
 *   write?: boolean,
 *   target: (params: Params, query: URLSearchParams, body: JsonBody) => Target,
 *   handle: (request: RouteRequest) => object | undefined,
 * }} Route
 */
/** @type {Route[]} */
const ROUTES = [
  {
    operation: "GetDeployment",
    method: "GET",
    path: new RegExp(`^${BASE}${ORG}/deployments/([^/]+)$`),
    target: ([, id]) => ({ deploymentId: id }),
    handle: ({ org, params: [, id] }) => {
      const d = deploymentIn(org, id);
      return deploymentJson(d, shownIdentity(d, true));
    },
  },
  {
    operation: "UpdateDeployment",
    method: "POST",
    path: new RegExp(`^${BASE}${ORG}/deployments/([^/]+)$`),
    write: WRITE,
    target: ([, id]) => ({ deploymentId: id }),
    handle: ({ org, params: [, id], body, subject }) => updateDeployment(deploymentIn(org, id), body, subject),
  },
  {
    operation: "ListEnvironmentObjects",
    method: "GET",
    path: new RegExp(`^${BASE}${ORG}/environment-objects$`),
    target: (_, q) =>
      compact({ deploymentId: q.get("deploymentId") ?? undefined, workspaceId: q.get("workspaceId") ?? undefined }),
    handle: ({ org, query }) => listEnvironmentObjects(org, query),
  },
  {
    operation: "CreateEnvironmentObject",
    method: "POST",
    path: new RegExp(`^${BASE}${ORG}/environment-objects$`),
    write: WRITE,
    target: (_, __, body) => scopeTarget(body?.scope, body?.scopeEntityId),
    handle: ({ org, body, subject }) => createEnvironmentObject(org, body, subject),
  },
  {
    operation: "GetEnvironmentObject",
    method: "GET",
    path: new RegExp(`^${BASE}${ORG}/environment-objects/([^/]+)$`),
    target: objectTarget,
    handle: ({ org, params: [, id] }) => environmentObjectJson(objectIn(org, id)),
  },
  {
    operation: "UpdateEnvironmentObject",
    method: "POST",
    path: new RegExp(`^${BASE}${ORG}/environment-objects/([^/]+)$`),
    write: WRITE,
    target: objectTarget,
    handle: ({ org, params: [, id], body, subject }) => updateEnvironmentObject(objectIn(org, id), body, subject),
  },
  {
    operation: "DeleteEnvironmentObject",
    method: "DELETE",
    path: new RegExp(`^${BASE}${ORG}/environment-objects/([^/]+)$`),
    write: WRITE,
    target: objectTarget,
    handle: ({ org, params: [, id] }) => {
      environmentObjects.delete(objectIn(org, id).id);
      return undefined; // 204
    },
  },
];

/** @param {unknown} scope @param {unknown} id @returns {Target} */
function scopeTarget(scope, id) {
  if (typeof id !== "string") return {};
  return scope === "WORKSPACE" ? { workspaceId: id } : scope === "DEPLOYMENT" ? { deploymentId: id } : {};
}
/** @param {Params} params */
function objectTarget([, id]) {
  const o = environmentObjects.get(id);
  return { environmentObjectId: id, ...(o ? scopeTarget(o.scope, o.scopeEntityId) : {}) };
}

/** @param {string} org @param {string} id */
function deploymentIn(org, id) {
  const d = deployments.get(id);
  if (!d || d.organizationId !== org) throw notFound("Deployment");
  return d;
}
/** @param {string} org @param {string} id */
function objectIn(org, id) {
  const o = environmentObjects.get(id);
  if (!o || o.organizationId !== org) throw notFound("Environment object");
  return o;
}

// 401 without a usable bearer token; 403 for a token bound to another Organization, for an
// Organization that does not exist, and for a write with a read-only token.
/** @param {http.IncomingMessage} req @param {string} org @param {boolean | undefined} write */
function authorize(req, org, write) {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? "");
  if (!m?.[1]) throw new ApiError(401, "Unauthorized: a bearer token is required");
  const token = m[1];
  const info = tokens.get(token);
  if (info?.revoked) throw new ApiError(401, "Unauthorized: the token is invalid or has expired");
  if (!organizations.has(org) || (info?.organizationId && info.organizationId !== org)) {
    throw new ApiError(403, "Forbidden: the token has no access to this Organization");
  }
  if (write && info?.readOnly) throw new ApiError(403, "Forbidden: the token is read-only");
  return tokenSubject(token);
}

// `ctx` learns the operation and its target as soon as the route is known, so a call that fails
// still counts, and its response can still carry an injected fault.
/**
 * @typedef {{ operation?: string, target?: Target, call?: Call }} CallContext
 * @param {http.IncomingMessage} req
 * @param {URL} url
 * @param {string} text
 * @param {CallContext} ctx
 */
function api(req, url, text, ctx) {
  const candidates = ROUTES.filter((r) => r.path.test(url.pathname));
  if (!candidates.length) throw new ApiError(404, `Not found: ${url.pathname}`);
  const route = candidates.find((r) => r.method === req.method);
  if (!route) throw new ApiError(405, `Method ${req.method} not allowed on ${url.pathname}`);
  const match = /** @type {RegExpExecArray} matched above */ (route.path.exec(url.pathname));
  const params = /** @type {Params} */ (match.slice(1).map(decodeURIComponent));
  /** @type {JsonBody} */
  let body;
  /** @type {unknown} */
  let parseError;
  try {
    body = parseJson(text);
  } catch (e) {
    parseError = e;
  }
  const org = params[0];
  Object.assign(ctx, {
    operation: route.operation,
    target: { organizationId: org, ...route.target(params, url.searchParams, body) },
  });
  calls.push({ operation: route.operation, ...ctx.target });
  ctx.call = calls.at(-1);
  const subject = authorize(req, org, route.write);
  if (parseError) throw parseError;
  const fault = takeFault(ctx, "before");
  if (fault) throw fault;
  const result = route.handle({ org, params, body, query: url.searchParams, subject });
  const after = takeFault(ctx, "after");
  if (after) throw after;
  return result;
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
    throw new ApiError(400, `Invalid JSON body: ${/** @type {SyntaxError} */ (e).message}`);
  }
}

// Deliberate faults. "status" answers an error status instead (429 with Retry-After for
// throttling, 500, 503...), before the operation runs or after it has taken effect; "schema"
// breaks the response's contract, so a test can prove that Prism's response check is live.
/** @param {CallContext} ctx @param {(fault: Fault) => boolean} predicate */
function matchingFault(ctx, predicate) {
  return faults.findIndex(
    (f) =>
      f.operation === ctx.operation &&
      predicate(f) &&
      (!f.deploymentId || f.deploymentId === ctx.target?.deploymentId) &&
      (!f.environmentObjectId || f.environmentObjectId === ctx.target?.environmentObjectId),
  );
}
/** @param {number} i */
function consume(i) {
  const f = /** @type {Fault} */ (faults[i]);
  if (--f.remaining <= 0) faults.splice(i, 1);
  return f;
}
/** @param {CallContext} ctx @param {string} when */
function takeFault(ctx, when) {
  const i = matchingFault(ctx, (f) => f.kind === "status" && f.when === when);
  if (i < 0) return undefined;
  const f = consume(i);
  /** @type {Record<number, string>} */
  const messages = {
    429: "Too many requests, please retry later",
    500: "Internal server error",
    503: "Service unavailable",
  };
  const status = /** @type {number} a status fault has one (POST /_fake/faults) */ (f.status);
  const e = new ApiError(status, messages[status] ?? `Injected error ${status}`);
  if (status === 429) e.headers = { "retry-after": "1" };
  return e;
}
/** @param {CallContext} ctx @param {object | undefined} body */
function applySchemaFault(ctx, body) {
  if (body === undefined) return body; // a 204 has no body to break; the fault waits
  const i = matchingFault(ctx, (f) => f.kind === "schema");
  if (i < 0) return body;
  consume(i);
  return { ...body, injectedFault: "not a field of this response" };
}

// ---------------------------------------------------------------------------------------------
// Admin API (/_fake/...): not Astro's, so never behind Prism.

/**
 * @param {{ id?: string, name?: string, shortName?: string }} spec
 * @returns {Organization}
 */
function createOrganization({ id = cuid(), name, shortName }) {
  if (organizations.has(id)) throw new ApiError(409, `Organization ${id} exists.`);
  const org = {
    id,
    name: name ?? `org-${randomString(4)}`,
    shortName: shortName ?? id,
    authOrgId: `org_${randomString(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")}`,
  };
  organizations.set(id, org);
  return org;
}
/** @param {{ id: string }} spec */
const ensureOrganization = ({ id }) => organizations.get(id) ?? createOrganization({ id });

/**
 * @param {{ id?: string, organizationId?: string, name?: string }} spec
 * @returns {Workspace}
 */
function createWorkspace({ id = cuid(), organizationId, name }) {
  if (workspaces.has(id)) throw new ApiError(409, `Workspace ${id} exists.`);
  const org = organizationId ? ensureOrganization({ id: organizationId }) : createOrganization({});
  const ws = { id, organizationId: org.id, name: name ?? `workspace-${randomString(4)}` };
  workspaces.set(id, ws);
  return ws;
}
/** @param {{ id: string, organizationId?: string }} spec */
const ensureWorkspace = ({ id, organizationId }) => workspaces.get(id) ?? createWorkspace({ id, organizationId });

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
    [organizations, workspaces, deployments, environmentObjects] = [new Map(), new Map(), new Map(), new Map()];
    [tokens, calls, faults] = [new Map(), [], []];
    return {};
  }
  if (route === "POST /_fake/organizations") return createOrganization(body);
  if (route === "POST /_fake/workspaces") return createWorkspace(body);
  if (route === "POST /_fake/deployments") return seedDeployment(body);
  if ((m = /^\/_fake\/deployments\/([^/]+)$/.exec(url.pathname))) {
    const d = deployments.get(decodeURIComponent(m[1] ?? ""));
    if (!d) throw notFound("Deployment");
    if (req.method === "GET") return rawDeployment(d);
    if (req.method === "DELETE") {
      deployments.delete(d.id);
      return {};
    }
  }
  if ((m = /^\/_fake\/environment-objects\/([^/]+)$/.exec(url.pathname)) && req.method === "GET") {
    const o = environmentObjects.get(decodeURIComponent(m[1] ?? ""));
    if (!o) throw notFound("Environment object");
    return clone(o);
  }
  if (route === "GET /_fake/environment-objects") {
    return [...environmentObjects.values()].filter(
      (o) => !q.has("scopeEntityId") || o.scopeEntityId === q.get("scopeEntityId"),
    );
  }
  if (route === "POST /_fake/tokens") {
    const { token, readOnly = false, revoked = false, organizationId, name } = body;
    if (typeof token !== "string" || !token) throw new ApiError(400, "token is required.");
    tokens.set(token, { readOnly, revoked, organizationId, name });
    return {};
  }
  if (route === "GET /_fake/calls") {
    /** @type {Record<string, number>} */
    const counts = {};
    for (const c of calls) {
      const filters = /** @type {const} */ ([
        "operation",
        "organizationId",
        "deploymentId",
        "workspaceId",
        "environmentObjectId",
      ]);
      if (filters.some((f) => q.has(f) && c[f] !== q.get(f))) continue;
      counts[c.operation] = (counts[c.operation] ?? 0) + 1;
    }
    return counts;
  }
  if (route === "POST /_fake/calls/reset") {
    calls = [];
    return {};
  }
  if (route === "POST /_fake/faults") {
    const { operation, kind = "schema", status, when = "before", count = 1, deploymentId, environmentObjectId } = body;
    if (!ROUTES.some((r) => r.operation === operation)) throw new ApiError(400, `Unknown operation ${operation}.`);
    if (!["schema", "status"].includes(kind)) throw new ApiError(400, `Unknown fault kind ${kind}.`);
    if (kind === "status" && !(Number.isInteger(status) && status >= 400 && status <= 599))
      throw new ApiError(400, `A status fault needs a status 400-599, not ${status}.`);
    if (!["before", "after"].includes(when)) throw new ApiError(400, `Invalid when ${when}: before or after.`);
    if (!Number.isInteger(count) || count < 1) throw new ApiError(400, `Invalid count ${count}.`);
    faults.push({ operation, kind, status, when, remaining: count, deploymentId, environmentObjectId });
    return {};
  }
  throw new ApiError(404, `No admin route ${route}.`);
}

// ---------------------------------------------------------------------------------------------
// HTTP

/**
 * @param {http.ServerResponse} res
 * @param {number} status
 * @param {object | undefined} body
 * @param {Record<string, string>} [headers]
 */
function send(res, status, body, headers = {}) {
  if (body === undefined) {
    res.writeHead(status, headers);
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
  });
  res.end(text);
}

/** @param {ApiError} e */
const errorBody = (e) =>
  compact({ message: e.message, requestId: randomUUID(), statusCode: e.statusCode, fieldErrors: e.fieldErrors });

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
      /** @type {object | undefined} */
      let body;
      /** @type {Record<string, string>} */
      let headers = {};
      try {
        body = isAdmin ? admin(req, url, text) : api(req, url, text, ctx);
        if (!isAdmin && body === undefined) status = 204;
      } catch (thrown) {
        const e =
          thrown instanceof ApiError
            ? thrown
            : thrown instanceof SyntaxError || thrown instanceof URIError
              ? new ApiError(400, thrown.message)
              : new ApiError(500, `Internal server error: ${thrown}`);
        status = e.statusCode;
        body = errorBody(e);
        headers = e.headers ?? {};
      }
      if (ctx.call) ctx.call.status = status;
      if (ctx.operation) body = applySchemaFault(ctx, body);
      if (!isAdmin) console.log(`${req.method} ${url.pathname}${url.search} ${status}`);
      send(res, status, body, headers);
    });
  });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf("--port");
  const port = i > 0 ? Number(process.argv[i + 1]) : 0;
  const server = createServer();
  server.listen(port, "127.0.0.1", () =>
    console.log(
      `astro fake listening on http://127.0.0.1:${/** @type {import("node:net").AddressInfo} */ (server.address()).port}`,
    ),
  );
  // State is in memory only, so there is nothing to flush.
  process.on("SIGTERM", () => process.exit(0));
  process.on("SIGINT", () => process.exit(0));
}
