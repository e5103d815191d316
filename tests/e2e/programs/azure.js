// N Deployments federated with one Azure managed identity, each with the identity's role assignment.
const pulumi = require("@pulumi/pulumi");
const { DeploymentAuthorization } = require("pulumi-deployment-authorization");

const config = new pulumi.Config("aze2e");
const count = config.getNumber("count") ?? 1;
const first = config.getNumber("first") ?? 0;
const stack = pulumi.getStack();
const scope = config.get("scope");
// One identity, or a list to spread over: at most five Deployments fit on one (20 credentials).
const identities = config.getObject("identities") ?? [config.require("identity")];

const grants = [];
const connections = [];
for (let i = first; i < first + count; i++) {
  const auth = new DeploymentAuthorization(`deployment-${i}`, {
    azure: {
      identity: identities[i % identities.length],
      issuerUrl: config.require("issuerUrl"),
      namespace: `${stack}-ns${i}`,
      ...(scope ? { roleAssignment: { scope, role: config.get("role") ?? "Storage Blob Data Reader" } } : {}),
      ...(config.getBoolean("adoptExistingCredentials") ? { adoptExistingCredentials: true } : {}),
    },
    connection: {
      connectionId: `azure_${stack}_${i}`.replace(/-/g, "_"),
      airflow: {
        url: config.require("airflowUrl"),
        auth: { kind: "password", username: config.require("airflowUsername") },
      },
    },
  });
  grants.push(auth.grant);
  connections.push(auth.connection);
}
exports.grants = grants;
exports.connections = connections;
