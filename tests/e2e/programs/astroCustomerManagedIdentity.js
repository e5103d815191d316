// Only the organization and the Deployment are named: the role becomes the Deployment's own
// identity, its secrets backend points at Secrets Manager, and the connection lives in Astro.
const pulumi = require("@pulumi/pulumi");
const { DeploymentAuthorization } = require("pulumi-deployment-authorization");

const config = new pulumi.Config("astroe2e");

const auth = new DeploymentAuthorization("lake", {
  deployment: {
    organizationId: config.require("organizationId"),
    deploymentId: config.require("deploymentId"),
    customerManagedIdentity: true,
    secretsBackend: true,
  },
  aws: { targetRole: config.require("targetRole"), region: "us-east-1", trust: { kind: "webIdentity" } },
  connection: { connectionId: "aws_lake", target: "astro" },
});

exports.deployment = auth.deployment;
exports.grant = auth.grant;
exports.connection = auth.connection;
