import { AirflowConnectionsDriver, airflowSink } from "./connections/airflow";
import { AstroDeploymentSettings } from "./astro/deploymentSettings";
import { AstroEnvironmentConnections } from "./connections/astro";
import { ProviderMethods, ProviderSettings, createProvider } from "./core/provider";
import type { Drivers } from "./core/types";
import { GRANT_PLUGINS } from "./grants";
import { awsGrantDriver } from "./grants/aws";
import { AwsIamTrustDriver } from "./grants/aws/driver";
import { GcpIamPolicyDriver } from "./grants/gcp/driver";
import { AzureFederationDriver } from "./grants/azure/driver";
import { authorizationInputsSchema } from "./inputs";

export { createProvider, CONFIG_NAMESPACE } from "./core/provider";
export type { ProviderMethods, ProviderSettings } from "./core/provider";
export { planAuthorization, diffAuthorization } from "./core/plan";
export { parseInputs, authorizationInputsSchema } from "./inputs";
export type { AuthorizationInputs } from "./inputs";
export { UNKNOWN } from "./core/unknown";
export { AuthorizationLifecycle } from "./core/lifecycle";
export { AuthorizationError, type ErrorCode } from "./core/errors";
export type {
  AuthorizationState,
  PlannedAuthorization,
  ConnectionPayload,
  Drivers,
  GrantDriver,
  GrantPlugin,
  ConnectionDriver,
  ConnectionSink,
  ConnectionTarget,
  DeploymentSettings,
  DeploymentSettingsDriver,
} from "./core/types";
export { GRANT_PLUGINS } from "./grants";
export { AwsIamTrustDriver, GcpIamPolicyDriver, AzureFederationDriver };
export { AirflowConnectionsDriver, airflowSink } from "./connections/airflow";
export { AstroEnvironmentConnections } from "./connections/astro";
export { AstroDeploymentSettings, updateDeploymentBody } from "./astro/deploymentSettings";

/** The real drivers, from stack config (`deployment-authorization:*`) or the environment. */
export function realDrivers(settings: ProviderSettings, env: NodeJS.ProcessEnv = process.env): Drivers {
  const astroApiUrl = settings("astroApiUrl") ?? env.DEPLOYMENT_AUTHORIZATION_ASTRO_API_URL;
  const quota = Number(settings("awsTrustPolicySizeQuota") ?? env.AWS_TRUST_POLICY_SIZE_QUOTA ?? Number.NaN);
  return {
    grants: {
      aws: awsGrantDriver(
        new AwsIamTrustDriver(Number.isInteger(quota) && quota > 0 ? { policySizeQuota: quota } : {}),
      ),
      gcp: new GcpIamPolicyDriver({
        rootUrl: settings("gcpRootUrl") ?? env.DEPLOYMENT_AUTHORIZATION_GCP_ROOT_URL,
        accessToken: env.GOOGLE_OAUTH_ACCESS_TOKEN || undefined,
      }),
      azure: new AzureFederationDriver({
        endpoint: settings("azureEndpoint") ?? env.DEPLOYMENT_AUTHORIZATION_AZURE_ENDPOINT,
        accessToken: env.DEPLOYMENT_AUTHORIZATION_AZURE_ACCESS_TOKEN || undefined,
      }),
    },
    connections: {
      airflow: airflowSink(new AirflowConnectionsDriver()),
      astro: new AstroEnvironmentConnections({ baseUrl: astroApiUrl }),
    },
    deploymentSettings: new AstroDeploymentSettings({ baseUrl: astroApiUrl }),
  };
}

/** The provider the SDK's serialized stub loads with require(): one per provider process. */
export const provider: ProviderMethods = createProvider({
  plugins: GRANT_PLUGINS,
  schema: authorizationInputsSchema,
  makeDrivers: (settings) => realDrivers(settings),
});
