// Customer-managed identity: a service account of yours becomes the Deployment's identity. Its IAM
// policy lets the Deployment's Kubernetes service accounts act as it (Workload Identity User), which
// is what the gcloud command shown by the Astro UI does. The namespace exists only once the Deployment
// does, so it may come from whatever creates the Deployment (here, a stack reference), in one `pulumi up`.
import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import { DeploymentAuthorization, type ServiceAccountComponent } from "pulumi-deployment-authorization";

const config = new pulumi.Config();
// Optional: a stack that creates the Astro Deployment and exports its namespace and airflowUrl.
const astroStack = config.get("astroStack");
const astro = astroStack ? new pulumi.StackReference(astroStack) : undefined;

/** A value from this stack's config, else an output of the Deployment's stack. */
function setting(key: string): pulumi.Input<string> {
  const own = config.get(key);
  if (own !== undefined) return own;
  return astro ? (astro.requireOutput(key) as pulumi.Output<string>) : config.require(key);
}

// The service account the Deployment will run as, and what it may do (gcp provider's project: gcp:project).
const identity = new gcp.serviceaccount.Account("airflow-identity", {
  accountId: config.get("serviceAccountId") ?? "airflow-identity",
  displayName: "Airflow on Astro (customer-managed identity)",
});
new gcp.projects.IAMMember("airflow-identity-role", {
  project: identity.project,
  role: config.get("role") ?? "roles/bigquery.dataViewer",
  member: identity.member,
});

const warehouse = new DeploymentAuthorization("warehouse", {
  // No workloadIdentity: the Deployment's Kubernetes service accounts are the members.
  gcp: {
    grant: {
      kind: "customerManagedIdentity",
      serviceAccount: identity.email,
      // The Astro cluster's workload identity pool, <cluster project>.svc.id.goog.
      workloadIdentityPool: config.require("workloadIdentityPool"),
      namespace: setting("namespace"),
      // Default: scheduler, worker, triggerer, dag-processor and kpo service accounts.
      serviceAccounts: config.getObject<ServiceAccountComponent[]>("serviceAccounts"),
    },
  },
  connection: {
    connectionId: config.get("connectionId") ?? "google_cloud_default",
    airflow: { url: setting("airflowUrl"), auth: { kind: "token" } },
  },
});

// Set this as the Deployment's Customer Managed Identity in Astro (Details → Advanced → Workload Identity).
export const serviceAccount = identity.email;
export const members = warehouse.grant.members;
export const connection = warehouse.connection;
