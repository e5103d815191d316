// One Astro Deployment, Astro's default workload identity (a Google service account), a role on one
// of your projects, and a Google Cloud connection to that project.
import * as pulumi from "@pulumi/pulumi";
import { DeploymentAuthorization } from "pulumi-deployment-authorization";

const config = new pulumi.Config();

const bigquery = new DeploymentAuthorization("bigquery", {
  // Astro UI → Deployment → Details → Workload Identity (Default Identity), such as
  // astro-celestial-galaxy-1234@astronomer-prod.iam.gserviceaccount.com
  workloadIdentity: config.require("workloadIdentity"),
  gcp: {
    // The project to grant the role on, and the connection's `project`. Default: stack config gcp:project.
    project: config.get("project"),
    // Only this member/role pair is added to the project's IAM policy; everything else stays as it is.
    grant: { kind: "projectRole", role: config.get("role") ?? "roles/bigquery.dataViewer" },
  },
  connection: {
    connectionId: config.get("connectionId") ?? "google_cloud_default",
    airflow: {
      // https://<org>.astronomer.run/<deployment>; the token comes from
      // `pulumi config set --secret deployment-authorization:airflowToken <Astro API token>`.
      url: config.require("airflowUrl"),
      auth: { kind: "token" },
    },
  },
});

export const binding = bigquery.grant.binding;
export const preExistingMembers = bigquery.grant.preExistingMembers;
export const connection = bigquery.connection;
