// Customer-managed identity: your role trusts the Deployment's Kubernetes service accounts through
// the cluster's OIDC provider. The namespace exists only once the Deployment does, so it is taken as
// an output of whatever creates the Deployment (here, a stack reference), in the same `pulumi up`.
import * as pulumi from "@pulumi/pulumi";
import { DeploymentAuthorization } from "pulumi-deployment-authorization";

const config = new pulumi.Config();
// A stack that creates the Astro Deployment and exports its namespace and OIDC issuer URL.
const astro = new pulumi.StackReference(config.require("astroStack"));

const etl = new DeploymentAuthorization("etl", {
  aws: {
    targetRole: config.require("targetRoleArn"),
    region: config.get("region") ?? "us-east-1",
    trust: {
      kind: "webIdentity",
      issuerUrl: astro.requireOutput("oidcIssuerUrl") as pulumi.Output<string>,
      namespace: astro.requireOutput("namespace") as pulumi.Output<string>,
      // Default: scheduler, worker, triggerer, dag-processor and kpo service accounts.
      serviceAccounts: ["worker", "triggerer", "kpo"],
    },
  },
  connection: {
    connectionId: "aws_etl",
    airflow: { url: astro.requireOutput("airflowUrl") as pulumi.Output<string>, auth: { kind: "token" } },
  },
});

export const trusted = etl.grant.trusted;
export const oidcProviderCreated = etl.grant.oidcProviderCreated;
