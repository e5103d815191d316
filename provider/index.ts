import { AwsIamTrustDriver } from "./grants/aws/driver";
import { GcpIamPolicyDriver } from "./grants/gcp/driver";
import { AzureFederationDriver } from "./grants/azure/driver";

export { createProvider, CONFIG_NAMESPACE } from "./core/provider";
export type { InputParser, ProviderMethods, ProviderSettings } from "./core/provider";
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
  GrantPlanner,
  GrantPlugin,
  ConnectionDriver,
  ConnectionSink,
  ReadOptions,
  ConnectionTarget,
  DeploymentSettings,
  DeploymentSettingsDriver,
} from "./core/types";
export { GRANT_PLUGINS } from "./grants";
export { GRANT_PLANNERS } from "./grants/planners";
export { AwsIamTrustDriver, GcpIamPolicyDriver, AzureFederationDriver };
export { AirflowConnectionsDriver, airflowSink } from "./connections/airflow";
export { AstroEnvironmentConnections } from "./astro/environmentConnections";
export { AstroDeploymentSettings, updateDeploymentBody } from "./astro/deploymentSettingsDriver";

export { provider, realDrivers } from "./runtime";
