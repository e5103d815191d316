import { DEFAULT_SERVICE_ACCOUNTS, serviceAccountName } from "../../astro/naming";
import type { CommonInputs, ExtraValue } from "../../core/types";
import { UNKNOWN } from "../../core/unknown";
import { USER_MANAGED_SERVICE_ACCOUNT } from "./names";
import type { GcpInput } from "./schema";

/** Pure planning of the GCP grant: one member/role pair set on one resource's IAM policy. */

export type GcpMode = "projectRole" | "impersonation" | "customerManagedIdentity";

export const TOKEN_CREATOR = "roles/iam.serviceAccountTokenCreator";
export const WORKLOAD_IDENTITY_USER = "roles/iam.workloadIdentityUser";

/** The GCP grant as planned (and as state holds it). */
export interface GcpGrant {
  cloud: "gcp";
  mode: GcpMode;
  /** The IAM resource: `projects/<id>` or `projects/-/serviceAccounts/<email>`. */
  resource: string;
  role: string;
  /** The members this resource adds to the role's unconditional binding. */
  members: string[];
  /** Our members as they are (planned, or live after a refresh); null when none is live. */
  binding: { role: string; members: string[] } | null;
  /** Members that were there before become ours, removed when the resource goes (gcp.adoptExistingMembers). */
  adoptExistingMembers?: true;
}

/** What apply learned: members that were in the binding before this resource added them (never removed by us). */
export interface GcpResolved {
  [key: string]: unknown;
  preExistingMembers: string[];
}

export function projectResource(project: string): string {
  return `projects/${project}`;
}

export function serviceAccountResource(email: string): string {
  return `projects/-/serviceAccounts/${email}`;
}

/** `projects/-/serviceAccounts/x@p.iam…` or `projects/p`: which kind of resource it is, and its name. */
export function resourceKind(resource: string): "service account" | "project" {
  return resource.includes("/serviceAccounts/") ? "service account" : "project";
}

/** What a message calls the resource: "service account x@p.iam…" or "project p". */
export function describeResource(resource: string): string {
  const email = resource.match(/serviceAccounts\/(.+)$/)?.[1];
  return email ? `service account ${email}` : `project ${resource.replace(/^projects\//, "")}`;
}

/** The Kubernetes service accounts' members in the pool: `serviceAccount:<pool>[<ns>/<ksa>]`. */
function kubernetesMembers(grant: Extract<GcpInput["grant"], { kind: "customerManagedIdentity" }>): string[] {
  const { namespace, workloadIdentityPool: pool } = grant;
  if (namespace === UNKNOWN || pool === UNKNOWN) return [UNKNOWN];
  const names =
    grant.serviceAccountNames ??
    (grant.serviceAccounts ?? DEFAULT_SERVICE_ACCOUNTS).map((c) => serviceAccountName(namespace, c));
  if (names.includes(UNKNOWN)) return [UNKNOWN];
  return names.map((name) => `serviceAccount:${pool}[${namespace}/${name}]`);
}

export function planGcpGrant(input: GcpInput, common: CommonInputs): GcpGrant {
  const g = input.grant;
  const identity = common.workloadIdentity;
  const deployment = identity === undefined || identity === UNKNOWN ? UNKNOWN : `serviceAccount:${identity}`;
  const [resource, role, members]: [string, string, string[]] =
    g.kind === "projectRole"
      ? [input.project === UNKNOWN ? UNKNOWN : projectResource(input.project!), g.role, [deployment]]
      : g.kind === "impersonation"
        ? [
            g.serviceAccount === UNKNOWN ? UNKNOWN : serviceAccountResource(g.serviceAccount),
            TOKEN_CREATOR,
            [deployment],
          ]
        : [
            g.serviceAccount === UNKNOWN ? UNKNOWN : serviceAccountResource(g.serviceAccount),
            WORKLOAD_IDENTITY_USER,
            kubernetesMembers(g),
          ];
  return {
    cloud: "gcp",
    mode: g.kind,
    resource,
    role,
    members,
    binding: { role, members },
    // Present only when asked, so that plans (and state) of grants that never adopt stay as they were.
    ...(input.adoptExistingMembers ? { adoptExistingMembers: true as const } : {}),
  };
}

/**
 * The seeds' Google Cloud connection: the project, and for the service account kinds the
 * service account in `impersonation_chain` (apache-airflow-providers-google >= 10.8.0).
 */
export function gcpConnectionExtra(input: GcpInput): Record<string, ExtraValue> {
  const g = input.grant;
  if (g.kind === "projectRole") return { project: input.project! };
  const fromEmail =
    g.serviceAccount === UNKNOWN ? UNKNOWN : (g.serviceAccount.match(USER_MANAGED_SERVICE_ACCOUNT)?.[1] ?? UNKNOWN);
  return { project: input.project ?? fromEmail, impersonation_chain: g.serviceAccount };
}

/** Members of the old grant the new one no longer has, or all of them on another role. */
export function staleGcpGrant(old: GcpGrant, next: GcpGrant): GcpGrant | undefined {
  if (old.resource !== next.resource || old.role !== next.role) return old;
  const kept = new Set(next.members);
  const stale = old.members.filter((m) => !kept.has(m));
  return stale.length > 0 ? { ...old, members: stale, binding: { role: old.role, members: stale } } : undefined;
}

/**
 * Which of the grant's members were there before this resource: present when first applied and not
 * ours from an earlier apply. Those stay when the resource goes.
 */
export function preExisting(
  grant: GcpGrant,
  presentBefore: readonly string[],
  previous?: { grant: GcpGrant; resolved: GcpResolved },
): string[] {
  if (grant.adoptExistingMembers) return [];
  const sameBinding =
    previous !== undefined && previous.grant.resource === grant.resource && previous.grant.role === grant.role;
  const earlier = sameBinding ? (previous.resolved.preExistingMembers ?? []) : [];
  const ours = new Set(sameBinding ? previous.grant.members.filter((m) => !earlier.includes(m)) : []);
  // One gone since (someone, or another resource, removed it) is put back by this apply: ours from now on.
  return grant.members.filter((m) => presentBefore.includes(m) && (earlier.includes(m) || !ours.has(m)));
}
