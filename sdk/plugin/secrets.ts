import * as pulumi from "@pulumi/pulumi";

/**
 * Secrets as the engine sends them to a plugin that accepts secrets: `{ [sig]: secretSig, value }`,
 * anywhere in a property value. The lifecycle works on plain values, so they are unwrapped on the way
 * in, and whatever came in secret is marked secret again on the way out.
 */
const SIG = pulumi.runtime.specialSigKey;
const SECRET = pulumi.runtime.specialSecretSig;

function isSecret(value: unknown): value is { value: unknown } {
  return typeof value === "object" && value !== null && (value as Record<string, unknown>)[SIG] === SECRET;
}

function containsSecret(value: unknown): boolean {
  if (isSecret(value)) return true;
  if (Array.isArray(value)) return value.some(containsSecret);
  if (typeof value === "object" && value !== null) return Object.values(value).some(containsSecret);
  return false;
}

/** The value with every secret replaced by what it holds. */
export function unwrapSecrets(value: unknown): unknown {
  if (isSecret(value)) return unwrapSecrets(value.value);
  if (Array.isArray(value)) return value.map(unwrapSecrets);
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([key, v]) => [key, unwrapSecrets(v)]));
  }
  return value;
}

/** The plain properties, and the names of the top-level ones that held a secret anywhere. */
export function unwrapProperties(properties: unknown): { plain: Record<string, unknown>; secretKeys: Set<string> } {
  const given = (properties ?? {}) as Record<string, unknown>;
  const secretKeys = new Set(Object.keys(given).filter((key) => containsSecret(given[key])));
  return { plain: unwrapSecrets(given) as Record<string, unknown>, secretKeys };
}

/** `properties` with the named top-level values marked secret (as the engine does for a dynamic provider). */
export function markSecret(properties: Record<string, unknown>, keys: Iterable<string>): Record<string, unknown> {
  const marked = { ...properties };
  for (const key of keys) {
    if (marked[key] !== undefined && !isSecret(marked[key])) marked[key] = { [SIG]: SECRET, value: marked[key] };
  }
  return marked;
}
