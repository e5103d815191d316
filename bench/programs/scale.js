// N authorizations spread over several clouds, as a platform team's stack would hold them: AWS
// Deployments over some roles, GCP project roles over some projects, Azure Deployments five to an
// identity (Entra's 20 credentials), all with connections in one Airflow.
const pulumi = require("@pulumi/pulumi");
const { DeploymentAuthorization } = require("pulumi-deployment-authorization");

const config = new pulumi.Config("scale");
const count = config.requireNumber("count");
const roles = config.requireObject("roles");
const projects = config.requireObject("projects");
const identities = config.requireObject("identities");
const airflow = {
  url: config.require("airflowUrl"),
  auth: { kind: "password", username: config.require("airflowUsername") },
};

const clouds = [
  (i, n) => ({
    workloadIdentity: `arn:aws:iam::111122223333:role/astro-scale-${i}`,
    aws: { targetRole: roles[n % roles.length], region: "us-east-1" },
  }),
  (i, n) => ({
    workloadIdentity: `astro-scale-${i}@astronomer-prod.iam.gserviceaccount.com`,
    gcp: { project: projects[n % projects.length], grant: { kind: "projectRole", role: "roles/bigquery.dataViewer" } },
  }),
  (i, n) => ({
    azure: {
      identity: identities[Math.floor(n / 5) % identities.length],
      issuerUrl: "https://westus2.oic.prod-aks.azure.com/scale/",
      namespace: `scale-ns${i}`,
    },
  }),
];

for (let i = 0; i < count; i++) {
  const cloud = i % clouds.length;
  new DeploymentAuthorization(`deployment-${i}`, {
    ...clouds[cloud](i, Math.floor(i / clouds.length)),
    connection: { connectionId: `scale_${i}`, airflow },
  });
}
exports.count = count;
