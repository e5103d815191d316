import type { ConnectionPayload, ExtraValue } from "../../core/types";

/** A connection as Airflow's REST API lists and reads it. */
export interface ListedConnection {
  connection_id: string;
  conn_type?: string;
  description?: string | null;
  extra?: string | null;
}

/** The fields this package manages; an update's mask names them. */
export const MANAGED_FIELDS = ["conn_type", "description", "extra"] as const;

export function payloadOf(c: ListedConnection): ConnectionPayload {
  return { conn_type: c.conn_type ?? "", description: c.description ?? null, extra: parseExtra(c.extra) };
}

export function bodyOf(connectionId: string, payload: ConnectionPayload) {
  return {
    connection_id: connectionId,
    conn_type: payload.conn_type,
    description: payload.description,
    // The REST API takes extra as a JSON-encoded string.
    extra: JSON.stringify(payload.extra),
  };
}

function parseExtra(extra: string | null | undefined): Record<string, ExtraValue> {
  if (!extra) return {};
  try {
    const parsed: unknown = JSON.parse(extra);
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) return parsed as Record<string, ExtraValue>;
  } catch {
    // fall through: shown as drift
  }
  return { "(unparsable extra)": extra };
}
