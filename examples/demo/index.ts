// The demo program behind the root Pulumi.yaml: one DeploymentAuthorization, configured by stack
// config so the same program runs against the local sandbox (npm run demo) and the e2e tests.
import * as pulumi from "@pulumi/pulumi";
import { DeploymentAuthorization } from "pulumi-deployment-authorization";

const config = new pulumi.Config("demo");

const authorization = new DeploymentAuthorization("s3-reader", {
  workloadIdentity: config.require("workloadIdentity"),
  aws: { targetRole: config.require("targetRole") },
  connection: {
    connectionId: config.get("connectionId") ?? "aws_data_lake",
    description: config.get("description"),
    airflow: {
      url: config.require("airflowUrl"),
      // The password comes from the stack config deployment-authorization:airflowPassword (secret).
      auth: { kind: "password", username: config.require("airflowUsername") },
    },
  },
});

export const grant = authorization.grant;
export const connection = authorization.connection;
