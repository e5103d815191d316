// A failed run in the portal's words: its stable code, said once, and the resources that failed.
import type { AuthorizationRunError } from "pulumi-deployment-authorization/automation";

export interface Failure {
  code: string;
  message: string;
}

// By name, not instanceof: a portal that ends up with two copies of the package still knows the error.
const isRunError = (error: unknown): error is AuthorizationRunError =>
  error instanceof Error && error.name === "AuthorizationRunError" && "code" in error;

/** The code said once: the provider's messages already start with it, line after line. */
export function failureOf(error: unknown): Failure {
  const code = isRunError(error) ? error.code : "FAILED";
  const raw = error instanceof Error ? error.message : String(error);
  const message = raw
    .split("\n")
    .map((line) => line.replace(new RegExp(`^(\\s*${code}:\\s*)+`), ""))
    .join("\n");
  return { code, message };
}

/** The resource names (request-<id>) the engine reported failures for. */
export function failedResourcesOf(error: unknown): Set<string> {
  const failures = isRunError(error) ? error.failures : [];
  return new Set(failures.map((f) => f.urn?.split("::").pop()).filter((n): n is string => Boolean(n)));
}

/** The HTTP status for a code. */
export function statusOf(code: string): number {
  if (code === "INVALID_INPUT") return 400;
  if (code === "TARGET_MISSING") return 404;
  if (code === "CONFLICT" || code === "CONNECTION_EXISTS" || code === "STACK_LOCKED") return 409;
  return 502;
}
