import { beforeEach, describe, expect, it, vi } from "vitest";
import { createProvider, ProviderMethods } from "../../provider/core/provider";
import type { AuthorizationState } from "../../provider/core/types";
import type { AwsGrant } from "../../provider/grants/aws/types";
import { GRANT_PLANNERS } from "../../provider/grants";
import { awsGrantDriver } from "../../provider/grants/aws";
import { airflowSink } from "../../provider/connections/airflow";
import { parseInputs } from "../../provider/inputs";
import { MemoryConnections, MemoryTrust } from "../support/memoryDrivers";
import { TARGET_ROLE_ARN, foreignPolicy, rawInputs, FOREIGN_COUNT, PlannedAws } from "../support/fixtures";
import { minify, statementsOf } from "../../provider/grants/aws/trustPolicy";
import { RemoteError } from "../../provider/core/errors";

const URL = "http://127.0.0.1:8080";

let trust: MemoryTrust;
let connections: MemoryConnections;
let driversMade: number;
let provider: ProviderMethods<AwsGrant>;

beforeEach(() => {
  trust = new MemoryTrust();
  trust.addRole("data-reader", foreignPolicy());
  connections = new MemoryConnections();
  driversMade = 0;
  provider = createProvider({
    planners: GRANT_PLANNERS,
    loadParser: () => parseInputs,
    makeDrivers: () => {
      driversMade++;
      return { grants: { aws: awsGrantDriver(trust) }, connections: { airflow: airflowSink(connections) } };
    },
    env: {},
  }) as ProviderMethods<AwsGrant>;
});

async function checked(raw: Record<string, unknown> = rawInputs({ credentials: { token: "tok-from-input" } })) {
  const result = await provider.check({}, { ...raw, __provider: "stub" });
  expect(result.failures).toBeUndefined();
  return result.inputs as unknown as PlannedAws;
}

describe("provider methods", () => {
  it("check validates and plans without touching any driver", async () => {
    const bad = await provider.check({}, rawInputs({ workloadIdentity: "nope" }));
    expect(bad.failures).toEqual([
      { property: "", reason: expect.stringMatching(/^workloadIdentity = "nope": .*IAM role ARN/) },
    ]);
    const good = await checked();
    expect(good.grant.statement.Principal).toEqual({ AWS: expect.stringContaining(":role/astro-") });
    expect(driversMade).toBe(0);
  });

  it("creates the grant and the connection together, leaving foreign statements as they were", async () => {
    const planned = await checked();
    const { id, outs } = await provider.create(planned);
    expect(id).toBe(`data-reader/${planned.grant.sid}/aws_data`);
    expect(outs.resolved).toEqual({
      roleArn: TARGET_ROLE_ARN,
      apiVersion: "v2",
      instance: expect.stringMatching(/^[0-9a-f]{12}$/),
    });
    const statements = statementsOf(trust.roles.get("data-reader")!.policy);
    expect(statements.slice(0, FOREIGN_COUNT)).toEqual(statementsOf(foreignPolicy()));
    expect(statements[FOREIGN_COUNT]).toEqual(planned.grant.statement);
    expect(connections.store.get(`${URL}|aws_data`)?.extra).toEqual({
      role_arn: TARGET_ROLE_ARN,
      region_name: "us-east-1",
    });
  });

  it("fills in the ARN of a role given by name", async () => {
    const planned = await checked(
      rawInputs({ aws: { targetRole: "data-reader", region: "us-east-1" }, credentials: { token: "t0ken" } }),
    );
    await provider.create(planned);
    expect(connections.store.get(`${URL}|aws_data`)?.extra.role_arn).toBe(TARGET_ROLE_ARN);
  });

  it("refuses to take over a connection made by hand unless adoptExisting is set", async () => {
    await connections.create({ url: URL, apiVersion: "v2", auth: { kind: "token" }, credentials: {} }, "aws_data", {
      conn_type: "aws",
      description: "by hand",
      extra: { region_name: "us-west-2" },
    });
    const before = minify(trust.roles.get("data-reader")!.policy);
    await expect(provider.create(await checked())).rejects.toThrow(/set connection.adoptExisting/);
    expect(minify(trust.roles.get("data-reader")!.policy)).toBe(before); // the grant was taken back

    const adopting = rawInputs({
      credentials: { token: "t0ken" },
      connection: { connectionId: "aws_data", adoptExisting: true, airflow: { url: URL, auth: { kind: "token" } } },
    });
    await provider.create(await checked(adopting));
    expect(connections.store.get(`${URL}|aws_data`)?.extra).toEqual({
      role_arn: TARGET_ROLE_ARN,
      region_name: "us-east-1",
    });
  });

  it("takes back the grant when the connection cannot be created", async () => {
    connections.failNextCreate = new RemoteError("POST … answered 403");
    await expect(provider.create(await checked())).rejects.toThrow(/403/);
    expect(minify(trust.roles.get("data-reader")!.policy)).toBe(minify(foreignPolicy()));
  });

  it("writes the connection while the grant is still being verified, and takes it back when verification fails", async () => {
    let fail!: (e: Error) => void;
    trust.verification = new Promise((_resolve, reject) => (fail = reject));
    const creating = provider.create(await checked());
    await vi.waitFor(() => expect(connections.store.has(`${URL}|aws_data`)).toBe(true));
    fail(new RemoteError("GetRole … answered 503"));
    await expect(creating).rejects.toThrow(/503/);
    expect(connections.store.has(`${URL}|aws_data`)).toBe(false);
  });

  it("takes back the grant once verified when the connection written meanwhile failed", async () => {
    let verified!: () => void;
    trust.verification = new Promise((resolve) => (verified = resolve));
    connections.failNextCreate = new RemoteError("POST … answered 500");
    const creating = provider.create(await checked());
    await vi.waitFor(() => expect(connections.failNextCreate).toBeUndefined());
    verified();
    await expect(creating).rejects.toThrow(/500/);
    expect(minify(trust.roles.get("data-reader")!.policy)).toBe(minify(foreignPolicy()));
  });

  it("read shows drift in either half, and update repairs both", async () => {
    const planned = await checked();
    const { id, outs } = await provider.create(planned);
    const clean = await provider.read(id, outs);
    expect(clean.props).toEqual(outs);
    expect((await provider.diff(id, clean.props, planned)).changes).toBe(false);

    trust.roles.get("data-reader")!.policy = foreignPolicy();
    connections.store.get(`${URL}|aws_data`)!.extra.region_name = "eu-west-1";
    const drifted = await provider.read(id, outs);
    expect(drifted.props.grant.statement).toBeNull();
    expect(drifted.props.connection.payload?.extra.region_name).toBe("eu-west-1");
    expect(drifted.inputs).not.toHaveProperty("resolved");
    expect(await provider.diff(id, drifted.props, planned)).toMatchObject({ changes: true, replaces: [] });

    const { outs: repaired } = await provider.update(id, drifted.props, planned);
    const after = await provider.read(id, repaired);
    expect(after.props.grant.statement).toEqual(planned.grant.statement);
    expect(after.props.connection.payload).toEqual(planned.connection.payload);
  });

  it("re-creates a connection deleted out of band on update", async () => {
    const planned = await checked();
    const { id, outs } = await provider.create(planned);
    connections.store.clear();
    const drifted = await provider.read(id, outs);
    expect(drifted.props.connection.payload).toBeNull();
    await provider.update(id, drifted.props, planned);
    expect(connections.store.has(`${URL}|aws_data`)).toBe(true);
  });

  it("fails clearly when the role itself is gone, on read and on delete", async () => {
    const { id, outs } = await provider.create(await checked());
    trust.roles.clear();
    await expect(provider.read(id, outs)).rejects.toThrow(/IAM role data-reader does not exist/);
    await expect(provider.delete(id, outs)).rejects.toThrow(/does not exist/);
  });

  it("delete removes only what it owns, and succeeds when it is already gone", async () => {
    const { id, outs } = await provider.create(await checked());
    await provider.delete(id, outs);
    expect(minify(trust.roles.get("data-reader")!.policy)).toBe(minify(foreignPolicy()));
    expect(connections.store.size).toBe(0);
    await provider.delete(id, outs);
  });

  it("prefers current config over the token stored in state on refresh and delete", async () => {
    const { id, outs } = await provider.create(await checked());
    expect(connections.seenCredentials.at(-1)?.token).toBe("tok-from-input");
    await provider.configure({
      config: { get: (k: string) => (k === "deployment-authorization:airflowToken" ? "rotated" : undefined) },
    });
    connections.seenCredentials = [];
    await provider.read(id, outs);
    await provider.delete(id, outs);
    // read; then delete's read of the connection's claim and its removal
    expect(connections.seenCredentials.map((c) => c.token)).toEqual(["rotated", "rotated", "rotated"]);
  });

  it("moves its entry when the identity changes, leaving the entries of others", async () => {
    const other = await checked(
      rawInputs({
        owner: "demo/dev/other",
        workloadIdentity: "arn:aws:iam::111122223333:role/astro-other",
        connection: { connectionId: "aws_other", airflow: { url: URL, auth: { kind: "token" } } },
        credentials: { token: "t0ken" },
      }),
    );
    await provider.create(other);
    const { id, outs } = await provider.create(await checked());
    const moved = await checked(
      rawInputs({ workloadIdentity: "arn:aws:iam::111122223333:role/astro-moved", credentials: { token: "t0ken" } }),
    );
    await provider.update(id, outs as AuthorizationState<AwsGrant>, moved);
    const shared = statementsOf(trust.roles.get("data-reader")!.policy).find((s) => s.Sid === "AirflowDAAssumeRole");
    expect(shared?.Principal).toEqual({
      AWS: ["arn:aws:iam::111122223333:role/astro-other", "arn:aws:iam::111122223333:role/astro-moved"],
    });
  });
});
