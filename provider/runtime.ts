/* eslint-disable @typescript-eslint/no-require-imports */
import { ProviderMethods, ProviderSettings, createProvider } from "./core/provider";
import type { SharedPolicyOptions } from "./core/policyStore";
import type { ConnectionSink, ConnectionTargets, DeploymentSettingsDriver, Drivers, GrantDriver } from "./core/types";
import { GRANT_PLANNERS } from "./grants/planners";

/**
 * The provider the serialized stub in state loads: one per provider process. A cloud's SDK is
 * loaded when a resource first needs that cloud, so a stack on one cloud does not wait for the
 * others' clients to load (a few hundred milliseconds before the first check); the schemas (zod)
 * are loaded by the first `check`, so a refresh or a destroy does without them.
 */
export const provider: ProviderMethods = createProvider({
  planners: GRANT_PLANNERS,
  loadParser: () => (require("./inputs") as typeof import("./inputs")).parseInputs,
  makeDrivers: (settings) => realDrivers(settings),
});

/**
 * Retries, backoff and timeouts of every remote call, for all drivers at once. The defaults suit
 * production; a test that injects faults makes them small so that retries take milliseconds.
 */
export interface DriverTuning {
  /** Tries for one remote call, the first included. */
  attempts?: number;
  baseDelayMs?: number;
  /** How long one remote call may take before it is abandoned (and retried). */
  timeoutMs?: number;
  sleep?: (ms: number) => Promise<void>;
  /** Read-back and batching of shared policy documents (IAM trust policies, Google IAM policies). */
  policy?: SharedPolicyOptions;
}

/** The drivers' modules, each loaded when a resource first needs it. */
export interface DriverModules {
  aws(): typeof import("./grants/aws/planner") & typeof import("./grants/aws/driver");
  gcp(): typeof import("./grants/gcp/driver");
  azure(): typeof import("./grants/azure/driver");
  airflow(): typeof import("./connections/airflow");
  astro(): typeof import("./astro/environmentConnections");
  deploymentSettings(): typeof import("./astro/deploymentSettingsDriver");
}

const requiredModules: DriverModules = {
  aws: () => ({
    ...(require("./grants/aws/planner") as typeof import("./grants/aws/planner")),
    ...(require("./grants/aws/driver") as typeof import("./grants/aws/driver")),
  }),
  gcp: () => require("./grants/gcp/driver") as typeof import("./grants/gcp/driver"),
  azure: () => require("./grants/azure/driver") as typeof import("./grants/azure/driver"),
  airflow: () => require("./connections/airflow") as typeof import("./connections/airflow"),
  astro: () => require("./astro/environmentConnections") as typeof import("./astro/environmentConnections"),
  deploymentSettings: () =>
    require("./astro/deploymentSettingsDriver") as typeof import("./astro/deploymentSettingsDriver"),
};

/**
 * The real drivers, from stack config (`deployment-authorization:*`) or the environment, each made
 * on first use. `modules` lets a test runner that cannot `require` TypeScript hand them over.
 */
export function realDrivers(
  settings: ProviderSettings,
  env: NodeJS.ProcessEnv = process.env,
  tuning: DriverTuning = {},
  modules: DriverModules = requiredModules,
): Drivers {
  const { policy, ...calls } = tuning;
  const remotes = remoteSettings(settings, env);
  const astroApiUrl = remotes.astroApiUrl;
  const grants = lazy<Record<string, GrantDriver>>({
    aws: () => {
      const { awsGrantDriver, AwsIamTrustDriver } = modules.aws();
      return awsGrantDriver(
        new AwsIamTrustDriver({
          ...policy,
          ...calls,
          ...(remotes.awsPolicySizeQuota !== undefined ? { policySizeQuota: remotes.awsPolicySizeQuota } : {}),
        }),
      ) as GrantDriver;
    },
    gcp: () => {
      const { GcpIamPolicyDriver } = modules.gcp();
      return new GcpIamPolicyDriver({
        ...policy,
        ...calls,
        ...remotes.gcp,
      }) as GrantDriver;
    },
    azure: () => {
      const { AzureFederationDriver } = modules.azure();
      return new AzureFederationDriver({
        baseDelayMs: calls.baseDelayMs,
        sleep: calls.sleep,
        callAttempts: calls.attempts,
        callRetryDelayMs: calls.baseDelayMs,
        timeoutMs: calls.timeoutMs,
        ...remotes.azure,
      }) as GrantDriver;
    },
  });
  const connections = lazy<{ [K in keyof ConnectionTargets]?: ConnectionSink<ConnectionTargets[K]> }>({
    airflow: () => {
      const { AirflowConnectionsDriver, airflowSink } = modules.airflow();
      return airflowSink(new AirflowConnectionsDriver(calls));
    },
    astro: () => {
      const { AstroEnvironmentConnections } = modules.astro();
      return new AstroEnvironmentConnections({ ...calls, baseUrl: astroApiUrl });
    },
  });
  let settingsDriver: DeploymentSettingsDriver | undefined;
  return {
    grants,
    connections,
    get deploymentSettings() {
      const { AstroDeploymentSettings } = modules.deploymentSettings();
      return (settingsDriver ??= new AstroDeploymentSettings({ ...calls, baseUrl: astroApiUrl }));
    },
  };
}

/**
 * Where each remote is and the credentials the environment holds for it, from stack config
 * (`deployment-authorization:*`) or the environment: what the provider's drivers are made with, and
 * what tools that read the same remotes (discover) use.
 */
export function remoteSettings(settings: ProviderSettings, env: NodeJS.ProcessEnv = process.env) {
  const quota = Number(settings("awsTrustPolicySizeQuota") ?? env.AWS_TRUST_POLICY_SIZE_QUOTA ?? Number.NaN);
  return {
    astroApiUrl: settings("astroApiUrl") ?? env.DEPLOYMENT_AUTHORIZATION_ASTRO_API_URL,
    awsPolicySizeQuota: Number.isInteger(quota) && quota > 0 ? quota : undefined,
    gcp: {
      rootUrl: settings("gcpRootUrl") ?? env.DEPLOYMENT_AUTHORIZATION_GCP_ROOT_URL,
      accessToken: env.GOOGLE_OAUTH_ACCESS_TOKEN || undefined,
    },
    azure: {
      endpoint: settings("azureEndpoint") ?? env.DEPLOYMENT_AUTHORIZATION_AZURE_ENDPOINT,
      accessToken: env.DEPLOYMENT_AUTHORIZATION_AZURE_ACCESS_TOKEN || undefined,
    },
  };
}

/** An object whose values are made by their factories when first read, then kept. */
function lazy<T extends object>(factories: { [K in keyof T]-?: () => NonNullable<T[K]> }): T {
  const made: Partial<T> = {};
  const object = {} as T;
  for (const key of Object.keys(factories) as Array<keyof T>) {
    Object.defineProperty(object, key, {
      enumerable: true,
      get: () => (made[key] ??= factories[key]()),
    });
  }
  return object;
}
