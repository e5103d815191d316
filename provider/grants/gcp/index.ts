import type { GrantPlugin } from "../../core/types";
import { GcpGrant, GcpResolved, gcpConnectionExtra, planGcpGrant } from "./plan";
import { gcpPlanner } from "./planner";
import { GcpInput, SECRET_GCP_EXTRA_KEYS, gcpInputSchema, refineGcpInput } from "./schema";

/** GCP: one member/role pair on a project's or a service account's IAM policy, and a Google Cloud connection. */
export const gcpPlugin: GrantPlugin<GcpInput, GcpGrant, GcpResolved> = {
  ...gcpPlanner,
  schema: gcpInputSchema,
  reservedExtraKeys: [
    "project",
    "impersonation_chain",
    "extra__google_cloud_platform__project",
    "extra__google_cloud_platform__impersonation_chain",
  ],
  secretExtraKeys: SECRET_GCP_EXTRA_KEYS,
  refine: refineGcpInput,
  plan: (input, common) => ({
    grant: planGcpGrant(input, common),
    connType: "google_cloud_platform",
    extra: gcpConnectionExtra(input),
  }),
};

export { gcpPlanner } from "./planner";
export type { GcpGrant, GcpResolved } from "./plan";
export type { GcpInput } from "./schema";
