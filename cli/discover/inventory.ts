import { ASTRO_API_URL, AstroApi, getDeployment } from "../../provider/astro/api";
import { AirflowConnectionsDriver } from "../../provider/connections/airflow";
import type { CloudDiscoverer } from "../../provider/core/discovery";
import type { ConnectionTarget } from "../../provider/core/types";
import { cloudModules } from "../../provider/grants";
import { remoteSettings } from "../../provider/runtime";
import type { DeploymentRef, Inventory } from "./match";
import type { AirflowAuth } from "./program";

/** Where to look: the targets that hold grants, and the Deployments whose grants to look for. */
export interface DiscoverTargets {
  /** The targets that hold grants, by the option that named them (`aws-role`, `gcp-project`, ...). */
  clouds: Record<string, string[]>;
  deployments: DeploymentRef[];
  astroDeployments: Array<{ organizationId: string; deploymentId: string }>;
  airflowAuth: AirflowAuth;
}

/**
 * Reads every target and Airflow once, through the provider's own drivers and credentials (the
 * same environment variables and endpoints `pulumi up` uses), and changes nothing.
 */
export async function readInventory(
  targets: DiscoverTargets,
  discoverers: ReadonlyMap<string, CloudDiscoverer>,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Inventory> {
  const clouds = cloudModules().filter((c) => discoverers.has(c.cloud));
  // The connection types a grant of this package can be used by.
  const connectionTypes = clouds.flatMap((c) => c.discovery?.connTypes ?? []);
  const remotes = remoteSettings(() => undefined, env, clouds);
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

  const [live, connections] = await Promise.all([
    Promise.all(clouds.map((c) => discoverers.get(c.cloud)!.read(targets.clouds, remotes.clouds[c.cloud]))),
    Promise.all(urls.map(async (url) => [url, await airflow.list(targetOf(url), connectionTypes)] as const)),
  ]);
  return {
    deployments,
    connections: Object.fromEntries(
      connections.map(([url, list]) => [url, list.map((c) => ({ ...c, description: c.description ?? null }))]),
    ),
    clouds: Object.fromEntries(clouds.map((c, i) => [c.cloud, live[i]!])),
  };
}
