// The GCP tab of the guide, end to end: the Deployment's default identity may impersonate your
// service account (Token Creator on it), its connection names the impersonation chain, and its
// secrets backend is Secret Manager reached through the same chain.
import * as pulumi from "@pulumi/pulumi";
import { DeploymentAuthorization } from "pulumi-deployment-authorization";

const config = new pulumi.Config();

const warehouse = new DeploymentAuthorization("warehouse", {
  // The Deployment's default workload identity is read from it: no workloadIdentity to copy.
  deployment: {
    organizationId: config.require("organizationId"),
    deploymentId: config.require("deploymentId"),
    secretsBackend: { kwargs: { project_id: config.get("secretsProject") ?? config.require("project") } },
  },
  gcp: {
    project: config.require("project"),
    grant: { kind: "impersonation", serviceAccount: config.require("serviceAccount") },
  },
  // Default target: the Deployment's Airflow API, whose URL and version are read from the Deployment.
  connection: { connectionId: config.get("connectionId") ?? "google_cloud_default" },
});

export const binding = warehouse.grant.binding;
export const connectionUrl = warehouse.connection.url;
