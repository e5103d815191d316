import type { Inputs, Loose } from "../../core/programArgs";
import type { AzureInput } from "./schema";

/**
 * Federated identity credentials for the Deployment's Kubernetes service accounts on a user-assigned
 * managed identity, and optionally the identity's role assignment on a scope.
 */
export type AzureGrantArgs = Loose<Inputs<AzureInput>>;

/** The component's `azure` argument, with its documentation. */
export interface AzureArgs {
  /**
   * Grant in Azure: federated identity credentials for the Deployment's Kubernetes service accounts on
   * a user-assigned managed identity, and optionally the identity's role assignment. { identity,
   * issuerUrl, namespace, serviceAccounts?, serviceAccountNames?, roleAssignment?,
   * adoptExistingCredentials? }.
   */
  azure: AzureGrantArgs;
}
