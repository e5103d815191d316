export {
  DeploymentAuthorization,
  type DeploymentAuthorizationArgs,
  type AwsGrantArgs,
  type AirflowConnectionArgs,
  type AirflowApiArgs,
  type AirflowTokenAuth,
  type AirflowPasswordAuth,
  type RoleLike,
  type ExtraValue,
  type GrantOutput,
  type ConnectionOutput,
  type TrustStatement,
} from "./deploymentAuthorization";
export { providerModuleId } from "./providerStub";
