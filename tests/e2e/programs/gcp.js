// N authorizations in Google Cloud, of one kind, on one project or service account.
/** @import { GcpGrant } from "pulumi-deployment-authorization" */
const pulumi = require("@pulumi/pulumi");
const { DeploymentAuthorization } = require("pulumi-deployment-authorization");

const config = new pulumi.Config("gcpe2e");
const count = config.getNumber("count") ?? 1;
// Unchecked here: the provider is the one to judge it.
const kind = /** @type {GcpGrant["kind"]} */ (config.require("kind"));
const stack = pulumi.getStack();

/**
 * @param {number} i
 * @returns {GcpGrant}
 */
function grant(i) {
  if (kind === "projectRole") return { kind, role: config.require("role") };
  if (kind === "impersonation") return { kind, serviceAccount: config.require("serviceAccount") };
  return {
    kind,
    serviceAccount: config.require("serviceAccount"),
    workloadIdentityPool: config.require("workloadIdentityPool"),
    namespace: `${stack}-ns${i}`,
    serviceAccounts: ["worker", "scheduler"],
  };
}

const grants = [];
for (let i = 0; i < count; i++) {
  const auth = new DeploymentAuthorization(`deployment-${i}`, {
    ...(kind === "customerManagedIdentity"
      ? {}
      : { workloadIdentity: `astro-${stack}-${i}@astronomer-prod.iam.gserviceaccount.com` }),
    gcp: { project: config.get("project"), grant: grant(i) },
    connection: {
      connectionId: `google_cloud_${stack}_${i}`.replace(/-/g, "_"),
      airflow: {
        url: config.require("airflowUrl"),
        auth: { kind: "password", username: config.require("airflowUsername") },
      },
    },
  });
  grants.push(auth.grant);
}
exports.grants = grants;
