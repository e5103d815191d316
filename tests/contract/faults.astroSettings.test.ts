import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { AstroDeploymentSettings } from "../../provider/astro/deploymentSettingsDriver";
import {
  SANDBOX_ASTRO_TOKEN,
  astroClient,
  seedDeployment,
  storedDeployment,
  updateRequestFrom,
} from "../support/astro";
import { startFaultProxy, type FaultProxy } from "../support/faultProxy";

const ROLE = "arn:aws:iam::123456789012:role/lake-reader";
const BACKEND = {
  AIRFLOW__SECRETS__BACKEND: "airflow.providers.amazon.aws.secrets.secrets_manager.SecretsManagerBackend",
  AIRFLOW__SECRETS__BACKEND_KWARGS: '{"connections_prefix":"airflow/connections","region_name":"us-east-1"}',
};
const credentials = { token: SANDBOX_ASTRO_TOKEN };
// GetDeployment is GET, UpdateDeployment POST, on the same path.
const DEPLOYMENT = /^\/v1\/organizations\/[^/]+\/deployments\/[^/?]+$/;

describe("faults on the Astro API's Deployment settings (GetDeployment, UpdateDeployment)", () => {
  const astro = () => inject("endpoints").astro;
  let proxy: FaultProxy;
  let settings: AstroDeploymentSettings;

  beforeAll(async () => {
    proxy = await startFaultProxy({ upstream: astro().url.replace(/\/v1$/, ""), dialect: "astro", slowAnswerMs: 1500 });
    settings = new AstroDeploymentSettings({
      baseUrl: `${proxy.url}/v1`,
      attempts: 4,
      baseDelayMs: 5,
      timeoutMs: 500,
    });
  });

  afterAll(async () => {
    await proxy?.close();
    console.log(`faults injected (Astro Deployment settings): ${proxy?.faultsInjected()}`);
  });

  async function deployment() {
    const seeded = await seedDeployment(astro().fakeUrl, {
      cloudProvider: "AWS",
      identityPropagationReads: 1,
      environmentVariables: [
        { key: "PLAIN", value: "kept" },
        { key: "DB_PASSWORD", value: "s3cret", isSecret: true },
      ],
    });
    const foreign = async () =>
      (await storedDeployment(astro().fakeUrl, seeded.id)).environmentVariables
        .filter((v) => !v.key.startsWith("AIRFLOW__SECRETS__"))
        .map(({ key, value, isSecret }) => ({ key, value, isSecret }));
    return { seeded, ref: { organizationId: seeded.organizationId, deploymentId: seeded.id }, foreign };
  }

  it("apply and remove converge through throttling, 5xx, a lost answer and a slow one", async () => {
    const d = await deployment();
    const before = await d.foreign();
    proxy.schedule([
      { method: "GET", path: DEPLOYMENT, fault: "throttle" },
      { method: "GET", path: DEPLOYMENT, fault: "slowAnswer", nth: 3 },
      // Applied, answer lost: the retry sends the same settings again, which changes nothing more.
      { method: "POST", path: DEPLOYMENT, fault: "resetAfterAnswer" },
    ]);
    await settings.apply(
      { ...d.ref, workloadIdentity: ROLE, environmentVariables: BACKEND, ownedKeys: [] },
      credentials,
    );
    expect(proxy.faultsSinceSchedule().map((r) => r.fault)).toEqual(["throttle", "resetAfterAnswer", "slowAnswer"]);
    const applied = await storedDeployment(astro().fakeUrl, d.seeded.id);
    expect(applied.workloadIdentity).toBe(ROLE);
    expect(
      applied.environmentVariables.filter((v) => v.key.startsWith("AIRFLOW__SECRETS__")).map((v) => v.key),
    ).toEqual(Object.keys(BACKEND));
    expect(await d.foreign()).toEqual(before);

    proxy.schedule([
      { method: "POST", path: DEPLOYMENT, fault: "error503" },
      { method: "GET", path: DEPLOYMENT, fault: "resetBeforeForward" },
    ]);
    await settings.remove({ ...d.ref, ownedKeys: Object.keys(BACKEND) }, credentials);
    expect(proxy.faultsSinceSchedule()).toHaveLength(2);
    expect((await storedDeployment(astro().fakeUrl, d.seeded.id)).environmentVariables.map((v) => v.key)).toEqual([
      "PLAIN",
      "DB_PASSWORD",
    ]);
    expect(await d.foreign()).toEqual(before);
  });

  it("an UpdateDeployment that keeps failing fails the apply with the Deployment and the tries, and changes nothing", async () => {
    const d = await deployment();
    const before = await storedDeployment(astro().fakeUrl, d.seeded.id);
    proxy.schedule([{ method: "POST", path: DEPLOYMENT, fault: "error500", times: Infinity }]);
    const error = await settings
      .apply({ ...d.ref, workloadIdentity: ROLE, environmentVariables: BACKEND, ownedKeys: [] }, credentials)
      .then(
        () => undefined,
        (e: unknown) => e as Error,
      );
    expect(error?.message).toMatch(new RegExp(`${d.seeded.id}.*failed after 4 tries`));
    expect(error?.message).not.toContain(SANDBOX_ASTRO_TOKEN);
    const after = await storedDeployment(astro().fakeUrl, d.seeded.id);
    expect(after.workloadIdentity).toBe(before.workloadIdentity);
    expect(after.environmentVariables).toEqual(before.environmentVariables);
  });

  it("a retried UpdateDeployment is rebuilt from a new read: what someone else changed during the pause is kept", async () => {
    const d = await deployment();
    const client = astroClient(astro().url);
    // Someone else (the Astro UI, a CI job) edits the Deployment while our first try's 503 is
    // being waited out.
    const someoneElse = async () => {
      const live = await client.getDeployment(d.ref.organizationId, d.ref.deploymentId);
      const body = updateRequestFrom(live);
      body.environmentVariables = [
        ...(body.environmentVariables ?? []),
        { key: "ADDED_MEANWHILE", value: "by hand", isSecret: false },
      ];
      await client.updateDeployment(d.ref.organizationId, d.ref.deploymentId, body);
    };
    let edited = false;
    const withPause = new AstroDeploymentSettings({
      baseUrl: `${proxy.url}/v1`,
      attempts: 4,
      baseDelayMs: 5,
      timeoutMs: 500,
      sleep: async () => {
        if (!edited) await someoneElse();
        edited = true;
      },
    });
    proxy.schedule([{ method: "POST", path: DEPLOYMENT, fault: "error503" }]);
    await withPause.apply(
      { ...d.ref, workloadIdentity: ROLE, environmentVariables: BACKEND, ownedKeys: [] },
      credentials,
    );
    expect(proxy.faultsSinceSchedule().map((r) => r.fault)).toEqual(["error503"]);
    const after = await storedDeployment(astro().fakeUrl, d.seeded.id);
    expect(after.workloadIdentity).toBe(ROLE);
    expect(after.environmentVariables.map((v) => v.key)).toEqual([
      "PLAIN",
      "DB_PASSWORD",
      "ADDED_MEANWHILE",
      ...Object.keys(BACKEND),
    ]);
  });
});
