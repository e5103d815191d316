import { describe, expect, it } from "vitest";
import { AirflowConnectionsDriver } from "../../provider/connections/airflow";
import type { ConnectionTarget } from "../../provider/core/types";

type BulkFault = "none" | "answerLost" | "noRoute" | "unavailable";

/**
 * Airflow 3's connections over a map: single POST / GET / DELETE and the bulk PATCH, whose create
 * fails as a whole when an id is taken. `fault` breaks the bulk call: applied with the answer lost,
 * a 405 (no such route), or a 503 that applies nothing.
 */
function airflow(fault: BulkFault) {
  const stored = new Map<string, { conn_type: string; description: string | null; extra: string }>();
  const seen: string[] = [];
  const fetch = (async (input: string | URL, init?: RequestInit) => {
    const url = new URL(String(input));
    const method = init?.method ?? "GET";
    seen.push(`${method} ${url.pathname}`);
    const body = init?.body ? (JSON.parse(String(init.body)) as Record<string, unknown>) : {};
    if (url.pathname === "/api/v2/connections" && method === "PATCH") {
      if (fault === "noRoute") return new Response("{}", { status: 405 });
      if (fault === "unavailable") return new Response("{}", { status: 503 });
      const [action] = body.actions as Array<{ action: string; entities: Array<Record<string, string>> }>;
      const ids = action!.entities.map((e) => e.connection_id!);
      if (ids.some((id) => stored.has(id))) {
        return Response.json({ create: { success: [], errors: [{ error: "exists", status_code: 409 }] } });
      }
      for (const e of action!.entities) stored.set(e.connection_id!, e as never);
      if (fault === "answerLost") throw Object.assign(new TypeError("fetch failed"), { cause: { code: "ECONNRESET" } });
      return Response.json({ create: { success: ids, errors: [] } });
    }
    if (url.pathname === "/api/v2/connections" && method === "POST") {
      const id = body.connection_id as string;
      if (stored.has(id)) return new Response("{}", { status: 409 });
      stored.set(id, body as never);
      return Response.json(body, { status: 201 });
    }
    const id = decodeURIComponent(url.pathname.split("/").pop()!);
    const found = stored.get(id);
    return found ? Response.json({ connection_id: id, ...found }) : new Response("{}", { status: 404 });
  }) as typeof globalThis.fetch;
  return { fetch, seen, stored };
}

const target: ConnectionTarget = {
  url: "http://airflow.test",
  apiVersion: "v2",
  auth: { kind: "token" },
  credentials: { token: "t0ken" },
};
const payload = (i: number) => ({ conn_type: "aws", description: `connection ${i}`, extra: { n: i } });
const ids = Array.from({ length: 5 }, (_, i) => `conn_${i}`);
const createAll = (driver: AirflowConnectionsDriver, names = ids) =>
  Promise.allSettled(names.map((id, i) => driver.create(target, id, payload(i))));

describe("bulk creates on Airflow 3 when the bulk call breaks", () => {
  it.each([
    // Every try applied, no answer came: each then meets 409 on its own and finds its own payload.
    { fault: "answerLost" as const, alone: ["POST", "GET"] },
    { fault: "unavailable" as const, alone: ["POST"] },
    { fault: "noRoute" as const, alone: ["POST"] },
  ])("$fault: every create is made (or found) on its own and succeeds", async ({ fault, alone }) => {
    const world = airflow(fault);
    const driver = new AirflowConnectionsDriver({ fetch: world.fetch, attempts: 2, sleep: async () => {} });
    const results = await createAll(driver);
    expect(results.map((r) => r.status)).toEqual(ids.map(() => "fulfilled"));
    expect([...world.stored.keys()].sort()).toEqual(ids);
    const single = world.seen.filter((s) => !s.startsWith("PATCH"));
    // The first went on its own while the other four gathered; those four then went alone.
    expect(single.length).toBe(1 + 4 * alone.length);
    expect(world.seen.filter((s) => s.startsWith("PATCH")).length).toBe(fault === "noRoute" ? 1 : 2);
  });

  it("two creates of one id in a batch go on their own: one is made, the other is refused", async () => {
    const world = airflow("none");
    const driver = new AirflowConnectionsDriver({ fetch: world.fetch, attempts: 2, sleep: async () => {} });
    const results = await createAll(driver, ["conn_first", "conn_twice", "conn_twice"]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "fulfilled", "rejected"]);
    expect(results[2]).toMatchObject({ reason: { code: "CONNECTION_EXISTS" } });
    expect(world.seen.filter((s) => s.startsWith("PATCH"))).toEqual([]);
  });

  it("after a 405 from the bulk route, writes to that Airflow go on their own without trying it again", async () => {
    const world = airflow("noRoute");
    const driver = new AirflowConnectionsDriver({ fetch: world.fetch, attempts: 2, sleep: async () => {} });
    await createAll(driver);
    world.seen.length = 0;
    const later = ids.map((id) => `${id}_later`);
    expect((await createAll(driver, later)).map((r) => r.status)).toEqual(later.map(() => "fulfilled"));
    expect(world.seen).toEqual(later.map(() => "POST /api/v2/connections"));
  });
});
