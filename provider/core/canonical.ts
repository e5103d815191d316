import type { ConnectionPayload } from "./types";

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

/**
 * Whether a live connection holds exactly what was written: type, description and `extra`, value
 * for value (a masked `***` value is not known to be equal). How a connection that may be our own
 * write is recognised: after a lost answer, or left by an interrupted create.
 */
export function sameConnectionPayload(live: ConnectionPayload | undefined, written: ConnectionPayload): boolean {
  return (
    live !== undefined &&
    live.conn_type === written.conn_type &&
    (live.description ?? null) === (written.description ?? null) &&
    canonical(live.extra) === canonical(written.extra)
  );
}
