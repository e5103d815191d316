import type { GrantPlugin } from "../../core/types";
import { GcpGrant, GcpResolved, describeResource, gcpConnectionExtra, planGcpGrant, staleGcpGrant } from "./plan";

const BASIC_ROLES = new Set(["roles/owner", "roles/editor", "roles/viewer"]);
import { GcpInput, gcpInputSchema, refineGcpInput } from "./schema";

/** GCP: one member/role pair on a project's or a service account's IAM policy, and a Google Cloud connection. */
export const gcpPlugin: GrantPlugin<GcpInput, GcpGrant, GcpResolved> = {
  cloud: "gcp",
  schema: gcpInputSchema,
  reservedExtraKeys: [
    "project",
    "impersonation_chain",
    "extra__google_cloud_platform__project",
    "extra__google_cloud_platform__impersonation_chain",
  ],
  forbiddenExtraKeys:
    /^(extra__google_cloud_platform__)?(keyfile_dict|keyfile_json|key_path|keyfile|key_secret_name|key_secret_project_id)$/i,
  refine: refineGcpInput,
  plan: (input, common) => ({
    grant: planGcpGrant(input, common),
    connType: "google_cloud_platform",
    extra: gcpConnectionExtra(input),
  }),
  replaces: (old, next) => (old.resource === next.resource ? [] : ["grant.resource"]),
  stale: staleGcpGrant,
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

export type { GcpGrant, GcpResolved } from "./plan";
export type { GcpInput } from "./schema";
