// One Deployment's authorization through its cluster's role: the role trusts the cluster role
// (shared by every Deployment on the cluster), and the connection lives in the Deployment's own
// Airflow. Two stacks with different Airflows share the trust entry.
const pulumi = require("@pulumi/pulumi");
const { DeploymentAuthorization } = require("pulumi-deployment-authorization");

const config = new pulumi.Config("cluster");
const logs = new DeploymentAuthorization("logs", {
  aws: {
    targetRole: config.require("role"),
    region: "us-east-1",
    trust: { kind: "clusterRole", clusterRoleArn: config.require("clusterRole") },
  },
  connection: {
    connectionId: config.require("connectionId"),
    airflow: {
      url: config.require("airflowUrl"),
      auth: { kind: "password", username: config.require("airflowUsername") },
    },
  },
});
exports.grant = logs.grant;
