// Authorizations spread over a few roles and Airflows, each chosen by index, so that a run can be
// interrupted and repeated, or one stack can hold a different subset from one `up` to the next.
//   interrupted:prefix      names the identities and connection ids (unique per test run)
//   interrupted:indices     JSON list of the authorizations to declare (e.g. [0,1,2,...])
//   interrupted:roles       JSON list of role ARNs: authorization i trusts on roles[i % length]
//   interrupted:airflows    JSON list of Airflow base URLs: authorization i writes to airflows[i % length]
const pulumi = require("@pulumi/pulumi");
const { DeploymentAuthorization } = require("pulumi-deployment-authorization");

const config = new pulumi.Config("interrupted");
const prefix = config.require("prefix");
const indices = config.requireObject("indices");
const roles = config.requireObject("roles");
const airflows = config.requireObject("airflows");
const username = config.require("airflowUsername");

for (const i of indices) {
  new DeploymentAuthorization(`deployment-${i}`, {
    workloadIdentity: `arn:aws:iam::111122223333:role/astro-${prefix}-${i}`,
    aws: { targetRole: roles[i % roles.length], region: "us-east-1" },
    connection: {
      connectionId: `${prefix}_${i}`.replace(/-/g, "_"),
      airflow: { url: airflows[i % airflows.length], auth: { kind: "password", username } },
    },
  });
}
exports.count = indices.length;
