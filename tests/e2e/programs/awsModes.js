// Every AWS trust mode of release 0.1.0, written only with inputs 0.1.0 already took, so the same
// program runs before and after an upgrade. Copied into the stack's folder so that it loads the
// package installed there, not the repository's own.
/** @import { AirflowApiArgs, AirflowConnectionArgs, DeploymentAuthorizationArgs } from "pulumi-deployment-authorization" */
const pulumi = require("@pulumi/pulumi");
const { DeploymentAuthorization } = require("pulumi-deployment-authorization");

const config = new pulumi.Config("modes");
const role = config.require("targetRole");
const oidcRole = config.require("oidcRole");
const suffix = config.get("descriptionSuffix") ?? "";
/** @type {(name: string) => AirflowApiArgs} */
const airflow = (name) => {
  /** @type {{ url: string, username: string }} */
  const server = config.requireObject(name);
  return {
    url: server.url,
    auth: { kind: "password", username: server.username, password: config.requireSecret(`${name}Password`) },
  };
};
/** @type {(id: string, server: string) => AirflowConnectionArgs} */
const connection = (id, server) => ({
  connectionId: `${config.require("prefix")}_${id}`,
  description: `${id}${suffix}`,
  airflow: airflow(server),
});

const issuerUrl = "https://oidc.eks.us-east-1.amazonaws.com/id/UPGRADE0123456789";
/** @type {Record<string, DeploymentAuthorizationArgs>} */
const modes = {
  "deployment-role": {
    workloadIdentity: "arn:aws:iam::111122223333:role/astro-upgrade-a",
    aws: { targetRole: role, region: "us-east-1" },
    connection: connection("deployment_role", "airflow3"),
  },
  "deployment-role-shared": {
    workloadIdentity: "arn:aws:iam::111122223333:role/astro-upgrade-b",
    aws: { targetRole: role, region: "eu-central-1" },
    connection: { ...connection("shared", "airflow2"), extra: { verify: false } },
  },
  "cluster-role-arn": {
    aws: {
      targetRole: role,
      region: "us-east-1",
      trust: { kind: "clusterRole", clusterRoleArn: "arn:aws:iam::111122223333:role/AirflowS3Logs-clupgrade1" },
    },
    connection: connection("cluster_arn", "airflow3"),
  },
  "cluster-role-id": {
    aws: {
      targetRole: role,
      region: "us-east-1",
      trust: { kind: "clusterRole", dataPlaneAccountId: "111122223333", clusterId: "clupgrade2" },
    },
    connection: connection("cluster_id", "airflow3"),
  },
  "web-identity": {
    aws: {
      targetRole: oidcRole,
      region: "us-east-1",
      trust: { kind: "webIdentity", issuerUrl, namespace: "astronomer-upgrade-1234", serviceAccounts: ["worker"] },
    },
    connection: connection("web_identity", "airflow3"),
  },
  "web-identity-names": {
    aws: {
      targetRole: oidcRole,
      region: "us-east-1",
      trust: {
        kind: "webIdentity",
        issuerUrl,
        namespace: "astronomer-upgrade-5678",
        serviceAccountNames: ["etl-runner"],
        connectionAssumesRole: true,
      },
    },
    connection: connection("web_identity_names", "airflow2"),
  },
  "namespace-wide": {
    aws: {
      targetRole: oidcRole,
      region: "us-east-1",
      trust: { kind: "webIdentity", issuerUrl, namespace: "astronomer-upgrade-9999", namespaceWide: true },
    },
    connection: connection("namespace_wide", "airflow3"),
  },
};

for (const [name, args] of Object.entries(modes)) {
  const authorization = new DeploymentAuthorization(name, args);
  Object.assign(exports, { [name.replace(/-(\w)/g, (_, c) => c.toUpperCase())]: authorization.grant });
}
