import type { CloudInputs } from "../../core/types";
import { GcpGrant, gcpConnectionExtra, planGcpGrant } from "./plan";
import { GcpInput, SECRET_GCP_EXTRA_KEYS, gcpInputSchema, refineGcpInput } from "./schema";

/** GCP's inputs: a project or a service account and a role, planned as binding members and a Google Cloud connection. */
export const gcpInputs: CloudInputs<GcpInput, GcpGrant> = {
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
