import type { CloudModule } from "../../core/cloud";
import type { AzureGrantArgs } from "./programArgs";
import { azureOutputs } from "./outputs";
import type { AzureGrantOutput } from "./outputSchema";
import type { AzureGrant, AzureResolved } from "./plan";
import { azurePlanner } from "./planner";
import type { AzureInput } from "./schema";

/** Where Azure Resource Manager is, and the access token the environment holds (else DefaultAzureCredential). */
export interface AzureRemote {
  endpoint?: string;
  accessToken?: string;
}

/**
 * Azure: federated identity credentials for the Deployment's Kubernetes service accounts on a
 * user-assigned managed identity, its role assignment on a scope, and an `azure` connection.
 */
export const azureCloud: CloudModule<
  AzureInput,
  AzureGrant,
  AzureResolved,
  AzureGrantOutput,
  AzureRemote,
  AzureGrantArgs
> = {
  cloud: "azure",
  planner: azurePlanner,
  outputs: azureOutputs,
  loadOutputSchema: async () => (await import("./outputSchema.js")).azureGrantOutputSchema,
  loadInputs: async () => (await import("./inputs.js")).azureInputs,
  program: {
    withDefaults: (args) => args,
    withDeploymentFacts: (args, fill) => ({
      args: fill(args, ["issuerUrl", "namespace"]),
      needsWorkloadIdentity: false,
    }),
  },
  remoteSettings: (settings, env) => ({
    endpoint: settings("azureEndpoint") ?? env.DEPLOYMENT_AUTHORIZATION_AZURE_ENDPOINT,
    accessToken: env.DEPLOYMENT_AUTHORIZATION_AZURE_ACCESS_TOKEN || undefined,
  }),
  async loadDriver(remote, { policy: _policy, ...calls }) {
    const { AzureFederationDriver } = await import("./driver.js");
    return new AzureFederationDriver({ ...calls, ...remote });
  },
  discovery: {
    targets: [
      {
        option: "azure-identity",
        value: "<resource id>",
        help: "a user-assigned managed identity whose credentials to search",
      },
    ],
    connTypes: ["azure"],
    load: async () => (await import("./discover.js")).azureDiscoverer,
  },
};

export { azurePlanner } from "./planner";
export type { AzureGrant, AzureResolved } from "./plan";
export type { AzureInput } from "./schema";
export type { AzureGrantOutput } from "./outputSchema";
