import { z } from "zod";
import { K8S_NAME, SERVICE_ACCOUNT_COMPONENTS } from "./astro";
import { orUnknown } from "./schema";

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
