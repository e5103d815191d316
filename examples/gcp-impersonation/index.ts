// Astro's default workload identity may impersonate a service account of yours: it gets Service
// Account Token Creator on that service account, and the connection names it in `impersonation_chain`.
import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import { DeploymentAuthorization } from "pulumi-deployment-authorization";

const config = new pulumi.Config();

// The service account the Deployment acts as: one you already have, or one made here with the
// permissions the Deployment needs (the gcp provider's project: stack config gcp:project).
function customerServiceAccount(): pulumi.Input<string> {
  const existing = config.get("serviceAccount");
  if (existing) return existing;
  const account = new gcp.serviceaccount.Account("airflow-etl", {
    accountId: config.get("serviceAccountId") ?? "airflow-etl",
    displayName: "Airflow on Astro (impersonated)",
  });
  // Non-authoritative, like DeploymentAuthorization: other members of the role are left alone.
  new gcp.projects.IAMMember("airflow-etl-role", {
    project: account.project,
    role: config.get("role") ?? "roles/bigquery.dataViewer",
    member: account.member,
  });
  return account.email;
}

const etl = new DeploymentAuthorization("etl", {
  // Astro UI → Deployment → Details → Workload Identity (Default Identity): a service account e-mail.
  workloadIdentity: config.require("workloadIdentity"),
  gcp: {
    // The connection's `project`. Default: the service account's project, read from its e-mail.
    project: config.get("project"),
    grant: { kind: "impersonation", serviceAccount: customerServiceAccount() },
  },
  connection: {
    // Needs apache-airflow-providers-google >= 10.8.0 in the Deployment (impersonation_chain).
    connectionId: config.get("connectionId") ?? "google_cloud_default",
    airflow: { url: config.require("airflowUrl"), auth: { kind: "token" } },
  },
});

export const serviceAccountIamBinding = etl.grant.binding;
export const connection = etl.connection;
