// One role shared by many Deployments: each resource owns one entry of the packed principal list.
import * as pulumi from "@pulumi/pulumi";
import { DeploymentAuthorization } from "pulumi-deployment-authorization";

const config = new pulumi.Config();
const targetRole = config.require("targetRoleArn");
// deployments: [{ "name": "marketing", "workloadIdentity": "arn:aws:iam::…:role/astro-…", "airflowUrl": "https://…" }, …]
const deployments =
  config.requireObject<Array<{ name: string; workloadIdentity: string; airflowUrl: string }>>("deployments");

export const statementIds = deployments.map(
  (d) =>
    new DeploymentAuthorization(d.name, {
      workloadIdentity: d.workloadIdentity,
      aws: { targetRole, region: "us-east-1" },
      connection: { connectionId: "aws_data_lake", airflow: { url: d.airflowUrl, auth: { kind: "token" } } },
    }).grant.statementId,
);
