import type { GrantPlanner } from "../../core/types";
import { UNKNOWN } from "../../core/unknown";
import { GcpGrant, GcpResolved, describeResource, resourceKind, staleGcpGrant } from "./plan";

const BASIC_ROLES = new Set(["roles/owner", "roles/editor", "roles/viewer"]);

function claimKey(grant: GcpGrant, member: string): string {
  return `gcp ${grant.resource} ${grant.role} ${member}`;
}

/** GCP once planned: the binding's id and review, and what an update leaves behind. */
export const gcpPlanner: GrantPlanner<GcpGrant, GcpResolved> = {
  cloud: "gcp",
  replaces(old, next) {
    if (old.resource === next.resource) return [];
    const [was, will] = [resourceInput(old), resourceInput(next)];
    // From a project to a service account (or back): the kind changed, and it names the new policy.
    return was === will ? [will] : ["gcp.grant.kind", will];
  },
  stale: staleGcpGrant,
  claims: (grant) => grant.members.map((member) => claimKey(grant, member)),
  withoutClaims(grant, kept) {
    const members = grant.members.filter((member) => !kept.has(claimKey(grant, member)));
    if (members.length === 0) return undefined;
    if (members.length === grant.members.length) return grant;
    const live = grant.binding ? grant.binding.members.filter((m) => members.includes(m)) : null;
    return { ...grant, members, binding: live && { role: grant.role, members: live } };
  },
  foundGranted: (grant, resolved) => (resolved.preExistingMembers ?? []).map((member) => claimKey(grant, member)),
  shareClaimed: (grant, resolved, claimed) => ({
    ...resolved,
    preExistingMembers: (resolved.preExistingMembers ?? []).filter((member) => !claimed.has(claimKey(grant, member))),
  }),
  idOf: (grant) => `${grant.resource}/${grant.role}`,
  extraForApply: (extra) => extra,
  extraInPlanTerms: (_key, live) => live,
  summarize(grant) {
    const risks = BASIC_ROLES.has(grant.role)
      ? [`${grant.role} is a basic role: it grants nearly everything in ${describeResource(grant.resource)}`]
      : [];
    return {
      target: `${describeResource(grant.resource)}, role ${grant.role}`,
      entries: (grant.binding?.members ?? []).map((m) => `${m} has ${grant.role}`),
      risks,
    };
  },
  deploymentSettings: {
    customerManagedIdentity: (grant) =>
      grant.mode === "customerManagedIdentity"
        ? { ok: true, value: grant.resource.replace(/^projects\/-\/serviceAccounts\//, "") }
        : {
            ok: false,
            reason:
              'needs gcp.grant.kind "customerManagedIdentity": the Deployment can run as a service account only when ' +
              "its Kubernetes service accounts may act as it (Workload Identity User), which is the grant that kind writes",
          },
    // As the guide's GCP tab: Secret Manager in the connection's project, through the impersonation chain.
    secretsBackend: (extra) => ({
      ok: true,
      value: {
        backend: "airflow.providers.google.cloud.secrets.secret_manager.CloudSecretManagerBackend",
        kwargs: {
          connections_prefix: "airflow-connections",
          variables_prefix: "airflow-variables",
          project_id: extra.project ?? null,
          ...("impersonation_chain" in extra ? { impersonation_chain: extra.impersonation_chain! } : {}),
        },
      },
    }),
    reservedKwargs: ["impersonation_chain"],
  },
};

/** The input that names the IAM policy the grant lives on: the project, or the service account. */
function resourceInput(grant: GcpGrant): "gcp.project" | "gcp.grant.serviceAccount" {
  const kind =
    grant.resource === UNKNOWN
      ? grant.mode === "projectRole"
        ? "project"
        : "service account"
      : resourceKind(grant.resource);
  return kind === "project" ? "gcp.project" : "gcp.grant.serviceAccount";
}
