import { describe, expect, it } from "vitest";
import { AirflowConnectionsDriver } from "../../provider/connections/airflow";
import type { ConnectionTarget } from "../../provider/core/types";

/** Airflow 3's list and get of connections over a map, paged by offset as the API pages. */
function airflowWith(count: number) {
  const ids = Array.from({ length: count }, (_, i) => `conn_${String(i).padStart(4, "0")}`);
  const seen: string[] = [];
  const fetch = (async (input: string | URL) => {
    const url = new URL(String(input));
    seen.push(url.pathname + url.search);
    const item = (id: string) => ({ connection_id: id, conn_type: "aws", description: null, extra: `{"n":"${id}"}` });
    if (url.pathname === "/api/v2/connections") {
      const offset = Number(url.searchParams.get("offset"));
      const limit = Math.min(Number(url.searchParams.get("limit")), 100);
      const page = ids.slice(offset, offset + limit).map(item);
      return Response.json({ connections: page, total_entries: ids.length });
    }
    const id = decodeURIComponent(url.pathname.split("/").pop()!);
    return ids.includes(id) ? Response.json(item(id)) : new Response("{}", { status: 404 });
  }) as typeof globalThis.fetch;
  return { fetch, seen };
}

const target: ConnectionTarget = {
  url: "http://airflow.test",
  apiVersion: "v2",
  auth: { kind: "token" },
  credentials: { token: "t0ken" },
};

describe("a refresh's reads of an Airflow with many connections", () => {
  it("lists once, and when one page does not hold them all reads each on its own from then on", async () => {
    const { fetch, seen } = airflowWith(620);
    const driver = new AirflowConnectionsDriver({ fetch });
    const asked = ["conn_0003", "conn_0450", "conn_9999"];
    const first = await Promise.all(asked.map((id) => driver.read(target, id, { share: true })));
    expect(first.map((p) => p?.extra.n)).toEqual(["conn_0003", "conn_0450", undefined]);
    // One page showed that a listing would take seven: the ids it did not hold are read on their own.
    expect(seen).toEqual([
      "/api/v2/connections?limit=100&offset=0",
      "/api/v2/connections/conn_0450",
      "/api/v2/connections/conn_9999",
    ]);
    seen.length = 0;
    await driver.read(target, "conn_0001", { share: true });
    expect(seen).toEqual(["/api/v2/connections/conn_0001"]);
  });

  const FIRST_PAGE = "/api/v2/connections?limit=100&offset=0";
  it.each([
    { count: 40, id: "conn_0001", calls: [FIRST_PAGE] },
    // Exactly one full page: total_entries says it is all of them.
    { count: 100, id: "conn_0099", calls: [FIRST_PAGE] },
    { count: 101, id: "conn_0100", calls: [FIRST_PAGE, "/api/v2/connections/conn_0100", "/api/v2/connections/gone"] },
  ])(
    "takes a missing id as gone only from a listing that held every connection ($count)",
    async ({ count, id, calls }) => {
      const { fetch, seen } = airflowWith(count);
      const driver = new AirflowConnectionsDriver({ fetch });
      expect(await Promise.all([id, "gone"].map((c) => driver.read(target, c, { share: true })))).toEqual([
        { conn_type: "aws", description: null, extra: { n: id } },
        undefined,
      ]);
      expect(seen).toEqual(calls);
    },
  );

  it("reads on its own when not asked to share", async () => {
    const { fetch, seen } = airflowWith(10);
    const driver = new AirflowConnectionsDriver({ fetch });
    await Promise.all(["conn_0001", "conn_0002"].map((id) => driver.read(target, id)));
    expect(seen).toEqual(["/api/v2/connections/conn_0001", "/api/v2/connections/conn_0002"]);
  });
});
