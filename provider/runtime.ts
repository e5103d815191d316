/* eslint-disable @typescript-eslint/no-require-imports */
import { ProviderMethods, ProviderSettings, createProvider } from "./core/provider";
import type { ConnectionSink, ConnectionTargets, DeploymentSettingsDriver, Drivers, GrantDriver } from "./core/types";
import { GRANT_PLUGINS } from "./grants";
import { authorizationInputsSchema } from "./inputs";

/**
 * The provider the serialized stub in state loads: one per provider process. A cloud's SDK is
 * loaded when a resource first needs that cloud, so a stack on one cloud does not wait for the
 * others' clients to load (a few hundred milliseconds before the first check).
 */
export const provider: ProviderMethods = createProvider({
  plugins: GRANT_PLUGINS,
  schema: authorizationInputsSchema,
  makeDrivers: (settings) => realDrivers(settings),
});

/** The real drivers, from stack config (`deployment-authorization:*`) or the environment, each made on first use. */
export function realDrivers(settings: ProviderSettings, env: NodeJS.ProcessEnv = process.env): Drivers {
  const astroApiUrl = settings("astroApiUrl") ?? env.DEPLOYMENT_AUTHORIZATION_ASTRO_API_URL;
  const quota = Number(settings("awsTrustPolicySizeQuota") ?? env.AWS_TRUST_POLICY_SIZE_QUOTA ?? Number.NaN);
  const grants = lazy<Record<string, GrantDriver>>({
    aws: () => {
      const { awsGrantDriver } = require("./grants/aws") as typeof import("./grants/aws");
      const { AwsIamTrustDriver } = require("./grants/aws/driver") as typeof import("./grants/aws/driver");
      return awsGrantDriver(
        new AwsIamTrustDriver(Number.isInteger(quota) && quota > 0 ? { policySizeQuota: quota } : {}),
      ) as GrantDriver;
    },
    gcp: () => {
      const { GcpIamPolicyDriver } = require("./grants/gcp/driver") as typeof import("./grants/gcp/driver");
      return new GcpIamPolicyDriver({
        rootUrl: settings("gcpRootUrl") ?? env.DEPLOYMENT_AUTHORIZATION_GCP_ROOT_URL,
        accessToken: env.GOOGLE_OAUTH_ACCESS_TOKEN || undefined,
      }) as GrantDriver;
    },
    azure: () => {
      const { AzureFederationDriver } = require("./grants/azure/driver") as typeof import("./grants/azure/driver");
      return new AzureFederationDriver({
        endpoint: settings("azureEndpoint") ?? env.DEPLOYMENT_AUTHORIZATION_AZURE_ENDPOINT,
        accessToken: env.DEPLOYMENT_AUTHORIZATION_AZURE_ACCESS_TOKEN || undefined,
      }) as GrantDriver;
    },
  });
  const connections = lazy<{ [K in keyof ConnectionTargets]?: ConnectionSink<ConnectionTargets[K]> }>({
    airflow: () => {
      const { AirflowConnectionsDriver, airflowSink } =
        require("./connections/airflow") as typeof import("./connections/airflow");
      return airflowSink(new AirflowConnectionsDriver());
    },
    astro: () => {
      const { AstroEnvironmentConnections } = require("./connections/astro") as typeof import("./connections/astro");
      return new AstroEnvironmentConnections({ baseUrl: astroApiUrl });
    },
  });
  let settingsDriver: DeploymentSettingsDriver | undefined;
  return {
    grants,
    connections,
    get deploymentSettings() {
      const { AstroDeploymentSettings } =
        require("./astro/deploymentSettings") as typeof import("./astro/deploymentSettings");
      return (settingsDriver ??= new AstroDeploymentSettings({ baseUrl: astroApiUrl }));
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
