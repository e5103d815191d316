// N authorizations on one role, as a portal or a platform stack would declare them.
const pulumi = require("@pulumi/pulumi");
const { DeploymentAuthorization } = require("pulumi-deployment-authorization");

const config = new pulumi.Config("many");
const count = config.requireNumber("count");
const stack = pulumi.getStack();

const grants = [];
for (let i = 0; i < count; i++) {
  const auth = new DeploymentAuthorization(`deployment-${i}`, {
    workloadIdentity: `arn:aws:iam::111122223333:role/astro-${stack}-${i}`,
    aws: { targetRole: config.require("targetRole"), region: "us-east-1" },
    connection: {
      connectionId: `aws_${stack}_${i}`.replace(/-/g, "_"),
      airflow: {
        url: config.require("airflowUrl"),
        auth: { kind: "password", username: config.require("airflowUsername") },
      },
    },
  });
  grants.push(auth.grant.statementId);
}
exports.count = grants.length;
