import { cloudresourcemanager, type cloudresourcemanager_v3 } from "@googleapis/cloudresourcemanager";
import { iam, type iam_v1 } from "@googleapis/iam";
import { OAuth2Client } from "google-auth-library";
import { randomBytes } from "node:crypto";
import { IamPolicy, principalCount as providerPrincipalCount } from "../../provider/grants/gcp/policy";
import { fakeAdmin } from "./fakeAdmin";

export { fakeAdmin };

/** The access token the sandbox's gcp server takes (any non-empty bearer token passes). */
export const SANDBOX_GCP_TOKEN = "sandbox-gcp-token";

export type Policy = cloudresourcemanager_v3.Schema$Policy;
export type Binding = cloudresourcemanager_v3.Schema$Binding;

export interface GcpClients {
  crm: cloudresourcemanager_v3.Cloudresourcemanager;
  iam: iam_v1.Iam;
}

/** The official clients, pointed at `rootUrl` (the sandbox's Prism, so every call is validated). */
export function gcpClients(rootUrl: string, token = SANDBOX_GCP_TOKEN): GcpClients {
  const auth = new OAuth2Client();
  auth.setCredentials({ access_token: token });
  const root = rootUrl.endsWith("/") ? rootUrl : `${rootUrl}/`;
  return {
    crm: cloudresourcemanager({ version: "v3", rootUrl: root, auth }),
    iam: iam({ version: "v1", rootUrl: root, auth }),
  };
}

/** A project id that is valid for Google (6-30 characters) and unique per call. */
export function uniqueProjectId(prefix = "proj"): string {
  return `${prefix}-${randomBytes(4).toString("hex")}`;
}

/** `<name>@<project>.iam.gserviceaccount.com` with a unique name. */
export function uniqueServiceAccountEmail(projectId: string, prefix = "sa"): string {
  return `${prefix}-${randomBytes(4).toString("hex")}@${projectId}.iam.gserviceaccount.com`;
}

export interface FakeProject {
  projectId: string;
  projectNumber: string;
  policy: Policy;
  labels: Record<string, string>;
  etag: string;
}

export async function createProject(
  fakeUrl: string,
  options: { projectId?: string; projectNumber?: string; policy?: Policy; labels?: Record<string, string> } = {},
): Promise<FakeProject> {
  return fakeAdmin(fakeUrl, "POST", "projects", { projectId: uniqueProjectId(), ...options });
}

export type FakeServiceAccount = iam_v1.Schema$ServiceAccount & { email: string; policy: Policy };

/** A service account, and its project when that does not exist yet. */
export async function createServiceAccount(
  fakeUrl: string,
  options: { email?: string; projectId?: string; policy?: Policy; displayName?: string } = {},
): Promise<FakeServiceAccount> {
  const { projectId = uniqueProjectId(), email = uniqueServiceAccountEmail(projectId), ...rest } = options;
  return fakeAdmin(fakeUrl, "POST", "serviceAccounts", { email, ...rest });
}

export async function deleteProject(fakeUrl: string, projectId: string): Promise<void> {
  await fakeAdmin(fakeUrl, "DELETE", `projects/${encodeURIComponent(projectId)}`);
}

export async function deleteServiceAccount(fakeUrl: string, email: string): Promise<void> {
  await fakeAdmin(fakeUrl, "DELETE", `serviceAccounts/${encodeURIComponent(email)}`);
}

type Target = { project: string } | { serviceAccount: string };
const query = (target: Target) => new URLSearchParams(target as Record<string, string>).toString();

/** The policy as stored, at its own version (no formatting for a requested version). */
export async function storedPolicy(fakeUrl: string, target: Target): Promise<Policy> {
  return fakeAdmin(fakeUrl, "GET", `policy?${query(target)}`);
}

/** A project's labels and etag, as stored. */
export async function storedLabels(
  fakeUrl: string,
  projectId: string,
): Promise<{ labels: Record<string, string>; etag: string }> {
  const { labels, etag } = await fakeAdmin<FakeProject>(fakeUrl, "GET", `projects/${encodeURIComponent(projectId)}`);
  return { labels, etag };
}

/** Calls received per method (e.g. `projects.setIamPolicy`) for one project or service account. */
export async function callCounts(fakeUrl: string, target: Target): Promise<Record<string, number>> {
  return fakeAdmin(fakeUrl, "GET", `calls?${query(target)}`);
}

/**
 * Makes the next `count` responses of `method` for `target` break Google's schema ("schema"), lets
 * another writer change the policy (after `projects.get`, the labels) right after each of them
 * ("concurrentWrite"), or answers them as Google answers a caller without the method's permission
 * ("forbidden": 403 PERMISSION_DENIED naming it).
 */
export async function injectFault(
  fakeUrl: string,
  method: string,
  target: Target,
  count = 1,
  kind: "schema" | "concurrentWrite" | "forbidden" = "schema",
): Promise<void> {
  await fakeAdmin(fakeUrl, "POST", "faults", { method, count, kind, ...target });
}

/**
 * The principals in a policy, by the provider's count: the contract tests that use it against the
 * fake check that the provider and the fake agree on Google's rule.
 */
export function principalCount(policy: Policy): number {
  return providerPrincipalCount(policy as IamPolicy);
}

/**
 * A project policy that someone else wrote, with a binding of every shape: plain, several
 * members, conditional (so version 3), a custom role, the same role with and without a
 * condition, and audit configs. Anything that rewrites a project policy must keep all of it.
 */
export function foreignProjectPolicy(): Policy {
  return {
    version: 3,
    bindings: [
      { role: "roles/viewer", members: ["user:auditor@example.com"] },
      {
        role: "roles/storage.objectViewer",
        members: [
          "group:data-readers@example.com",
          "serviceAccount:etl@other-project.iam.gserviceaccount.com",
          "domain:example.com",
          "principalSet://iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/ci/attribute.repository/example/app",
        ],
      },
      {
        role: "roles/bigquery.dataViewer",
        members: ["user:contractor@example.com"],
        condition: {
          title: "until 2030",
          description: "Temporary access for the contract",
          expression: 'request.time < timestamp("2030-01-01T00:00:00Z")',
        },
      },
      { role: "roles/iam.serviceAccountUser", members: ["user:ops@example.com"] },
      {
        role: "roles/iam.serviceAccountUser",
        members: ["group:oncall@example.com"],
        condition: { title: "office hours", expression: 'request.time.getHours("Europe/Berlin") >= 9' },
      },
      {
        role: "organizations/123456789012/roles/auditReader",
        members: ["deleted:user:left@example.com?uid=123456789"],
      },
    ],
    auditConfigs: [
      {
        service: "allServices",
        auditLogConfigs: [
          { logType: "DATA_READ", exemptedMembers: ["user:auditor@example.com"] },
          { logType: "ADMIN_READ" },
        ],
      },
    ],
  };
}

/** A service-account policy that someone else wrote: a plain and a conditional binding. */
export function foreignServiceAccountPolicy(): Policy {
  return {
    version: 3,
    bindings: [
      { role: "roles/iam.serviceAccountTokenCreator", members: ["user:ops@example.com", "group:oncall@example.com"] },
      {
        role: "roles/iam.workloadIdentityUser",
        members: [
          "principal://iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/ci/subject/deploy",
        ],
        condition: { title: "not after 2030", expression: 'request.time < timestamp("2030-01-01T00:00:00Z")' },
      },
    ],
  };
}
