import { describe, expect, inject, it } from "vitest";
import { randomBytes } from "node:crypto";
import { AirflowConnectionsDriver } from "../../provider/connections/airflow";
import type { ConnectionTarget } from "../../provider/core/types";
import { ConnectionExistsError } from "../../provider/core/errors";

const payload = {
  conn_type: "aws",
  description: "made by the contract test",
  extra: { role_arn: "arn:aws:iam::123456789012:role/reader", region_name: "us-east-1" },
};

const servers = [
  { name: "Airflow 3", key: "airflow3", version: "v2" },
  { name: "Airflow 2", key: "airflow2", version: "v1" },
] as const;

function connectionId() {
  return `aws_contract_${randomBytes(4).toString("hex")}`;
}

describe.each(servers)("Airflow connections driver against real $name", ({ key, version }) => {
  const target = (overrides: Partial<ConnectionTarget> = {}): ConnectionTarget => {
    const server = inject("endpoints")[key];
    return {
      url: server.url,
      apiVersion: "detect",
      auth: { kind: "password", username: server.username },
      credentials: { password: server.password },
      ...overrides,
    };
  };

  it(`detects /api/${version}`, async () => {
    expect(await new AirflowConnectionsDriver().apiVersion(target())).toBe(version);
  });

  it("creates, lists, reads, refuses a duplicate, updates and deletes", async () => {
    const driver = new AirflowConnectionsDriver();
    const id = connectionId();
    expect(await driver.read(target(), id)).toBeUndefined();
    await driver.create(target(), id, { ...payload, description: `listed ${id}` });
    expect(await driver.descriptions(target())).toContain(`listed ${id}`);
    await driver.update(target(), id, payload);
    expect(await driver.read(target(), id)).toEqual(payload);
    await expect(driver.create(target(), id, payload)).rejects.toThrow(ConnectionExistsError);
    await expect(driver.create(target(), id, payload)).rejects.toThrow(/set connection.adoptExisting: true/);

    const changed = { ...payload, description: null, extra: { ...payload.extra, region_name: "eu-west-1" } };
    await driver.update(target(), id, changed);
    expect(await driver.read(target(), id)).toEqual(changed);

    expect(await driver.remove(target(), id)).toEqual({ removed: true });
    expect(await driver.read(target(), id)).toBeUndefined();
    expect(await driver.remove(target(), id)).toEqual({ removed: false });
  });

  it("updates only the fields it manages: a password set by hand survives and is never read back", async () => {
    const driver = new AirflowConnectionsDriver();
    const id = connectionId();
    const t = target();
    await driver.create(t, id, payload);
    const version = await driver.apiVersion(t);
    const auth = await authHeader(t);
    const patched = await fetch(`${t.url}/api/${version}/connections/${id}`, {
      method: "PATCH",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({
        connection_id: id,
        conn_type: "aws",
        password: "set-by-hand-pw",
        extra: JSON.stringify({ ...payload.extra, aws_secret_access_key: "hand-secret" }),
      }),
    });
    expect(patched.status).toBe(200);
    const raw = (await (await fetch(`${t.url}/api/${version}/connections/${id}`, { headers: auth })).json()) as Record<
      string,
      unknown
    >;
    expect(JSON.stringify(raw)).not.toContain("set-by-hand-pw");
    expect(JSON.stringify(raw)).not.toContain("hand-secret");

    const seen = await driver.read(t, id);
    expect(seen?.extra.aws_secret_access_key).toBe("***");

    await driver.update(t, id, payload);
    expect(await driver.read(t, id)).toEqual(payload);
    await driver.remove(t, id);
  });

  it("answers a refresh's overlapping reads as single reads do, sharing one listing on Airflow 3", async () => {
    const t = target();
    const writer = new AirflowConnectionsDriver();
    const ids = Array.from({ length: 6 }, connectionId);
    await Promise.all(
      ids.map((id, i) =>
        writer.create(t, id, {
          ...payload,
          description: i % 2 ? null : `connection ${i}`,
          // Airflow redacts a sensitive key in extra: a listing must show it as a single read does.
          extra: { ...payload.extra, aws_secret_access_key: `hidden-${i}` },
        }),
      ),
    );
    const asked = [...ids, connectionId()];
    const single = await Promise.all(asked.map((id) => writer.read(t, id)));
    expect(single.at(-1)).toBeUndefined();
    expect(single[0]?.extra.aws_secret_access_key).toBe("***");

    const reader = new AirflowConnectionsDriver();
    await reader.apiVersion(t);
    const before = reader.calls.requests;
    const shared = await Promise.all(asked.map((id) => reader.read(t, id, { share: true })));
    expect(shared).toEqual(single);
    const calls = reader.calls.requests - before;
    // Airflow 2's list leaves out extra, so there each read is its own GET.
    if (version === "v1") expect(calls).toBe(asked.length);
    else expect(calls).toBeLessThan(asked.length);

    // A listing serves only the reads it overlaps: a read after a delete sees the delete.
    await writer.remove(t, ids[0]!);
    expect(await reader.read(t, ids[0]!, { share: true })).toBeUndefined();
    await Promise.all(ids.slice(1).map((id) => writer.remove(t, id)));
  });

  it("writes that overlap share calls on Airflow 3, and a taken id among them fails only its own create", async () => {
    const t = target();
    const driver = new AirflowConnectionsDriver();
    expect(await driver.read(t, connectionId())).toBeUndefined(); // the version and the credentials, once
    const count = (before: number) => driver.calls.requests - before;

    // Nine at once: the first goes on its own, the eight that came meanwhile in one bulk call.
    const ids = Array.from({ length: 9 }, connectionId);
    let before = driver.calls.requests;
    await Promise.all(ids.map((id, i) => driver.create(t, id, { ...payload, description: `connection ${i}` })));
    expect(count(before)).toBe(version === "v2" ? 2 : 9);
    for (const [i, id] of ids.entries()) {
      expect(await driver.read(t, id)).toEqual({ ...payload, description: `connection ${i}` });
    }

    // A bulk create with a taken id fails as a whole: each is then made on its own, and only the
    // taken one fails, with the error a single create gives.
    const more = Array.from({ length: 4 }, connectionId);
    before = driver.calls.requests;
    const results = await Promise.allSettled([...more, ids[3]!].map((id) => driver.create(t, id, payload)));
    expect(results.slice(0, -1).map((r) => r.status)).toEqual(more.map(() => "fulfilled"));
    expect(results.at(-1)).toMatchObject({ status: "rejected", reason: expect.any(ConnectionExistsError) });
    expect(count(before)).toBe(version === "v2" ? 1 + 1 + 4 : 5);
    expect(await driver.read(t, ids[3]!)).toEqual({ ...payload, description: "connection 3" });

    // Deletes alike; one already gone is not removed again, and not an error.
    const all = [...ids, ...more, connectionId()];
    before = driver.calls.requests;
    const removed = await Promise.all(all.map((id) => driver.remove(t, id)));
    expect(removed.map((r) => r.removed)).toEqual(all.map((_, i) => i < all.length - 1));
    expect(count(before)).toBe(version === "v2" ? 2 : all.length);
    for (const id of all) expect(await driver.read(t, id)).toBeUndefined();
  });

  it("explains refused credentials without echoing them", async () => {
    const driver = new AirflowConnectionsDriver({ attempts: 1 });
    const bad = target({ credentials: { password: "wrong-password-123" } });
    const error = await driver.read(bad, "anything").then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error?.message).toMatch(/answered 40[13].*credentials were refused/s);
    expect(error?.message).not.toContain("wrong-password-123");
  });

  it("asked for the other API version, says so and suggests the right one, without dumping a page", async () => {
    const other = version === "v2" ? "v1" : "v2";
    const driver = new AirflowConnectionsDriver({ attempts: 1 });
    const failed = (work: Promise<unknown>) =>
      work.then(
        () => "no error",
        (e: Error) => e.message,
      );
    for (const t of [
      target({ apiVersion: other }),
      target({ apiVersion: other, auth: { kind: "token" }, credentials: { token: "tok-x" } }),
    ]) {
      const read = await failed(driver.read(t, connectionId()));
      expect(read).toContain(`does not serve API ${other}`);
      expect(read).toContain(`set connection.airflow.apiVersion: "${version}", or "detect"`);
      expect(read).not.toMatch(/<[a-z!/]/i);
      expect(read).not.toContain("\n");
    }
    // A create must not pass for written: Airflow 2 answers it with its 404 page, Airflow 3 with 405.
    const created = await failed(driver.create(target({ apiVersion: other }), connectionId(), payload));
    expect(created).toMatch(
      new RegExp(
        `does not serve API ${other}|apiVersion \\(v1 is Airflow 2's API, v2 Airflow 3's\\), or set it to "detect"`,
      ),
    );
    expect(created).not.toMatch(/<[a-z!/]/i);
  });

  it("says where it could not connect", async () => {
    const driver = new AirflowConnectionsDriver({ attempts: 2, baseDelayMs: 1 });
    const error = await driver
      .read(
        target({
          url: "http://127.0.0.1:9",
          apiVersion: version,
          auth: { kind: "token" },
          credentials: { token: "t0ken-x" },
        }),
        "x",
      )
      .then(
        () => undefined,
        (e: Error) => e,
      );
    expect(error?.message).toMatch(
      /http:\/\/127\.0\.0\.1:9\/api\/v\d\/connections\/x failed after 2 tries.*cannot reach/s,
    );
  });
});

describe("Airflow 3 with a bearer token, as on Astro", () => {
  it("uses the token as given", async () => {
    const server = inject("endpoints").airflow3;
    const t: ConnectionTarget = { url: server.url, apiVersion: "v2", auth: { kind: "token" }, credentials: {} };
    const { authorization } = await authHeader({
      ...t,
      auth: { kind: "password", username: server.username },
      credentials: { password: server.password },
    });
    const token = authorization.replace("Bearer ", "");
    const driver = new AirflowConnectionsDriver();
    const id = connectionId();
    await driver.create({ ...t, credentials: { token } }, id, payload);
    expect(await driver.read({ ...t, credentials: { token } }, id)).toEqual(payload);
    await driver.remove({ ...t, credentials: { token } }, id);
  });
});

describe("a refresh's reads on Airflow 3 with more connections than one page", () => {
  const server = () => inject("endpoints").airflow3;
  const target = (password = server().password): ConnectionTarget => ({
    url: server().url,
    apiVersion: "v2",
    auth: { kind: "password", username: server().username },
    credentials: { password },
  });

  it("shares the first page and reads the connections it did not hold on their own", async () => {
    const writer = new AirflowConnectionsDriver();
    const ids = Array.from({ length: 105 }, connectionId);
    for (let i = 0; i < ids.length; i += 8) {
      await Promise.all(ids.slice(i, i + 8).map((id) => writer.create(target(), id, payload)));
    }
    try {
      const response = await fetch(`${server().url}/api/v2/connections?limit=100&offset=0`, {
        headers: await authHeader(target()),
      });
      const firstPage = new Set(
        ((await response.json()) as { connections: Array<{ connection_id: string }> }).connections.map(
          (c) => c.connection_id,
        ),
      );
      const reader = new AirflowConnectionsDriver();
      const absent = connectionId();
      const shared = await Promise.all([...ids, absent].map((id) => reader.read(target(), id, { share: true })));
      expect(shared.slice(0, -1)).toEqual(ids.map(() => payload));
      expect(shared.at(-1)).toBeUndefined();
      // One JWT, the first page, and a GET for each asked id the page did not hold.
      const unlisted = [...ids, absent].filter((id) => !firstPage.has(id)).length;
      expect(unlisted).toBeGreaterThan(0);
      expect(reader.calls.requests).toBe(2 + unlisted);
    } finally {
      for (let i = 0; i < ids.length; i += 8) {
        await Promise.all(ids.slice(i, i + 8).map((id) => writer.remove(target(), id)));
      }
    }
  });

  it("lists every connection's description, page by page (where other resources' claims are read)", async () => {
    const writer = new AirflowConnectionsDriver();
    const ids = Array.from({ length: 105 }, connectionId);
    for (let i = 0; i < ids.length; i += 8) {
      await Promise.all(
        ids.slice(i, i + 8).map((id) => writer.create(target(), id, { ...payload, description: `claim of ${id}` })),
      );
    }
    try {
      const reader = new AirflowConnectionsDriver();
      const descriptions = new Set(await reader.descriptions(target()));
      expect(ids.filter((id) => !descriptions.has(`claim of ${id}`))).toEqual([]);
      expect(reader.calls.requests).toBeGreaterThanOrEqual(3); // a JWT, then two pages at least
    } finally {
      for (let i = 0; i < ids.length; i += 8) {
        await Promise.all(ids.slice(i, i + 8).map((id) => writer.remove(target(), id)));
      }
    }
  });

  it("never answers a read with a listing made with other credentials", async () => {
    const writer = new AirflowConnectionsDriver();
    const id = connectionId();
    await writer.create(target(), id, payload);
    const reader = new AirflowConnectionsDriver({ attempts: 1 });
    const [good, bad] = await Promise.allSettled([
      reader.read(target(), id, { share: true }),
      reader.read(target("wrong-password-456"), id, { share: true }),
    ]);
    expect(good).toEqual({ status: "fulfilled", value: payload });
    expect(bad.status).toBe("rejected");
    expect(String((bad as PromiseRejectedResult).reason)).toMatch(/credentials were refused/);
    await writer.remove(target(), id);
  });
});

async function authHeader(t: ConnectionTarget): Promise<{ authorization: string }> {
  const password = t.credentials.password!;
  const username = t.auth.kind === "password" ? t.auth.username : "";
  if ((await new AirflowConnectionsDriver().apiVersion(t)) === "v1") {
    return { authorization: `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}` };
  }
  const response = await fetch(`${t.url}/auth/token`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username, password }),
  });
  const body = (await response.json()) as { access_token: string };
  return { authorization: `Bearer ${body.access_token}` };
}
