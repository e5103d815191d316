// N authorizations spread over several clouds, as a platform team's stack would hold them: AWS
// Deployments over some roles, GCP project roles over some projects, Azure Deployments five to an
// identity (Entra's 20 credentials), all with connections in one Airflow.
/** @import { AirflowApiArgs, DeploymentAuthorizationArgs } from "pulumi-deployment-authorization" */
const pulumi = require("@pulumi/pulumi");
const { DeploymentAuthorization } = require("pulumi-deployment-authorization");

const config = new pulumi.Config("scale");
const count = config.requireNumber("count");
/** @type {string[]} */
const roles = config.requireObject("roles");
/** @type {string[]} */
const projects = config.requireObject("projects");
/** @type {string[]} */
const identities = config.requireObject("identities");
/** @type {AirflowApiArgs} */
const airflow = {
  url: config.require("airflowUrl"),
  auth: { kind: "password", username: config.require("airflowUsername") },
};

/**
 * The `k`th of `list`, round and round.
 * @type {<T>(list: T[], k: number) => T}
 */
const nth = (list, k) => {
  const item = list[k % list.length];
  if (item === undefined) throw new Error("scale: roles, projects and identities each need at least one entry");
  return item;
};
/** @type {(i: number) => DeploymentAuthorizationArgs["connection"]} */
const connection = (i) => ({ connectionId: `scale_${i}`, airflow });

/** @type {Array<(i: number, n: number) => DeploymentAuthorizationArgs>} */
const clouds = [
  (i, n) => ({
    workloadIdentity: `arn:aws:iam::111122223333:role/astro-scale-${i}`,
    aws: { targetRole: nth(roles, n), region: "us-east-1" },
    connection: connection(i),
  }),
  (i, n) => ({
    workloadIdentity: `astro-scale-${i}@astronomer-prod.iam.gserviceaccount.com`,
    gcp: { project: nth(projects, n), grant: { kind: "projectRole", role: "roles/bigquery.dataViewer" } },
    connection: connection(i),
  }),
  (i, n) => ({
    azure: {
      identity: nth(identities, Math.floor(n / 5)),
      issuerUrl: "https://westus2.oic.prod-aks.azure.com/scale/",
      namespace: `scale-ns${i}`,
    },
    connection: connection(i),
  }),
];

for (let i = 0; i < count; i++) {
  new DeploymentAuthorization(`deployment-${i}`, nth(clouds, i)(i, Math.floor(i / clouds.length)));
}
exports.count = count;
