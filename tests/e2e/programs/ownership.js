// One Deployment's authorizations on AWS, GCP and Azure in one stack, with connections in one
// Airflow: for replacing them (a wrong Airflow URL, then the right one) and for two stacks that
// authorize the same Deployment (each with its own connection ids), in its Airflow or in Astro's
// Environment Manager.
/** @import { AirflowConnectionArgs } from "pulumi-deployment-authorization" */
const pulumi = require("@pulumi/pulumi");
const { DeploymentAuthorization } = require("pulumi-deployment-authorization");

const config = new pulumi.Config("own");
const suffix = config.require("suffix");
// With an Astro Deployment, the connections live in Astro's Environment Manager, scoped to it.
const astroDeploymentId = config.get("astroDeploymentId");
/** @type {(prefix: string) => AirflowConnectionArgs} */
const connection = (prefix) =>
  astroDeploymentId
    ? {
        connectionId: `${prefix}_${suffix}`,
        target: "astro",
        astro: { organizationId: config.require("astroOrganizationId"), deploymentId: astroDeploymentId },
      }
    : {
        connectionId: `${prefix}_${suffix}`,
        airflow: {
          url: config.require("airflowUrl"),
          auth: { kind: "password", username: config.require("airflowUsername") },
        },
      };

const aws = new DeploymentAuthorization("aws", {
  workloadIdentity: config.require("awsIdentity"),
  aws: { targetRole: config.require("awsRole"), region: "us-east-1" },
  connection: connection("aws"),
});
const gcp = new DeploymentAuthorization("gcp", {
  workloadIdentity: config.require("gcpIdentity"),
  gcp: { project: config.require("gcpProject"), grant: { kind: "projectRole", role: "roles/bigquery.dataViewer" } },
  connection: connection("gcp"),
});
const azure = new DeploymentAuthorization("azure", {
  azure: {
    identity: config.require("azureIdentity"),
    issuerUrl: config.require("azureIssuer"),
    namespace: config.require("azureNamespace"),
    roleAssignment: { scope: config.require("azureScope"), role: "Storage Blob Data Reader" },
  },
  connection: connection("azure"),
});
exports.grants = { aws: aws.grant, gcp: gcp.grant, azure: azure.grant };
