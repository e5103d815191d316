// One Astro Deployment, Astro's default workload identity, one of your IAM roles.
import * as pulumi from "@pulumi/pulumi";
import { DeploymentAuthorization } from "pulumi-deployment-authorization";

const config = new pulumi.Config();

const analytics = new DeploymentAuthorization("analytics", {
  // Astro UI → Deployment → Details → Workload Identity
  workloadIdentity: config.require("workloadIdentity"),
  aws: {
    // The role your Deployment should act as; it must exist. Only one statement is added to it.
    targetRole: config.require("targetRoleArn"),
    region: config.get("region") ?? "us-east-1",
  },
  connection: {
    connectionId: config.get("connectionId") ?? "aws_default",
    airflow: {
      // https://<org>.astronomer.run/<deployment>; the token comes from
      // `pulumi config set --secret deployment-authorization:airflowToken <Astro API token>`.
      url: config.require("airflowUrl"),
      auth: { kind: "token" },
    },
  },
});

export const trustStatement = analytics.grant.statement;
export const connection = analytics.connection;
