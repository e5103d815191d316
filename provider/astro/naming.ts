/** Astro's naming of a Deployment's Kubernetes service accounts, shared by every cloud's federation. */

/**
 * What Astro's ids look like (cuids: 25 lower-case letters and digits; the API documents no
 * pattern, so 20-40 are taken). The component checks `deployment` ids with it before asking Astro.
 */
export const ASTRO_ID = /^[a-z0-9]{20,40}$/;

/** The clouds Astro runs Deployments on, in its API's words (a Deployment's `cloudProvider`). */
export const ASTRO_CLOUD_PROVIDERS = ["AWS", "GCP", "AZURE"] as const;

export type AstroCloudProvider = (typeof ASTRO_CLOUD_PROVIDERS)[number];

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

/** Kubernetes namespace names are RFC 1123 DNS labels: at most 63 of [a-z0-9-], alphanumeric at both ends. */
export const K8S_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/**
 * Kubernetes ServiceAccount names are RFC 1123 DNS subdomains: at most 253 characters, dot-separated
 * labels of [a-z0-9-], alphanumeric at both ends (Kubernetes "Object Names and IDs").
 */
export const K8S_SERVICE_ACCOUNT_NAME =
  /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Astro's Kubernetes service account of one Deployment component. */
export function serviceAccountName(namespace: string, component: string): string {
  return component === "kpo" ? `${namespace}-kpo` : `${namespace}-${component}-serviceaccount`;
}
