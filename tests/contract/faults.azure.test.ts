import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { ProviderMethods } from "../../provider/core/provider";
import { SANDBOX_ASTRO_TOKEN, seedDeployment, storedEnvironmentObjects } from "../support/astro";
import {
  SANDBOX_AZURE_TOKEN,
  createIdentity,
  foreignCredentials,
  storageAccountScope,
  storedCredentials,
  storedRoleAssignments,
} from "../support/azure";
import { startFaultProxy, type FaultProxy } from "../support/faultProxy";
import { FaultLedger, failure, fastTuning, faultProvider, plan } from "../support/faultWorld";
import { azureInputs } from "../support/fixtures";
import { uniqueName } from "../support/aws";

const CREDENTIAL = /\/federatedIdentityCredentials\/[^/?]+\?/;
const IDENTITY = /\/userAssignedIdentities\/[^/?]+\?/;
const ASSIGNMENT = /\/providers\/Microsoft\.Authorization\/roleAssignments\/[^/?]+\?/;
const OBJECTS = /^\/v1\/organizations\/[^/]+\/environment-objects$/;
const OBJECT = /^\/v1\/organizations\/[^/]+\/environment-objects\/[^/?]+$/;
const LIST_OBJECTS = /^\/v1\/organizations\/[^/]+\/environment-objects\?/;

describe("faults on Azure Resource Manager (fake behind Prism, over https) and the Astro API: converge, or fail whole", () => {
  const endpoints = () => inject("endpoints");
  let armProxy: FaultProxy;
  let astroProxy: FaultProxy;
  let provider: ProviderMethods;
  let ledger: FaultLedger;

  beforeAll(async () => {
    const tls = path.dirname(endpoints().azure.caFile);
    // The Azure SDKs send bearer tokens over https only: the proxy serves the sandbox front's own certificate.
    armProxy = await startFaultProxy({
      upstream: endpoints().azure.url,
      dialect: "azureArm",
      tls: { cert: readFileSync(path.join(tls, "server.pem")), key: readFileSync(path.join(tls, "server.key")) },
      upstreamCa: readFileSync(endpoints().azure.caFile),
      slowAnswerMs: 2500,
    });
    const astroApi = new URL(endpoints().astro.url);
    astroProxy = await startFaultProxy({ upstream: astroApi.origin, dialect: "astro", slowAnswerMs: 2500 });
    provider = await faultProvider(
      { "deployment-authorization:astroToken": SANDBOX_ASTRO_TOKEN },
      {
        DEPLOYMENT_AUTHORIZATION_AZURE_ENDPOINT: armProxy.url,
        DEPLOYMENT_AUTHORIZATION_AZURE_ACCESS_TOKEN: SANDBOX_AZURE_TOKEN,
        DEPLOYMENT_AUTHORIZATION_ASTRO_API_URL: `${astroProxy.url}${astroApi.pathname}`,
      },
      // Each credential write holds the identity for 300 ms in the fake, as ARM's do.
      fastTuning(1500),
    );
    ledger = new FaultLedger({ arm: armProxy, astro: astroProxy });
  });

  afterAll(async () => {
    await Promise.all([armProxy?.close(), astroProxy?.close()]);
    console.log(`faults injected (Azure ARM, Astro API): ${ledger?.total()}\n${ledger?.report()}`);
  });

  async function world() {
    const fake = endpoints().azure.fakeUrl;
    const foreign = foreignCredentials(2);
    const identity = await createIdentity(fake, { credentials: foreign });
    const scope = storageAccountScope(identity.subscriptionId, identity.resourceGroup, "lake");
    const deployment = await seedDeployment(endpoints().astro.fakeUrl, { cloudProvider: "AZURE" });
    const connectionId = uniqueName("azure").replace(/-/g, "_");
    const inputs = (namespace: string) =>
      azureInputs(
        {
          identity: identity.id,
          namespace,
          serviceAccounts: ["worker"],
          roleAssignment: { scope, role: "Storage Blob Data Reader" },
        },
        {
          connection: {
            connectionId,
            target: "astro",
            astro: { organizationId: deployment.organizationId, deploymentId: deployment.id },
          },
        },
      );
    const credentials = async () =>
      (await storedCredentials(fake, identity.id)).filter((c) => !foreign.some((f) => f.name === c.name));
    const assignments = () => storedRoleAssignments(fake, scope, identity.properties.principalId);
    const objects = async () =>
      (await storedEnvironmentObjects(endpoints().astro.fakeUrl, deployment.id)).filter(
        (o) => o.objectKey === connectionId,
      );
    return { identity, inputs, credentials, assignments, objects };
  }

  it("create, read, update and delete converge through throttling (Retry-After), 5xx, resets and slow answers", async () => {
    const w = await world();
    const planned = await plan(provider, w.inputs("ns-one"));

    const created = await ledger.step(
      "create",
      {
        arm: [
          { method: "GET", path: IDENTITY, fault: "throttle" },
          // Applied, answer lost: PUT is idempotent, the retry answers 200.
          { method: "PUT", path: CREDENTIAL, fault: "resetAfterAnswer" },
          { method: "PUT", path: ASSIGNMENT, fault: "resetAfterAnswer" },
        ],
        astro: [
          { method: "GET", path: LIST_OBJECTS, fault: "error503" },
          // Applied, answer lost: the retry meets 409 for the key, and the object is known as ours.
          { method: "POST", path: OBJECTS, fault: "resetAfterAnswer" },
        ],
      },
      () => provider.create(planned),
    );
    expect(ledger.lastFaults()).toHaveLength(5);
    expect(astroProxy.requests.some((r) => r.method === "POST" && OBJECTS.test(r.path) && r.status === 409)).toBe(true);
    expect(created.outs.resolved.preExistingAssignment).toBeUndefined();
    expect((await w.credentials()).map((c) => c.properties.subject)).toEqual([
      "system:serviceaccount:ns-one:ns-one-worker-serviceaccount",
    ]);
    expect(await w.assignments()).toHaveLength(1);
    const [object] = await w.objects();
    expect(await w.objects()).toHaveLength(1);
    expect(object?.id).toBe(created.outs.resolved.environmentObjectId);
    expect(object?.connection?.extra).toMatchObject({ managed_identity_client_id: w.identity.properties.clientId });

    const read = await ledger.step(
      "read",
      {
        arm: [
          { method: "GET", path: /\/federatedIdentityCredentials\?/, fault: "error500" },
          { method: "GET", path: ASSIGNMENT, fault: "resetBeforeForward" },
        ],
        astro: [{ method: "GET", path: OBJECT, fault: "throttle" }],
      },
      () => provider.read(created.id, created.outs),
    );
    expect(ledger.lastFaults()).toHaveLength(3);
    expect(read.props.grant).toEqual(created.outs.grant);
    expect(read.props.connection.payload).toEqual(created.outs.connection.payload);

    const next = await plan(provider, w.inputs("ns-two"));
    const updated = await ledger.step(
      "update",
      {
        arm: [{ method: "PUT", path: CREDENTIAL, fault: "slowAnswer" }],
        astro: [{ method: "POST", path: OBJECT, fault: "resetAfterAnswer" }],
      },
      () => provider.update(created.id, read.props, next),
    );
    expect(ledger.lastFaults()).toHaveLength(2);
    expect((await w.credentials()).map((c) => c.properties.subject)).toEqual([
      "system:serviceaccount:ns-two:ns-two-worker-serviceaccount",
    ]);
    expect(await w.objects()).toHaveLength(1);

    await ledger.step(
      "delete",
      {
        // Applied, answers lost: the retries find them gone, which is done.
        arm: [
          { method: "DELETE", path: CREDENTIAL, fault: "resetAfterAnswer" },
          { method: "DELETE", path: ASSIGNMENT, fault: "error503" },
        ],
        astro: [{ method: "DELETE", path: OBJECT, fault: "resetAfterAnswer" }],
      },
      () => provider.delete(created.id, updated.outs),
    );
    expect(ledger.lastFaults()).toHaveLength(3);
    expect(await w.credentials()).toEqual([]);
    expect(await w.assignments()).toEqual([]);
    expect(await w.objects()).toEqual([]);
    expect(await storedCredentials(endpoints().azure.fakeUrl, w.identity.id)).toHaveLength(2);
  });

  it("a credential that cannot be written fails the create with step, identity and tries, and takes the connection back", async () => {
    const w = await world();
    const planned = await plan(provider, w.inputs("ns-fail"));
    const error = await ledger.step(
      "create (ARM throttling)",
      { arm: [{ method: "PUT", path: CREDENTIAL, fault: "throttle", times: Infinity }] },
      () => failure(provider.create(planned)),
    );
    expect(error.message).toMatch(
      new RegExp(
        `^REMOTE_UNAVAILABLE: Azure write credential airflowda-[0-9a-f]+-ns-fail-worker-serviceaccount on managed identity ${w.identity.name} failed after 4 tries \\(429: SubscriptionRequestsThrottled`,
      ),
    );
    expect(await w.credentials()).toEqual([]);
    expect(await w.assignments()).toEqual([]);
    expect(await w.objects()).toEqual([]);
  });

  it("a role assignment that cannot be written fails the create and takes back the credential already written", async () => {
    const w = await world();
    const planned = await plan(provider, w.inputs("ns-partial"));
    const error = await ledger.step(
      "create (assignment refused after the credential)",
      { arm: [{ method: "PUT", path: /\/roleAssignments\//, fault: "error503", times: Infinity }] },
      () => failure(provider.create(planned)),
    );
    expect(error.message).toMatch(/role assignment .* failed after 4 tries/);
    expect(await w.credentials()).toEqual([]);
    expect(await w.assignments()).toEqual([]);
    expect(await w.objects()).toEqual([]);
  });

  it("when every answer of the role assignment's PUT is lost, the create fails and takes back the assignment it made", async () => {
    const w = await world();
    const planned = await plan(provider, w.inputs("ns-assignment-lost"));
    const error = await ledger.step(
      "create (assignment applied, answers lost)",
      { arm: [{ method: "PUT", path: ASSIGNMENT, fault: "resetAfterAnswer", times: Infinity }] },
      () => failure(provider.create(planned)),
    );
    expect(error.message).toMatch(/create role assignment .* failed after \d+ tries/);
    expect(await w.credentials()).toEqual([]);
    expect(await w.assignments()).toEqual([]);
    expect(await w.objects()).toEqual([]);
  });

  it("a connection that cannot be written fails the create with step, target and tries, and takes the grant back", async () => {
    const w = await world();
    const planned = await plan(provider, w.inputs("ns-astro-down"));
    const error = await ledger.step(
      "create (Astro API down)",
      { astro: [{ method: "POST", path: OBJECTS, fault: "error500", times: Infinity }] },
      () => failure(provider.create(planned)),
    );
    expect(error.message).toMatch(
      /^REMOTE_UNAVAILABLE: POST http:\/\/127\.0\.0\.1:\d+\/v1\/organizations\/[^/]+\/environment-objects failed after 4 tries; .*answered 500.*The Astro API is throttling or failing/,
    );
    expect(error.message).not.toContain(SANDBOX_ASTRO_TOKEN);
    expect(await w.credentials()).toEqual([]);
    expect(await w.assignments()).toEqual([]);
    expect(await w.objects()).toEqual([]);
  });
});
