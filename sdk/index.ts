export { DeploymentAuthorization } from "./deploymentAuthorization";
export type {
  DeploymentAuthorizationArgs,
  AwsGrantArgs,
  GcpGrantArgs,
  AirflowConnectionArgs,
  AirflowApiArgs,
  AirflowTokenAuth,
  AirflowPasswordAuth,
  RoleLike,
  ExtraValue,
  GrantOutput,
  AwsGrantOutput,
  GcpGrantOutput,
  ConnectionOutput,
  TrustStatement,
  AwsTrust,
  DeploymentRoleTrust,
  ClusterRoleTrust,
  WebIdentityTrust,
  ServiceAccountComponent,
  GcpGrant,
  GcpProjectRoleGrant,
  GcpImpersonationGrant,
  GcpCustomerManagedIdentityGrant,
  Inputs,
} from "./args";
export { AuthorizationError, type ErrorCode } from "../provider/core/errors";
export { providerModuleId } from "./providerStub";
