/** JSON values as policies and plans hold them. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/**
 * A canonical form for comparing policy fragments and plans: key order ignored, a one-element list
 * equal to its element, list order ignored (IAM treats principal and action lists as sets).
 */
export function canonical(value: unknown): string {
  return JSON.stringify(canonicalValue(value as JsonValue | undefined));
}

function canonicalValue(value: JsonValue | undefined): JsonValue | undefined {
  if (Array.isArray(value)) {
    const items = [...new Set(value.map((v) => JSON.stringify(canonicalValue(v))))].sort();
    return items.length === 1 ? (JSON.parse(items[0]!) as JsonValue) : items.map((i) => JSON.parse(i) as JsonValue);
  }
  if (value !== null && typeof value === "object") {
    const out: { [key: string]: JsonValue } = {};
    for (const key of Object.keys(value).sort()) {
      const v = canonicalValue(value[key]);
      if (v !== undefined) out[key] = v;
    }
    return out;
  }
  return value;
}
