import type { CloudModule } from "../../core/cloud";
import type { GcpGrantArgs } from "./programArgs";
import { gcpOutputs } from "./outputs";
import type { GcpGrantOutput } from "./outputSchema";
import type { GcpGrant, GcpResolved } from "./plan";
import { gcpPlanner } from "./planner";
import type { GcpInput } from "./schema";

/** Where Google's IAM APIs are, and the access token the environment holds (else Application Default Credentials). */
export interface GcpRemote {
  rootUrl?: string;
  accessToken?: string;
}

/** GCP: one member/role pair on a project's or a service account's IAM policy, and a Google Cloud connection. */
export const gcpCloud: CloudModule<GcpInput, GcpGrant, GcpResolved, GcpGrantOutput, GcpRemote, GcpGrantArgs> = {
  cloud: "gcp",
  planner: gcpPlanner,
  outputs: gcpOutputs,
  loadOutputSchema: async () => (await import("./outputSchema.js")).gcpGrantOutputSchema,
  loadInputs: async () => (await import("./inputs.js")).gcpInputs,
  program: {
    withDefaults(args, program) {
      const grant = args.grant as Record<string, unknown> | undefined;
      if (args.project !== undefined || grant?.kind !== "projectRole") return args;
      const project = program.config("gcp", "project");
      return project ? { ...args, project } : args;
    },
    withDeploymentFacts(args, fill) {
      const grant = args.grant as Record<string, unknown>;
      const needsWorkloadIdentity = grant.kind !== "customerManagedIdentity";
      return {
        args: needsWorkloadIdentity ? args : { ...args, grant: fill(grant, ["namespace"]) },
        needsWorkloadIdentity,
      };
    },
  },
  remoteSettings: (settings, env) => ({
    rootUrl: settings("gcpRootUrl") ?? env.DEPLOYMENT_AUTHORIZATION_GCP_ROOT_URL,
    accessToken: env.GOOGLE_OAUTH_ACCESS_TOKEN || undefined,
  }),
  async loadDriver(remote, { policy, ...calls }) {
    const { GcpIamPolicyDriver } = await import("./driver.js");
    return new GcpIamPolicyDriver({ ...policy, ...calls, ...remote });
  },
  discovery: {
    targets: [
      { option: "gcp-project", value: "<id>", help: "a project whose IAM policy to search" },
      { option: "gcp-service-account", value: "<email>", help: "a service account whose IAM policy to search" },
    ],
    connTypes: ["google_cloud_platform"],
    load: async () => (await import("./discover.js")).gcpDiscoverer,
  },
};

export { gcpPlanner } from "./planner";
export type { GcpGrant, GcpResolved } from "./plan";
export type { GcpInput } from "./schema";
export type { GcpGrantOutput } from "./outputSchema";
