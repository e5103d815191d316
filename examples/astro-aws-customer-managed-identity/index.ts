// Only the organization and the Deployment are named. The component reads the Deployment (its
// namespace and its cluster's OIDC issuer), so the role's trust names its exact Kubernetes service
// accounts; the role then becomes the Deployment's own workload identity, its secrets backend is
// AWS Secrets Manager, and the connection lives in Astro's Environment Manager.
import * as pulumi from "@pulumi/pulumi";
import { DeploymentAuthorization } from "pulumi-deployment-authorization";

const config = new pulumi.Config();

const lake = new DeploymentAuthorization("lake", {
  deployment: {
    organizationId: config.require("organizationId"),
    deploymentId: config.require("deploymentId"),
    // UpdateDeployment sets workloadIdentity to the role; everything else on the Deployment is kept.
    // On destroy the role stays the Deployment's identity unless restoreOnDelete asks otherwise.
    customerManagedIdentity: { restoreOnDelete: config.getBoolean("restoreIdentityOnDelete") ?? false },
    // AIRFLOW__SECRETS__BACKEND and AIRFLOW__SECRETS__BACKEND_KWARGS, and no other variable.
    secretsBackend: { kwargs: { connections_prefix: config.get("connectionsPrefix") ?? "airflow/connections" } },
  },
  aws: {
    // A role ARN: the IAM OIDC provider of the Deployment's cluster is made in that account when missing.
    targetRole: config.require("targetRoleArn"),
    region: config.get("region") ?? "us-east-1",
    trust: { kind: "webIdentity" },
  },
  connection: { connectionId: config.get("connectionId") ?? "aws_default", target: "astro" },
});

export const deployment = lake.deployment;
export const trusted = lake.grant.trusted;
export const connectionUrl = lake.connection.url;
