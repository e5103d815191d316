import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { ProviderMethods } from "../../provider/core/provider";
import { statementsOf } from "../../provider/grants/aws/trustPolicy";
import { createRole, iamClient, trustPolicyOf, uniqueName } from "../support/aws";
import { startFaultProxy, type FaultProxy } from "../support/faultProxy";
import {
  FaultLedger,
  airflowConnection,
  failure,
  fastTuning,
  faultProvider,
  inPlanTerms,
  plan,
} from "../support/faultWorld";
import { claimOf } from "../../provider/core/claims";
import { foreignPolicy, rawInputs } from "../support/fixtures";
import { motoEnv } from "../../scripts/toolchain.mjs";

// IAM's query API names the action in the body: every call is POST /.
const iam = (action: string) => ({ method: "POST", path: /^\/$/, body: new RegExp(`Action=${action}&`) });
const CONNECTIONS = /^\/api\/v2\/connections$/;
const CONNECTION = /^\/api\/v2\/connections\/[^/?]+/;
/** A refresh's reads share one listing of the connections. */
const LISTING = /^\/api\/v2\/connections\?/;

describe("faults on IAM (moto) and Airflow 3: every step converges, or fails whole and says why", () => {
  const endpoints = () => inject("endpoints");
  const saved: Record<string, string | undefined> = {};
  let iamProxy: FaultProxy;
  let airflowProxy: FaultProxy;
  let provider: ProviderMethods;
  let ledger: FaultLedger;

  beforeAll(async () => {
    iamProxy = await startFaultProxy({ upstream: endpoints().moto.url, dialect: "awsQuery", slowAnswerMs: 1500 });
    airflowProxy = await startFaultProxy({
      upstream: endpoints().airflow3.url,
      dialect: "airflow",
      slowAnswerMs: 1500,
    });
    // The AWS SDK finds its endpoint and credentials in the process environment, as in a stack.
    const env = motoEnv(iamProxy.url) as Record<string, string>;
    for (const [key, value] of Object.entries(env)) {
      saved[key] = process.env[key];
      process.env[key] = value;
    }
    provider = await faultProvider(
      { "deployment-authorization:airflowPassword": endpoints().airflow3.password },
      process.env,
      fastTuning(500),
    );
    ledger = new FaultLedger({ iam: iamProxy, airflow: airflowProxy });
  });

  afterAll(async () => {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    await Promise.all([iamProxy?.close(), airflowProxy?.close()]);
    console.log(`faults injected (IAM, Airflow 3): ${ledger?.total()}\n${ledger?.report()}`);
  });

  async function world(prefix: string) {
    const client = iamClient(endpoints().moto.url);
    const roleName = uniqueName(prefix);
    const roleArn = await createRole(client, roleName, foreignPolicy());
    const connectionId = uniqueName(`aws_${prefix}`).replace(/-/g, "_");
    const identity = `arn:aws:iam::111122223333:role/${uniqueName("astro")}`;
    const inputs = (region: string, workloadIdentity = identity) =>
      rawInputs({
        workloadIdentity,
        aws: { targetRole: roleArn, region },
        connection: {
          connectionId,
          airflow: { url: airflowProxy.url, auth: { kind: "password", username: endpoints().airflow3.username } },
        },
      });
    /** How many times `who` is trusted in the role, over every statement. */
    const trusted = async (who: string) =>
      statementsOf(await trustPolicyOf(client, roleName))
        .flatMap((s) => {
          const aws = (s.Principal as { AWS?: string | string[] } | undefined)?.AWS;
          return aws === undefined ? [] : Array.isArray(aws) ? aws : [aws];
        })
        .filter((p) => p === who).length;
    const connection = () => airflowConnection(endpoints().airflow3, "v2", connectionId);
    return { roleName, roleArn, connectionId, identity, inputs, trusted, connection };
  }

  it("create, read, update and delete each converge through throttling, 5xx, resets and slow answers on both halves", async () => {
    const w = await world("conv");
    const planned = await plan(provider, w.inputs("us-east-1"));

    const created = await ledger.step(
      "create",
      {
        iam: [
          { ...iam("GetRole"), fault: "throttle" },
          { ...iam("GetRole"), fault: "error500", nth: 2 },
          { ...iam("UpdateAssumeRolePolicy"), fault: "resetAfterAnswer" },
        ],
        airflow: [
          { method: "POST", path: /^\/auth\/token$/, fault: "error503" },
          // Applied, answer lost: the retry meets 409, and the driver knows the connection for its own.
          { method: "POST", path: CONNECTIONS, fault: "resetAfterAnswer" },
        ],
      },
      () => provider.create(planned),
    );
    expect(ledger.lastFaults()).toHaveLength(5);
    expect(airflowProxy.requests.some((r) => r.method === "POST" && CONNECTIONS.test(r.path) && r.status === 409)).toBe(
      true,
    );
    expect(await w.trusted(w.identity)).toBe(1);
    expect(inPlanTerms(await w.connection(), planned.connection.payload)).toEqual({
      ...planned.connection.payload,
      extra: { ...planned.connection.payload.extra, role_arn: w.roleArn },
    });
    expect(claimOf((await w.connection())?.description)?.instance).toBe(created.outs.resolved.instance);

    const read = await ledger.step(
      "read",
      {
        iam: [{ ...iam("GetRole"), fault: "resetBeforeForward" }],
        airflow: [
          { method: "GET", path: LISTING, fault: "slowAnswer" },
          { method: "GET", path: LISTING, fault: "throttle", nth: 2 },
        ],
      },
      () => provider.read(created.id, created.outs),
    );
    expect(ledger.lastFaults()).toHaveLength(3);
    expect(read.props.grant).toEqual(created.outs.grant);
    expect(read.props.connection.payload).toEqual(planned.connection.payload);

    const next = await plan(provider, w.inputs("eu-west-1", `${w.identity}-next`));
    const updated = await ledger.step(
      "update",
      {
        iam: [
          { ...iam("GetRole"), fault: "slowAnswer" },
          { ...iam("UpdateAssumeRolePolicy"), fault: "error503" },
          { ...iam("UpdateAssumeRolePolicy"), fault: "slowAnswer", nth: 2 },
        ],
        airflow: [
          { method: "PATCH", path: CONNECTION, fault: "resetAfterAnswer" },
          { method: "PATCH", path: CONNECTION, fault: "error500", nth: 2 },
        ],
      },
      () => provider.update(created.id, read.props, next),
    );
    expect(ledger.lastFaults()).toHaveLength(5);
    expect(await w.trusted(`${w.identity}-next`)).toBe(1);
    expect(await w.trusted(w.identity)).toBe(0);
    expect((await w.connection())?.extra.region_name).toBe("eu-west-1");

    await ledger.step(
      "delete",
      {
        iam: [
          { ...iam("GetRole"), fault: "throttle" },
          { ...iam("UpdateAssumeRolePolicy"), fault: "resetAfterAnswer" },
        ],
        // Applied, answer lost: the retry meets 404, which is done.
        airflow: [{ method: "DELETE", path: CONNECTION, fault: "resetAfterAnswer" }],
      },
      () => provider.delete(created.id, updated.outs),
    );
    expect(ledger.lastFaults()).toHaveLength(3);
    expect(await w.trusted(`${w.identity}-next`)).toBe(0);
    expect(await w.connection()).toBeUndefined();
    expect(statementsOf(await trustPolicyOf(iamClient(endpoints().moto.url), w.roleName))).toEqual(
      statementsOf(foreignPolicy()),
    );
  });

  it("a connection that cannot be written fails the create with step, target and tries, and takes the grant back", async () => {
    const w = await world("connfail");
    const planned = await plan(provider, w.inputs("us-east-1"));
    const error = await ledger.step(
      "create (Airflow down)",
      { airflow: [{ method: "POST", path: CONNECTIONS, fault: "error503", times: Infinity }] },
      () => failure(provider.create(planned)),
    );
    expect(error.message).toMatch(
      new RegExp(
        `^REMOTE_UNAVAILABLE: POST ${airflowProxy.url}/api/v2/connections failed after 4 tries; .*answered 503.*Check that Airflow is up at ${airflowProxy.url}`,
      ),
    );
    expect(error.message).not.toContain(endpoints().airflow3.password);
    expect(await w.trusted(w.identity)).toBe(0);
    expect(await w.connection()).toBeUndefined();
  });

  it("a grant that cannot be written fails the create with step, role and tries, and takes the connection back", async () => {
    const w = await world("grantfail");
    const planned = await plan(provider, w.inputs("us-east-1"));
    const error = await ledger.step(
      "create (IAM throttling)",
      { iam: [{ ...iam("UpdateAssumeRolePolicy"), fault: "throttle", times: Infinity }] },
      () => failure(provider.create(planned)),
    );
    expect(error.message).toMatch(
      new RegExp(
        `^REMOTE_UNAVAILABLE: AWS IAM UpdateAssumeRolePolicy on role ${w.roleName} failed after 4 tries; the last error was: Rate exceeded`,
      ),
    );
    expect(await w.trusted(w.identity)).toBe(0);
    expect(await w.connection()).toBeUndefined();
  });

  it("when every answer of a write is lost, the create fails and takes back what those writes made", async () => {
    const w = await world("alllost");
    const planned = await plan(provider, w.inputs("us-east-1"));
    // Each try reaches IAM and applies; no answer comes back. The connection is written meanwhile.
    const grantLost = await ledger.step(
      "create (IAM answers all lost)",
      { iam: [{ ...iam("UpdateAssumeRolePolicy"), fault: "resetAfterAnswer", times: Infinity }] },
      () => failure(provider.create(planned)),
    );
    expect(grantLost.message).toMatch(/UpdateAssumeRolePolicy on role .* failed after 4 tries/);
    expect(await w.trusted(w.identity)).toBe(0);
    expect(await w.connection()).toBeUndefined();

    // Each POST creates the connection (the retries then meet 409); no answer comes back.
    const connectionLost = await ledger.step(
      "create (Airflow answers all lost)",
      { airflow: [{ method: "POST", path: CONNECTIONS, fault: "resetAfterAnswer", times: Infinity }] },
      () => failure(provider.create(planned)),
    );
    expect(connectionLost.message).toMatch(/POST .*\/api\/v2\/connections failed after 4 tries/);
    expect(await w.connection()).toBeUndefined();
    expect(await w.trusted(w.identity)).toBe(0);
    expect(statementsOf(await trustPolicyOf(iamClient(endpoints().moto.url), w.roleName))).toEqual(
      statementsOf(foreignPolicy()),
    );
  });

  it("a web identity's OIDC provider created by a try whose answer was lost is known as ours", async () => {
    const w = await world("oidc");
    const issuer = `https://oidc.eks.us-east-1.amazonaws.com/id/${uniqueName("x").replace("-", "").toUpperCase()}`;
    const { workloadIdentity: _none, ...raw } = w.inputs("us-east-1");
    const planned = await plan(provider, {
      ...raw,
      aws: {
        targetRole: w.roleArn,
        region: "us-east-1",
        trust: { kind: "webIdentity", issuerUrl: issuer, namespace: "ns-oidc" },
      },
    });
    const created = await ledger.step(
      "create (web identity)",
      { iam: [{ ...iam("CreateOpenIDConnectProvider"), fault: "resetAfterAnswer" }] },
      () => provider.create(planned),
    );
    expect(ledger.lastFaults()).toEqual(["iam CreateOpenIDConnectProvider resetAfterAnswer"]);
    expect(created.outs.resolved.oidcProviderCreated).toBe(true);
    await provider.delete(created.id, created.outs);
    expect(await w.connection()).toBeUndefined();
  });
});
