import { describe, expect, inject, it } from "vitest";
import { AstroDeploymentSettings } from "../../provider/astro/deploymentSettingsDriver";
import { AuthorizationError } from "../../provider/core/errors";
import {
  SANDBOX_ASTRO_TOKEN,
  astroClient,
  callCounts,
  seedDeployment,
  storedDeployment,
  updateRequestFrom,
} from "../support/astro";

const astro = () => inject("endpoints").astro;
const driver = () => new AstroDeploymentSettings({ baseUrl: astro().url, baseDelayMs: 10 });
const credentials = { token: SANDBOX_ASTRO_TOKEN };
const ROLE = "arn:aws:iam::123456789012:role/lake-reader";
const BACKEND = {
  AIRFLOW__SECRETS__BACKEND: "airflow.providers.amazon.aws.secrets.secrets_manager.SecretsManagerBackend",
  AIRFLOW__SECRETS__BACKEND_KWARGS: '{"connections_prefix":"airflow/connections","region_name":"us-east-1"}',
};

/** A Deployment with settings of every kind someone else owns: a secret, a plain variable, hibernation. */
async function busyDeployment(cloudProvider: "AWS" | "GCP" = "AWS") {
  const seeded = await seedDeployment(astro().fakeUrl, {
    cloudProvider,
    isDevelopmentMode: true,
    identityPropagationReads: 3,
    environmentVariables: [
      { key: "PLAIN", value: "kept" },
      { key: "DB_PASSWORD", value: "s3cret", isSecret: true },
    ],
  });
  const client = astroClient(astro().url);
  const read = await client.getDeployment(seeded.organizationId, seeded.id);
  await client.updateDeployment(seeded.organizationId, seeded.id, {
    ...updateRequestFrom(read),
    contactEmails: ["data@example.com"],
    scalingSpec: {
      hibernationSpec: { schedules: [{ hibernateAtCron: "0 20 * * *", wakeAtCron: "0 6 * * *", isEnabled: true }] },
    },
  } as unknown as Parameters<typeof client.updateDeployment>[2]);
  return { ...seeded, ref: { organizationId: seeded.organizationId, deploymentId: seeded.id } };
}

/** What someone else owns on the Deployment, as the fake stores it (secret values included). */
async function foreignSettings(id: string) {
  const d = await storedDeployment(astro().fakeUrl, id);
  return {
    name: d.name,
    contactEmails: d.contactEmails,
    scalingSpec: d.scalingSpec,
    workerQueues: d.workerQueues,
    variables: d.environmentVariables
      .filter((v) => !v.key.startsWith("AIRFLOW__SECRETS__"))
      .map(({ key, value, isSecret }) => ({ key, value, isSecret })),
  };
}

describe("the Deployment's own settings through UpdateDeployment, against the Astro API fake (validated by Prism)", () => {
  it("sets the identity and our variables, waits for the identity to show, keeps everything else, takes back only ours", async () => {
    const d = await busyDeployment();
    const before = await foreignSettings(d.id);
    const s = driver();

    const applied = await s.apply(
      { ...d.ref, workloadIdentity: ROLE, environmentVariables: BACKEND, ownedKeys: [] },
      credentials,
    );
    expect(applied).toEqual({ previousWorkloadIdentity: d.defaultWorkloadIdentity });
    const stored = await storedDeployment(astro().fakeUrl, d.id);
    expect(stored.workloadIdentity).toBe(ROLE);
    expect(await foreignSettings(d.id)).toEqual(before);
    expect(before.variables).toContainEqual({ key: "DB_PASSWORD", value: "s3cret", isSecret: true });
    // The fake shows a new identity only after 3 reads: the apply returned once it did.
    expect((await astroClient(astro().url).getDeployment(d.organizationId, d.id)).effectiveWorkloadIdentity).toBe(ROLE);
    expect(await callCounts(astro().fakeUrl, { deploymentId: d.id, operation: "UpdateDeployment" })).toEqual({
      UpdateDeployment: 2, // the seed's hibernation, and ours
    });

    expect(await s.read(d.ref, Object.keys(BACKEND), credentials)).toEqual({
      effectiveWorkloadIdentity: ROLE,
      environmentVariables: BACKEND,
    });

    // Applying what is already there writes nothing.
    await s.apply(
      { ...d.ref, workloadIdentity: ROLE, environmentVariables: BACKEND, ownedKeys: Object.keys(BACKEND) },
      credentials,
    );
    expect(await callCounts(astro().fakeUrl, { deploymentId: d.id, operation: "UpdateDeployment" })).toEqual({
      UpdateDeployment: 2,
    });

    await s.remove({ ...d.ref, ownedKeys: Object.keys(BACKEND) }, credentials);
    const after = await storedDeployment(astro().fakeUrl, d.id);
    expect(after.environmentVariables.map((v) => v.key)).toEqual(["PLAIN", "DB_PASSWORD"]);
    expect(after.workloadIdentity).toBe(ROLE);
    expect(await foreignSettings(d.id)).toEqual(before);

    await s.remove({ ...d.ref, ownedKeys: [], workloadIdentity: d.defaultWorkloadIdentity! }, credentials);
    expect((await astroClient(astro().url).getDeployment(d.organizationId, d.id)).effectiveWorkloadIdentity).toBe(
      d.defaultWorkloadIdentity,
    );
  });

  it("never overwrites a variable it does not own; a GCP Deployment takes a service account", async () => {
    const d = await busyDeployment("GCP");
    const client = astroClient(astro().url);
    const read = await client.getDeployment(d.organizationId, d.id);
    const request = updateRequestFrom(read);
    await client.updateDeployment(d.organizationId, d.id, {
      ...request,
      environmentVariables: [
        ...request.environmentVariables,
        { key: "AIRFLOW__SECRETS__BACKEND", isSecret: false, value: "their.Backend" },
      ],
    });
    const s = driver();
    const refused = await s.apply({ ...d.ref, environmentVariables: BACKEND, ownedKeys: [] }, credentials).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(AuthorizationError);
    expect(refused).toMatchObject({
      code: "CONFLICT",
      message: expect.stringContaining("AIRFLOW__SECRETS__BACKEND set to their.Backend"),
    });
    expect((await storedDeployment(astro().fakeUrl, d.id)).environmentVariables).toContainEqual(
      expect.objectContaining({ key: "AIRFLOW__SECRETS__BACKEND", value: "their.Backend" }),
    );

    const sa = "lake-reader@customer-data.iam.gserviceaccount.com";
    await s.apply({ ...d.ref, workloadIdentity: sa, environmentVariables: {}, ownedKeys: [] }, credentials);
    expect((await storedDeployment(astro().fakeUrl, d.id)).workloadIdentity).toBe(sa);
  });

  it("a Deployment deleted out of band: reads as nothing, removal is a success, apply names it", async () => {
    const s = driver();
    const { organizationId } = await seedDeployment(astro().fakeUrl);
    const ref = { organizationId, deploymentId: "clmhnotthere0000000000000" };
    expect(await s.read(ref, Object.keys(BACKEND), credentials)).toEqual({ environmentVariables: {} });
    await s.remove({ ...ref, ownedKeys: Object.keys(BACKEND) }, credentials);
    await expect(s.apply({ ...ref, environmentVariables: BACKEND, ownedKeys: [] }, credentials)).rejects.toMatchObject({
      code: "TARGET_MISSING",
    });
  });
});
