import { z } from "zod";
import { orUnknown } from "./unknown";

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

/** Schema pieces every cloud's federation with a Deployment's service accounts shares. */
export const namespaceSchema = orUnknown(
  z.string({ error: "must be the Deployment's Kubernetes namespace" }).regex(K8S_NAME, {
    error: "must be a Kubernetes namespace name such as astronomer-celestial-galaxy-1234",
  }),
);

export const serviceAccountsSchema = z
  .array(z.enum(SERVICE_ACCOUNT_COMPONENTS, { error: `must be one of ${SERVICE_ACCOUNT_COMPONENTS.join(", ")}` }))
  .min(1, { error: "must name at least one component" })
  .optional();

export const serviceAccountNamesSchema = z
  .array(orUnknown(z.string().regex(K8S_NAME, { error: "must be a Kubernetes service account name" })))
  .min(1)
  .optional();

/** The cluster's OIDC issuer: https, no query, fragment or credentials. */
export function issuerUrlSchema(example: string) {
  return orUnknown(
    z.string({ error: "must be the cluster's OIDC issuer URL as a string" }).refine(
      (v) => {
        try {
          const u = new URL(v);
          return u.protocol === "https:" && !u.search && !u.hash && !u.username;
        } catch {
          return false;
        }
      },
      { error: `must be an https URL such as ${example}` },
    ),
  );
}
