/** Astro's naming of a Deployment's Kubernetes service accounts, shared by every cloud's federation. */

export const SERVICE_ACCOUNT_COMPONENTS = [
  "scheduler",
  "worker",
  "triggerer",
  "dag-processor",
  "webserver",
  "api-server",
  "kpo",
] as const;

export type ServiceAccountComponent = (typeof SERVICE_ACCOUNT_COMPONENTS)[number];

/** The components that run tasks or parse DAGs; the webserver / API server is opt-in. */
export const DEFAULT_SERVICE_ACCOUNTS = ["scheduler", "worker", "triggerer", "dag-processor", "kpo"] as const;

export const K8S_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** Astro's Kubernetes service account of one Deployment component. */
export function serviceAccountName(namespace: string, component: string): string {
  return component === "kpo" ? `${namespace}-kpo` : `${namespace}-${component}-serviceaccount`;
}
