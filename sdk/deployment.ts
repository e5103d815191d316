import * as pulumi from "@pulumi/pulumi";
import { ASTRO_API_URL, AstroApi, DeploymentFacts, getDeployment } from "../provider/astro/api";
import { ASTRO_ID } from "../provider/astro/naming";
import { cloudModules } from "../provider/grants";
import type { DeploymentArgs, DeploymentAuthorizationArgs } from "./args";

/** The Astro Platform API the provider talks to (stack config, environment, or Astronomer's). */
export function astroApiUrl(): string {
  return (
    new pulumi.Config("deployment-authorization").get("astroApiUrl") ??
    process.env.DEPLOYMENT_AUTHORIZATION_ASTRO_API_URL ??
    ASTRO_API_URL
  ).replace(/\/+$/, "");
}

/** What was read, or why nothing could be: `check` reports that at `deployment`, before any other call. */
export type DeploymentLookup = Partial<DeploymentFacts> & { lookupError?: string };

/**
 * Reads the Deployment while the program runs (preview included), so the plan shows the exact
 * grant. The token is a secret; what is read is not, and stays readable in the preview. A failed
 * read is not thrown here (an exception in an apply stalls the program): it goes to `check`.
 */
export function lookupDeployment(args: DeploymentArgs): pulumi.Output<DeploymentLookup> {
  const token =
    args.token ?? new pulumi.Config("deployment-authorization").getSecret("astroToken") ?? process.env.ASTRO_API_TOKEN;
  const facts = pulumi
    .all([args.organizationId, args.deploymentId, token])
    .apply(async ([organizationId, deploymentId, t]): Promise<DeploymentLookup> => {
      // Ids that cannot be Astro's are not sent: check names them at deployment.<field>.
      if (!ASTRO_ID.test(String(organizationId)) || !ASTRO_ID.test(String(deploymentId))) {
        return { organizationId, deploymentId };
      }
      try {
        return await getDeployment(new AstroApi({ baseUrl: astroApiUrl() }), t, organizationId, deploymentId);
      } catch (error) {
        return { organizationId, deploymentId, lookupError: error instanceof Error ? error.message : String(error) };
      }
    });
  return pulumi.unsecret(facts);
}

type Mutable = Record<string, unknown>;

/** The arguments with what the Deployment tells filled in where the program left it out. */
export function withDeploymentFacts(
  args: DeploymentAuthorizationArgs,
  facts: pulumi.Output<DeploymentLookup>,
): DeploymentAuthorizationArgs {
  const fact = <K extends keyof DeploymentFacts>(key: K) => facts.apply((f) => f[key] as DeploymentFacts[K]);
  const fromDeployment = (given: object | undefined, keys: ReadonlyArray<"issuerUrl" | "namespace">) => {
    const out: Mutable = { ...given };
    for (const key of keys) out[key] ??= fact(key === "issuerUrl" ? "oidcIssuerUrl" : "namespace");
    return out;
  };
  let workloadIdentityNeeded = false;
  const filled = { ...args } as Mutable;
  for (const cloud of cloudModules()) {
    const given = filled[cloud.cloud] as Mutable | undefined;
    if (!given) continue;
    const rules = cloud.program.withDeploymentFacts(given, fromDeployment);
    filled[cloud.cloud] = rules.args;
    workloadIdentityNeeded = rules.needsWorkloadIdentity;
  }
  if (workloadIdentityNeeded) filled.workloadIdentity = args.workloadIdentity ?? fact("workloadIdentity");

  const connection = { ...args.connection };
  if ((connection.target ?? "airflow") === "airflow" && !connection.airflow) {
    // A Deployment that names no Airflow API leaves the URL empty: check then names connection.airflow.url.
    connection.airflow = {
      url: facts.apply((f) => f.airflowUrl ?? ""),
      apiVersion: facts.apply((f) => f.apiVersion ?? "v2"),
      auth: { kind: "token" },
    };
  }
  if (connection.target === "astro") {
    const astro = connection.astro ?? {};
    const deployment = args.deployment!;
    connection.astro = {
      ...astro,
      organizationId: astro.organizationId ?? deployment.organizationId,
      ...(astro.workspaceId === undefined ? { deploymentId: astro.deploymentId ?? deployment.deploymentId } : {}),
    };
  }
  filled.connection = connection;
  return filled as unknown as DeploymentAuthorizationArgs;
}

/** What `check` learns of the Deployment: which it is, its cloud, a failed read, and what of it to own. */
export function deploymentInput(facts: pulumi.Output<DeploymentLookup>, args: DeploymentArgs) {
  return facts.apply((f) => ({
    organizationId: f.organizationId,
    deploymentId: f.deploymentId,
    ...(f.cloudProvider ? { cloudProvider: f.cloudProvider } : {}),
    ...(f.lookupError ? { lookupError: f.lookupError } : {}),
    ...(args.customerManagedIdentity !== undefined ? { customerManagedIdentity: args.customerManagedIdentity } : {}),
    ...(args.secretsBackend !== undefined ? { secretsBackend: args.secretsBackend } : {}),
  }));
}
