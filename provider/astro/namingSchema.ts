import { z } from "zod";
import { K8S_NAME, K8S_SERVICE_ACCOUNT_NAME, SERVICE_ACCOUNT_COMPONENTS } from "./naming";
import { mustBe, orUnknown } from "../core/schema";

/** Schema pieces every cloud's federation with a Deployment's service accounts shares. */
export const namespaceSchema = orUnknown(
  z.string({ error: "must be the Deployment's Kubernetes namespace" }).regex(K8S_NAME, {
    error: mustBe(
      "a Kubernetes namespace name (an RFC 1123 label: at most 63 lower-case letters, digits and hyphens, alphanumeric at both ends) such as astronomer-celestial-galaxy-1234",
    ),
  }),
);

export const serviceAccountsSchema = z
  .array(z.enum(SERVICE_ACCOUNT_COMPONENTS, { error: `must be one of ${SERVICE_ACCOUNT_COMPONENTS.join(", ")}` }))
  .min(1, { error: "must name at least one component" })
  .optional();

export const serviceAccountNamesSchema = z
  .array(
    orUnknown(
      z.string({ error: "must be a Kubernetes service account name as a string" }).regex(K8S_SERVICE_ACCOUNT_NAME, {
        error: mustBe(
          "a Kubernetes service account name (an RFC 1123 subdomain: at most 253 lower-case letters, digits, hyphens and dots, alphanumeric at both ends of each label) such as astronomer-celestial-galaxy-1234-worker-serviceaccount",
        ),
      }),
    ),
  )
  .min(1, { error: "must name at least one service account" })
  .optional();

/** Where a cloud's OIDC issuer URL is stricter than OpenID Connect's own rule. */
export interface IssuerRules {
  /** An issuer that works, for the error message. */
  example: string;
  /** The cloud's limit on the URL's length. */
  maxLength: number;
  /** Whether the cloud takes a port in the URL. */
  port: boolean;
  /** Where the cloud's rule is written, for the error message. */
  source: string;
}

/**
 * The cluster's OIDC issuer. OpenID Connect Discovery 1.0 (section 4): an https URL with a host and
 * optionally a port and a path, and no query or fragment; no credentials and no white space either,
 * as the `iss` claim must match it character for character. The cloud adds its own rules.
 */
export function issuerUrlSchema(rules: IssuerRules) {
  const rule =
    `an https URL with a host and an optional path, without query, fragment, credentials` +
    `${rules.port ? "" : ", port"} or white space, at most ${rules.maxLength} characters (${rules.source}), such as ${rules.example}`;
  return orUnknown(
    z.string({ error: "must be the cluster's OIDC issuer URL as a string" }).refine(
      (v) => {
        if (v.length > rules.maxLength || /[\s?#]/.test(v)) return false;
        try {
          const u = new URL(v);
          return (
            u.protocol === "https:" &&
            u.hostname !== "" &&
            !u.username &&
            !u.password &&
            (rules.port || u.port === "") &&
            v.toLowerCase().startsWith("https://")
          );
        } catch {
          return false;
        }
      },
      { error: () => `must be ${rule}` },
    ),
  );
}
