import { AwsIamTrustDriver } from "./grants/aws/driver";
import { GcpIamPolicyDriver } from "./grants/gcp/driver";
import { AzureFederationDriver } from "./grants/azure/driver";

export { createProvider, CONFIG_NAMESPACE } from "./core/provider";
export type { InputParser, ProviderMethods, ProviderSettings } from "./core/provider";
export { planAuthorization, diffAuthorization } from "./core/plan";
export { parseInputs, authorizationInputsSchema, loadInputParser, GRANT_PLUGINS } from "./inputs";
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
  GrantOutputs,
  CloudInputs,
  ConnectionDriver,
  ConnectionSink,
  ReadOptions,
  ConnectionTarget,
  DeploymentSettings,
  DeploymentSettingsDriver,
} from "./core/types";
export { BUILT_IN_CLOUDS, GRANT_PLANNERS, cloudModules, registerCloud } from "./grants";
export { pluginOf } from "./core/cloud";
export type { CloudModule, DriverTuning, ProgramContext, ProgramRules } from "./core/cloud";
export { AwsIamTrustDriver, GcpIamPolicyDriver, AzureFederationDriver };
export { AirflowConnectionsDriver, airflowSink } from "./connections/airflow";
export { AstroEnvironmentConnections } from "./astro/environmentConnections";
export { AstroDeploymentSettings, updateDeploymentBody } from "./astro/deploymentSettingsDriver";

export { provider, realDrivers } from "./runtime";
