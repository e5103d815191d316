import type { Inputs, Loose } from "../../core/programArgs";
import type { AzureInput } from "./schema";

/**
 * Federated identity credentials for the Deployment's Kubernetes service accounts on a user-assigned
 * managed identity, and optionally the identity's role assignment on a scope.
 */
export type AzureGrantArgs = Loose<Inputs<AzureInput>>;
