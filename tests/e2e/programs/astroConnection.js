// An AWS grant whose connection lives in Astro's Environment Manager, scoped to the Deployment.
const pulumi = require("@pulumi/pulumi");
const { DeploymentAuthorization } = require("pulumi-deployment-authorization");

const config = new pulumi.Config("astroe2e");

const auth = new DeploymentAuthorization("lake", {
  workloadIdentity: config.require("workloadIdentity"),
  aws: { targetRole: config.require("targetRole"), region: "us-east-1" },
  connection: {
    connectionId: "aws_lake",
    target: "astro",
    astro: { organizationId: config.require("organizationId"), deploymentId: config.require("deploymentId") },
  },
});

exports.grant = auth.grant;
exports.connection = auth.connection;
