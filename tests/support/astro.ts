import { DeploymentRecord, updateDeploymentBody } from "../../provider/astro/deploymentSettingsDriver";
import { randomBytes } from "node:crypto";
import { fakeAdmin } from "./fakeAdmin";

export { fakeAdmin };

/** The bearer token the tests use with the sandbox's astro server (it takes any token it was not told to refuse). */
export const SANDBOX_ASTRO_TOKEN = "sandbox-astro-token";

// ---------------------------------------------------------------------------------------------
// The Astro Platform API shapes the tests use (sandbox/fakes/astro/openapi.yaml has them all).

export type CloudProvider = "AWS" | "GCP" | "AZURE";
export type DeploymentType = "STANDARD" | "DEDICATED" | "HYBRID";
export type Executor = "CELERY" | "KUBERNETES" | "ASTRO";

export interface BasicSubjectProfile {
  id: string;
  subjectType?: "USER" | "SERVICEKEY";
  apiTokenName?: string;
  username?: string;
  fullName?: string;
  avatarUrl?: string;
}

export interface DeploymentEnvironmentVariable {
  key: string;
  isSecret: boolean;
  updatedAt: string;
  /** Left out for secrets. */
  value?: string;
}

export interface WorkerQueue {
  id: string;
  name: string;
  isDefault: boolean;
  astroMachine?: string;
  nodePoolId?: string;
  minWorkerCount: number;
  maxWorkerCount: number;
  workerConcurrency: number;
  podCpu: string;
  podMemory: string;
  podEphemeralStorage?: string;
}

export interface Deployment {
  id: string;
  name: string;
  description?: string;
  organizationId: string;
  workspaceId: string;
  workspaceName?: string;
  type?: DeploymentType;
  /** Only for Standard Deployments. */
  cloudProvider?: CloudProvider;
  /** Only for Dedicated and Hybrid Deployments. */
  region?: string;
  clusterId?: string;
  clusterName?: string;
  executor?: Executor;
  status: string;
  namespace: string;
  oidcIssuerUrl?: string;
  effectiveWorkloadIdentity?: string;
  airflowVersion: string;
  runtimeVersion: string;
  astroRuntimeVersion: string;
  apiUrl: string;
  uiUrl: string;
  /** No scheme; ends in /api/v1 (Airflow 2) or /api/v2 (Airflow 3). */
  webServerAirflowApiUrl: string;
  webServerIngressHostname: string;
  webServerUrl: string;
  isCicdEnforced: boolean;
  isDagDeployEnabled: boolean;
  isHighAvailability?: boolean;
  isDevelopmentMode?: boolean;
  schedulerSize?: "SMALL" | "MEDIUM" | "LARGE" | "EXTRA_LARGE";
  schedulerAu?: number;
  schedulerReplicas: number;
  defaultTaskPodCpu?: string;
  defaultTaskPodMemory?: string;
  resourceQuotaCpu?: string;
  resourceQuotaMemory?: string;
  workerQueues?: WorkerQueue[];
  environmentVariables?: DeploymentEnvironmentVariable[];
  contactEmails?: string[];
  createdAt: string;
  updatedAt: string;
  createdBy: BasicSubjectProfile;
  updatedBy: BasicSubjectProfile;
}

export interface DeploymentEnvironmentVariableRequest {
  key: string;
  isSecret: boolean;
  /** Left out to keep the stored value (how secrets are sent back). */
  value?: string;
}

export interface UpdateWorkerQueueRequest {
  id?: string;
  name: string;
  isDefault: boolean;
  astroMachine?: string;
  nodePoolId?: string;
  minWorkerCount: number;
  maxWorkerCount: number;
  workerConcurrency: number;
  podEphemeralStorage?: string;
}

/** UpdateStandardDeploymentRequest and UpdateDedicatedDeploymentRequest (the same fields). */
export interface UpdateHostedDeploymentRequest {
  type: "STANDARD" | "DEDICATED";
  name: string;
  description?: string;
  workspaceId: string;
  executor: Executor;
  isCicdEnforced: boolean;
  isDagDeployEnabled: boolean;
  isHighAvailability: boolean;
  isDevelopmentMode?: boolean;
  schedulerSize: "SMALL" | "MEDIUM" | "LARGE" | "EXTRA_LARGE";
  environmentVariables: DeploymentEnvironmentVariableRequest[];
  workerQueues?: UpdateWorkerQueueRequest[];
  workloadIdentity?: string;
  contactEmails?: string[];
  defaultTaskPodCpu?: string;
  defaultTaskPodMemory?: string;
  resourceQuotaCpu?: string;
  resourceQuotaMemory?: string;
}

export interface UpdateHybridDeploymentRequest {
  type: "HYBRID";
  name: string;
  description?: string;
  workspaceId: string;
  executor: "CELERY" | "KUBERNETES";
  isCicdEnforced: boolean;
  isDagDeployEnabled: boolean;
  scheduler: { au: number; replicas: number };
  environmentVariables: DeploymentEnvironmentVariableRequest[];
  workerQueues?: UpdateWorkerQueueRequest[];
  workloadIdentity?: string;
  contactEmails?: string[];
}

export type UpdateDeploymentRequest = UpdateHostedDeploymentRequest | UpdateHybridDeploymentRequest;

export type ObjectType = "CONNECTION" | "ENVIRONMENT_VARIABLE" | "AIRFLOW_VARIABLE" | "METRICS_EXPORT";
export type Scope = "WORKSPACE" | "DEPLOYMENT";

export interface ConnectionFields {
  type?: string;
  host?: string;
  login?: string;
  password?: string;
  schema?: string;
  port?: number;
  /** A JSON object, not a JSON string. */
  extra?: Record<string, unknown>;
}

export interface LinkRequest {
  scope: "DEPLOYMENT";
  scopeEntityId: string;
  overrides?: { connection?: ConnectionFields; unsetFields?: string[] };
}

export interface ScopeRef {
  scope: "DEPLOYMENT";
  scopeEntityId: string;
}

export interface CreateEnvironmentObjectRequest {
  objectKey: string;
  objectType: ObjectType;
  scope: Scope;
  scopeEntityId: string;
  description?: string;
  connection?: ConnectionFields & { type: string };
  airflowVariable?: { value?: string; isSecret?: boolean };
  environmentVariable?: { value?: string; isSecret?: boolean };
  links?: LinkRequest[];
  excludeLinks?: ScopeRef[];
  autoLinkDeployments?: boolean;
}

export interface UpdateEnvironmentObjectRequest {
  description?: string;
  connection?: ConnectionFields & { type: string };
  airflowVariable?: { value?: string };
  environmentVariable?: { value?: string };
  links?: LinkRequest[];
  excludeLinks?: ScopeRef[];
  autoLinkDeployments?: boolean;
}

export interface EnvironmentObjectLink {
  scope: "DEPLOYMENT";
  scopeEntityId: string;
  connectionOverrides?: ConnectionFields;
  setFields: string[];
}

export interface EnvironmentObject {
  id?: string;
  objectKey: string;
  objectType: ObjectType;
  scope: Scope;
  scopeEntityId: string;
  sourceScope?: Scope;
  sourceScopeEntityId?: string;
  description?: string;
  connection?: ConnectionFields & { type: string };
  airflowVariable?: { value: string; isSecret: boolean };
  environmentVariable?: { value: string; isSecret: boolean };
  /** Dotted paths of the fields that have a value, secrets included (their values are masked). */
  setFields: string[];
  autoLinkDeployments?: boolean;
  links?: EnvironmentObjectLink[];
  excludeLinks?: ScopeRef[];
  createdAt?: string;
  updatedAt?: string;
  createdBy?: BasicSubjectProfile;
  updatedBy?: BasicSubjectProfile;
}

export interface EnvironmentObjectsPaginated {
  environmentObjects: EnvironmentObject[];
  limit: number;
  offset: number;
  totalCount: number;
}

export interface ListEnvironmentObjectsQuery {
  offset?: number;
  limit?: number;
  sorts?: string[];
  deploymentId?: string;
  workspaceId?: string;
  objectType?: ObjectType;
  objectKey?: string;
  showSecrets?: boolean;
  resolveLinked?: boolean;
}

/** The API's error body. */
export interface AstroErrorBody {
  message: string;
  requestId: string;
  statusCode: number;
  fieldErrors?: { field: string; code: string; message: string }[];
}

/** A non-2xx answer: Astro's error body, or Prism's problem+json (401 without a token, 422, 500 for a violation). */
export class AstroApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Headers,
  ) {
    super(`Astro API answered ${status}: ${JSON.stringify(body)}`);
  }
  /** The body as Astro's error body (for an answer of the fake). */
  get error(): AstroErrorBody {
    return this.body as AstroErrorBody;
  }
}

// ---------------------------------------------------------------------------------------------
// A small typed client over fetch (Astronomer publishes no Node client).

export type AstroClient = ReturnType<typeof astroClient>;

/**
 * `baseUrl` is the API base, e.g. https://api.astronomer.io/v1 or the sandbox's Prism (…/v1);
 * `token` is sent as a bearer token (`null`: no Authorization header at all).
 */
export function astroClient(baseUrl: string, token: string | null = SANDBOX_ASTRO_TOKEN) {
  const base = baseUrl.replace(/\/+$/, "");
  const enc = encodeURIComponent;

  async function call<T>(method: string, path: string, options: { query?: object; body?: unknown } = {}): Promise<T> {
    const search = new URLSearchParams();
    for (const [k, v] of Object.entries(options.query ?? {})) {
      if (v === undefined) continue;
      for (const item of Array.isArray(v) ? v : [v]) search.append(k, String(item));
    }
    const qs = search.toString();
    // Appended to the base, never resolved against it: a path starting with "/" would drop /v1.
    const res = await fetch(`${base}${path}${qs ? `?${qs}` : ""}`, {
      method,
      headers: {
        ...(token === null ? {} : { authorization: `Bearer ${token}` }),
        ...(options.body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
    const text = await res.text();
    const body: unknown = text ? JSON.parse(text) : undefined;
    if (!res.ok) throw new AstroApiError(res.status, body, res.headers);
    return body as T;
  }

  const deployment = (org: string, id: string) => `/organizations/${enc(org)}/deployments/${enc(id)}`;
  const objects = (org: string) => `/organizations/${enc(org)}/environment-objects`;
  return {
    getDeployment: (org: string, id: string) => call<Deployment>("GET", deployment(org, id)),
    updateDeployment: (org: string, id: string, body: UpdateDeploymentRequest) =>
      call<Deployment>("POST", deployment(org, id), { body }),
    listEnvironmentObjects: (org: string, query: ListEnvironmentObjectsQuery) =>
      call<EnvironmentObjectsPaginated>("GET", objects(org), { query }),
    createEnvironmentObject: (org: string, body: CreateEnvironmentObjectRequest) =>
      call<{ id: string }>("POST", objects(org), { body }),
    getEnvironmentObject: (org: string, id: string) => call<EnvironmentObject>("GET", `${objects(org)}/${enc(id)}`),
    updateEnvironmentObject: (org: string, id: string, body: UpdateEnvironmentObjectRequest) =>
      call<EnvironmentObject>("POST", `${objects(org)}/${enc(id)}`, { body }),
    deleteEnvironmentObject: (org: string, id: string) => call<void>("DELETE", `${objects(org)}/${enc(id)}`),
    /** Any request, for bodies the typed calls would not let through (misspelt fields...). */
    request: <T = unknown>(method: string, path: string, body?: unknown) => call<T>(method, path, { body }),
  };
}

/**
 * The UpdateDeployment body that keeps a Deployment as it is: every required field from a GET,
 * secret variables sent back without a value (so they keep theirs), no workloadIdentity (so the
 * current one stays; effectiveWorkloadIdentity must never be echoed into it).
 */
export function updateRequestFrom(d: Deployment): UpdateDeploymentRequest {
  // The provider's own builder: the fake's tests then prove, through Prism, the body it sends.
  return updateDeploymentBody(d as DeploymentRecord) as unknown as UpdateDeploymentRequest;
}

// ---------------------------------------------------------------------------------------------
// The fake's admin API (/_fake/...), which is not Astro's and so not behind Prism.

export interface FakeOrganization {
  id: string;
  name: string;
  shortName: string;
}

export interface FakeWorkspace {
  id: string;
  organizationId: string;
  name: string;
}

export interface SeedDeploymentOptions {
  /** Created when missing; a new Organization when left out. */
  organizationId?: string;
  /** Created when missing; a new Workspace when left out. */
  workspaceId?: string;
  id?: string;
  name?: string;
  type?: DeploymentType;
  cloudProvider?: CloudProvider;
  /** 2 or 3 (a current release of that major version), or a full version such as "2.9.3". */
  airflowVersion?: 2 | 3 | string;
  executor?: Executor;
  /** Generated like Astro's ("weightless-diameter-8927") when left out. */
  namespace?: string;
  region?: string;
  clusterId?: string;
  clusterName?: string;
  /** AWS: the data plane account of the default identity arn:aws:iam::<account>:role/astro-<namespace>. */
  dataplaneAccountId?: string;
  /** GCP: the data plane project of the default identity astro-<namespace>@<project>.iam.gserviceaccount.com. */
  dataplaneProjectId?: string;
  /** Replaces the computed default identity (none on Azure); `null` for none. */
  defaultWorkloadIdentity?: string | null;
  workloadIdentity?: string;
  /** GETs that still show the previous effectiveWorkloadIdentity after a change (default 2). */
  identityPropagationReads?: number;
  oidcIssuerUrl?: string;
  /** Points the Deployment's Airflow API somewhere real, e.g. the sandbox's Airflow. */
  webServerAirflowApiUrl?: string;
  isDevelopmentMode?: boolean;
  isHighAvailability?: boolean;
  environmentVariables?: { key: string; value: string; isSecret?: boolean }[];
}

/** The Deployment as the fake stores it: secret values, workloadIdentity and the actual effective identity. */
export interface FakeDeployment {
  id: string;
  organizationId: string;
  workspaceId: string;
  name: string;
  type: DeploymentType;
  cloudProvider: CloudProvider;
  namespace: string;
  airflowVersion: string;
  dataplaneAccountId: string;
  dataplaneProjectId: string;
  environmentVariables: { key: string; value: string; isSecret: boolean; updatedAt: string }[];
  workloadIdentity?: string;
  defaultWorkloadIdentity?: string;
  effectiveWorkloadIdentity?: string;
  identityPropagation?: { previous?: string; readsLeft: number };
  [field: string]: unknown;
}

/** The environment object as the fake stores it, secrets and all. */
export interface FakeEnvironmentObject extends Omit<EnvironmentObject, "setFields" | "links"> {
  id: string;
  organizationId: string;
  links: { scope: "DEPLOYMENT"; scopeEntityId: string; overrides?: ConnectionFields }[];
  excludeLinks: ScopeRef[];
}

export const seedOrganization = (fakeUrl: string, options: { id?: string; name?: string; shortName?: string } = {}) =>
  fakeAdmin<FakeOrganization>(fakeUrl, "POST", "organizations", options);

export const seedWorkspace = (fakeUrl: string, options: { organizationId?: string; id?: string; name?: string } = {}) =>
  fakeAdmin<FakeWorkspace>(fakeUrl, "POST", "workspaces", options);

/** A Deployment, and its Organization and Workspace when they do not exist yet. */
export const seedDeployment = (fakeUrl: string, options: SeedDeploymentOptions = {}) =>
  fakeAdmin<FakeDeployment>(fakeUrl, "POST", "deployments", options);

export const storedDeployment = (fakeUrl: string, id: string) =>
  fakeAdmin<FakeDeployment>(fakeUrl, "GET", `deployments/${encodeURIComponent(id)}`);

export const storedEnvironmentObject = (fakeUrl: string, id: string) =>
  fakeAdmin<FakeEnvironmentObject>(fakeUrl, "GET", `environment-objects/${encodeURIComponent(id)}`);

/** Stored environment objects, optionally only those of one Workspace or Deployment. */
export const storedEnvironmentObjects = (fakeUrl: string, scopeEntityId?: string) =>
  fakeAdmin<FakeEnvironmentObject[]>(
    fakeUrl,
    "GET",
    `environment-objects${scopeEntityId ? `?scopeEntityId=${encodeURIComponent(scopeEntityId)}` : ""}`,
  );

export type Operation =
  | "GetDeployment"
  | "UpdateDeployment"
  | "ListEnvironmentObjects"
  | "CreateEnvironmentObject"
  | "GetEnvironmentObject"
  | "UpdateEnvironmentObject"
  | "DeleteEnvironmentObject";

export interface CallFilter {
  operation?: Operation;
  organizationId?: string;
  deploymentId?: string;
  workspaceId?: string;
  environmentObjectId?: string;
}

/** Calls the fake received per operation (those Prism refused never reached it). */
export async function callCounts(fakeUrl: string, filter: CallFilter): Promise<Partial<Record<Operation, number>>> {
  const query = new URLSearchParams(filter as Record<string, string>).toString();
  return fakeAdmin(fakeUrl, "GET", `calls?${query}`);
}

export interface Fault {
  operation: Operation;
  /** "schema": the response breaks the contract; "status": an error status instead. */
  kind: "schema" | "status";
  /** For "status": e.g. 429 (with Retry-After), 500, 503. */
  status?: number;
  /** For "status": answer before the operation runs (default) or after it took effect. */
  when?: "before" | "after";
  count?: number;
  deploymentId?: string;
  environmentObjectId?: string;
}

export async function injectFault(fakeUrl: string, fault: Fault): Promise<void> {
  await fakeAdmin(fakeUrl, "POST", "faults", fault);
}

/** Tells the fake about a token: read-only (403 on writes), revoked (401) or bound to one Organization. */
export async function registerToken(
  fakeUrl: string,
  options: { token: string; readOnly?: boolean; revoked?: boolean; organizationId?: string; name?: string },
): Promise<void> {
  await fakeAdmin(fakeUrl, "POST", "tokens", options);
}

/** A token no other test uses. */
export const uniqueToken = (prefix = "token") => `${prefix}-${randomBytes(8).toString("hex")}`;

/** An object key no other test uses, valid as an Airflow connection id. */
export const uniqueKey = (prefix = "conn") => `${prefix}_${randomBytes(4).toString("hex")}`;
