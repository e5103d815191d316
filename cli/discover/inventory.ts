import { ASTRO_API_URL, AstroApi, getDeployment } from "../../provider/astro/api";
import { AirflowConnectionsDriver } from "../../provider/connections/airflow";
import type { ConnectionTarget } from "../../provider/core/types";
import { AwsIamTrustDriver } from "../../provider/grants/aws/driver";
import { AzureFederationDriver } from "../../provider/grants/azure/driver";
import { GcpIamPolicyDriver } from "../../provider/grants/gcp/driver";
import { projectResource, serviceAccountResource } from "../../provider/grants/gcp/plan";
import { remoteSettings } from "../../provider/runtime";
import type { AzureRemote } from "../../provider/grants/azure";
import type { GcpRemote } from "../../provider/grants/gcp";
import type { DeploymentRef, Inventory } from "./match";
import type { AirflowAuth } from "./program";

/** Where to look: the targets that hold grants, and the Deployments whose grants to look for. */
export interface DiscoverTargets {
  awsRoles: string[];
  gcpProjects: string[];
  gcpServiceAccounts: string[];
  azureIdentities: string[];
  deployments: DeploymentRef[];
  astroDeployments: Array<{ organizationId: string; deploymentId: string }>;
  airflowAuth: AirflowAuth;
}

/** The connection types a grant of this package can be used by. */
const CONNECTION_TYPES = ["aws", "google_cloud_platform", "azure"];

/**
 * Reads every target and Airflow once, through the provider's own drivers and credentials (the
 * same environment variables and endpoints `pulumi up` uses), and changes nothing.
 */
export async function readInventory(
  targets: DiscoverTargets,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Inventory> {
  const remotes = remoteSettings(() => undefined, env);
  const astro = new AstroApi({ baseUrl: remotes.astroApiUrl ?? ASTRO_API_URL });
  const fromAstro = await Promise.all(
    targets.astroDeployments.map(async ({ organizationId, deploymentId }): Promise<DeploymentRef> => {
      const facts = await getDeployment(astro, env.ASTRO_API_TOKEN, organizationId, deploymentId);
      return {
        name: deploymentId,
        identity: facts.workloadIdentity,
        namespace: facts.namespace,
        oidcIssuerUrl: facts.oidcIssuerUrl,
        airflowUrl: facts.airflowUrl,
        astro: { organizationId, deploymentId },
      };
    }),
  );
  const deployments = [...targets.deployments, ...fromAstro];

  const aws = targets.awsRoles.length > 0 ? new AwsIamTrustDriver() : undefined;
  const gcp =
    targets.gcpProjects.length + targets.gcpServiceAccounts.length > 0
      ? new GcpIamPolicyDriver(remotes.clouds.gcp as GcpRemote)
      : undefined;
  const azure =
    targets.azureIdentities.length > 0 ? new AzureFederationDriver(remotes.clouds.azure as AzureRemote) : undefined;
  const airflow = new AirflowConnectionsDriver();
  const urls = [...new Set(deployments.map((d) => d.airflowUrl).filter((u): u is string => u !== undefined))];
  const airflowTarget = (url: string): ConnectionTarget => ({
    url,
    apiVersion: "detect",
    auth: targets.airflowAuth,
    credentials: {
      token: targets.airflowAuth.kind === "token" ? env.AIRFLOW_API_TOKEN : undefined,
      password: targets.airflowAuth.kind === "password" ? env.AIRFLOW_API_PASSWORD : undefined,
    },
  });
  // Astro Deployments' Airflows take the Astro token.
  const astroUrls = new Set(fromAstro.map((d) => d.airflowUrl));
  const targetOf = (url: string): ConnectionTarget =>
    astroUrls.has(url)
      ? { url, apiVersion: "detect", auth: { kind: "token" }, credentials: { token: env.ASTRO_API_TOKEN } }
      : airflowTarget(url);

  const [awsRoles, gcpPolicies, azureIdentities, connections] = await Promise.all([
    Promise.all(targets.awsRoles.map((role) => aws!.trustPolicy(role))),
    Promise.all(
      [...targets.gcpProjects.map(projectResource), ...targets.gcpServiceAccounts.map(serviceAccountResource)].map(
        async (resource) => ({ resource, policy: await gcp!.policy(resource) }),
      ),
    ),
    Promise.all(targets.azureIdentities.map(async (id) => ({ id, ...(await azure!.inspect(id)) }))),
    Promise.all(urls.map(async (url) => [url, await airflow.list(targetOf(url), CONNECTION_TYPES)] as const)),
  ]);
  return {
    deployments,
    connections: Object.fromEntries(
      connections.map(([url, list]) => [url, list.map((c) => ({ ...c, description: c.description ?? null }))]),
    ),
    awsRoles,
    gcpPolicies,
    azureIdentities,
  };
}
