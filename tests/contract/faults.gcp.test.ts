import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { ProviderMethods } from "../../provider/core/provider";
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
import { gcpInputs } from "../support/fixtures";
import {
  SANDBOX_GCP_TOKEN,
  createProject,
  foreignProjectPolicy,
  storedPolicy,
  uniqueServiceAccountEmail,
} from "../support/gcp";
import { uniqueName } from "../support/aws";

const ROLE = "roles/bigquery.dataViewer";
const SET_POLICY = /^\/v3\/projects\/[^/:]+:setIamPolicy/;
const GET_POLICY = /^\/v3\/projects\/[^/:]+:getIamPolicy/;
const CONNECTIONS = /^\/api\/v1\/connections$/;
const CONNECTION = /^\/api\/v1\/connections\/[^/?]+/;

describe("faults on Google Cloud IAM (fake behind Prism) and Airflow 2: every step converges, or fails whole", () => {
  const endpoints = () => inject("endpoints");
  let gcpProxy: FaultProxy;
  let airflowProxy: FaultProxy;
  let provider: ProviderMethods;
  let ledger: FaultLedger;

  beforeAll(async () => {
    gcpProxy = await startFaultProxy({ upstream: endpoints().gcp.url, dialect: "google", slowAnswerMs: 2000 });
    airflowProxy = await startFaultProxy({
      upstream: endpoints().airflow2.url,
      dialect: "airflow",
      slowAnswerMs: 2000,
    });
    provider = await faultProvider(
      { "deployment-authorization:airflowPassword": endpoints().airflow2.password },
      { DEPLOYMENT_AUTHORIZATION_GCP_ROOT_URL: gcpProxy.url, GOOGLE_OAUTH_ACCESS_TOKEN: SANDBOX_GCP_TOKEN },
      fastTuning(1000),
    );
    ledger = new FaultLedger({ gcp: gcpProxy, airflow: airflowProxy });
  });

  afterAll(async () => {
    await Promise.all([gcpProxy?.close(), airflowProxy?.close()]);
    console.log(`faults injected (Google IAM, Airflow 2): ${ledger?.total()}\n${ledger?.report()}`);
  });

  async function world(prefix: string) {
    const project = await createProject(endpoints().gcp.fakeUrl, { policy: foreignProjectPolicy() });
    const connectionId = uniqueName(`gcp_${prefix}`).replace(/-/g, "_");
    const identity = uniqueServiceAccountEmail("astronomer-prod", "astro");
    const inputs = (workloadIdentity = identity) =>
      gcpInputs(
        { project: project.projectId },
        {
          workloadIdentity,
          connection: {
            connectionId,
            airflow: { url: airflowProxy.url, auth: { kind: "password", username: endpoints().airflow2.username } },
          },
        },
      );
    /** How many times `who` holds the role, over every binding of the project's policy. */
    const members = async (who: string) =>
      ((await storedPolicy(endpoints().gcp.fakeUrl, { project: project.projectId })).bindings ?? [])
        .filter((b) => b.role === ROLE && !b.condition)
        .flatMap((b) => b.members ?? [])
        .filter((m) => m === `serviceAccount:${who}`).length;
    const foreignBindings = async () =>
      ((await storedPolicy(endpoints().gcp.fakeUrl, { project: project.projectId })).bindings ?? []).filter(
        (b) => !(b.members ?? []).some((m) => m.includes("astro-")),
      );
    const connection = () => airflowConnection(endpoints().airflow2, "v1", connectionId);
    return { project, connectionId, identity, inputs, members, foreignBindings, connection };
  }

  it("create, read, update and delete converge; a setIamPolicy whose answer was lost is still this resource's change", async () => {
    const w = await world("conv");
    const planned = await plan(provider, w.inputs());

    const created = await ledger.step(
      "create",
      {
        gcp: [
          { method: "POST", path: GET_POLICY, fault: "throttle" },
          // Applied, answer lost: the retry's etag is stale (409); the member is ours, not pre-existing.
          { method: "POST", path: SET_POLICY, fault: "resetAfterAnswer" },
        ],
        airflow: [
          { method: "POST", path: CONNECTIONS, fault: "error500" },
          { method: "POST", path: CONNECTIONS, fault: "slowAnswer", nth: 2 },
        ],
      },
      () => provider.create(planned),
    );
    expect(ledger.lastFaults()).toHaveLength(4);
    expect(gcpProxy.requests.some((r) => SET_POLICY.test(r.path) && r.status === 409)).toBe(true);
    expect(created.outs.resolved.preExistingMembers).toEqual([]);
    expect(await w.members(w.identity)).toBe(1);
    expect(inPlanTerms(await w.connection(), planned.connection.payload)).toEqual(planned.connection.payload);
    expect(claimOf((await w.connection())?.description)?.instance).toBe(created.outs.resolved.instance);

    const read = await ledger.step(
      "read",
      {
        gcp: [{ method: "POST", path: GET_POLICY, fault: "slowAnswer" }],
        airflow: [{ method: "GET", path: CONNECTION, fault: "resetBeforeForward" }],
      },
      () => provider.read(created.id, created.outs),
    );
    expect(ledger.lastFaults()).toHaveLength(2);
    expect(read.props.grant).toEqual(created.outs.grant);
    expect(read.props.connection.payload).toEqual(planned.connection.payload);

    const nextIdentity = uniqueServiceAccountEmail("astronomer-prod", "astro");
    const next = await plan(provider, w.inputs(nextIdentity));
    const updated = await ledger.step(
      "update",
      {
        gcp: [
          { method: "POST", path: SET_POLICY, fault: "error503" },
          { method: "POST", path: SET_POLICY, fault: "slowAnswer", nth: 2 },
        ],
        airflow: [{ method: "PATCH", path: CONNECTION, fault: "throttle" }],
      },
      () => provider.update(created.id, read.props, next),
    );
    expect(ledger.lastFaults()).toHaveLength(3);
    expect(await w.members(nextIdentity)).toBe(1);
    expect(await w.members(w.identity)).toBe(0);

    await ledger.step(
      "delete",
      {
        gcp: [{ method: "POST", path: SET_POLICY, fault: "resetAfterAnswer" }],
        airflow: [{ method: "DELETE", path: CONNECTION, fault: "resetAfterAnswer" }],
      },
      () => provider.delete(created.id, updated.outs),
    );
    expect(ledger.lastFaults()).toHaveLength(2);
    expect(await w.members(nextIdentity)).toBe(0);
    expect(await w.connection()).toBeUndefined();
    expect(await w.foreignBindings()).toEqual(foreignProjectPolicy().bindings);
  });

  it("a binding that cannot be written fails the create with step, project and tries, and takes the connection back", async () => {
    const w = await world("grantfail");
    const planned = await plan(provider, w.inputs());
    const error = await ledger.step(
      "create (Google throttling)",
      { gcp: [{ method: "POST", path: SET_POLICY, fault: "throttle", times: Infinity }] },
      () => failure(provider.create(planned)),
    );
    expect(error.message).toMatch(
      new RegExp(
        `^REMOTE_UNAVAILABLE: Google Cloud projects.setIamPolicy on project ${w.project.projectId} failed after 4 tries; the last error was: Quota exceeded`,
      ),
    );
    expect(error.message).toMatch(/run pulumi up again later/);
    expect(await w.members(w.identity)).toBe(0);
    expect(await w.connection()).toBeUndefined();
  });

  it("a connection that cannot be written fails the create with step, target and tries, and takes the binding back", async () => {
    const w = await world("connfail");
    const planned = await plan(provider, w.inputs());
    const error = await ledger.step(
      "create (Airflow 2 resets)",
      { airflow: [{ method: "POST", path: CONNECTIONS, fault: "resetBeforeForward", times: Infinity }] },
      () => failure(provider.create(planned)),
    );
    expect(error.message).toMatch(
      new RegExp(
        `^REMOTE_UNAVAILABLE: POST ${airflowProxy.url}/api/v1/connections failed after 4 tries; the last error was: cannot reach`,
      ),
    );
    expect(error.message).not.toContain(endpoints().airflow2.password);
    expect(await w.members(w.identity)).toBe(0);
    expect(await w.connection()).toBeUndefined();
  });

  it("when every answer of setIamPolicy is lost, the create fails and takes the member back", async () => {
    const w = await world("alllost");
    const planned = await plan(provider, w.inputs());
    // Each try reaches Google and applies (the later ones meet a stale etag); no answer comes back.
    const error = await ledger.step(
      "create (Google answers all lost)",
      { gcp: [{ method: "POST", path: SET_POLICY, fault: "resetAfterAnswer", times: Infinity }] },
      () => failure(provider.create(planned)),
    );
    expect(error.message).toMatch(/setIamPolicy on project .* failed after 4 tries/);
    expect(await w.members(w.identity)).toBe(0);
    expect(await w.connection()).toBeUndefined();
    expect(await w.foreignBindings()).toEqual(foreignProjectPolicy().bindings);
  });
});
