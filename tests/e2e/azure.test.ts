import path from "node:path";
import { describe, expect, inject, it } from "vitest";
import { AirflowConnectionsDriver } from "../../provider/connections/airflow";
import { airflowTarget } from "../support/airflow";
import { AKS_ISSUER } from "../support/fixtures";
import { programStack, repoRoot } from "../support/pulumiProgram";
import {
  azureClients,
  createIdentity,
  foreignCredentials,
  seedRoleAssignment,
  storageAccountScope,
  storedCredentials,
  storedRoleAssignments,
} from "../support/azure";
import { azureEnv } from "../../scripts/toolchain.mjs";

const azure = () => inject("endpoints").azure;

function azureStack(stackName: string, settings: Record<string, string | number>) {
  const server = inject("endpoints").airflow3;
  const config: Record<string, { value: string; secret?: boolean }> = {
    "deployment-authorization:airflowPassword": { value: server.password, secret: true },
    "aze2e:airflowUrl": { value: server.url },
    "aze2e:airflowUsername": { value: server.username },
    "aze2e:issuerUrl": { value: AKS_ISSUER },
  };
  for (const [key, value] of Object.entries(settings)) config[`aze2e:${key}`] = { value: String(value) };
  return programStack({
    program: path.join(repoRoot, "tests/e2e/programs/azure.js"),
    stackName,
    config,
    env: azureEnv(azure().url, azure().caFile) as Record<string, string>,
  });
}

const names = (items: Array<{ name: string }>) => items.map((c) => c.name).sort();

describe("Azure with the real pulumi CLI", () => {
  it("up, no-op preview, refresh, drift of credentials, assignment and connection shown and repaired, destroy leaves exactly the foreign ones; the outputs hold the identity's ids throughout", async () => {
    const foreign = foreignCredentials(2);
    const identity = await createIdentity(azure().fakeUrl, { credentials: foreign });
    const scope = storageAccountScope(identity.subscriptionId, identity.resourceGroup, "lake");
    const foreignAssignment = await seedRoleAssignment(azure().fakeUrl, { scope, role: "Reader" });
    const stack = await azureStack("az-life", { identity: identity.id, scope });
    const connections = new AirflowConnectionsDriver();
    const connectionId = "azure_az_life_0";
    // What apply reads from the identity: the connection holds it, and so must the outputs.
    const { clientId, tenantId, principalId } = identity.properties;
    const applied = {
      managed_identity_client_id: clientId,
      workload_identity_tenant_id: tenantId,
      subscriptionId: identity.subscriptionId,
    };
    const resolvedIds = { clientId, tenantId, principalId, roleAssignment: { principal: principalId } };
    try {
      const up = await stack.stack.up();
      const grant = up.outputs.grants!.value[0];
      expect(grant).toMatchObject({ cloud: "azure", ...resolvedIds, preExistingAssignment: null });
      expect(up.outputs.connections!.value[0].extra).toEqual(applied);
      expect(grant.credentials).toHaveLength(4);
      expect(names(await storedCredentials(azure().fakeUrl, identity.id))).toEqual(
        [...foreign.map((c) => c.name), ...grant.credentials.map((c: { name: string }) => c.name)].sort(),
      );
      const assignments = await storedRoleAssignments(azure().fakeUrl, scope);
      expect(names(assignments)).toEqual([foreignAssignment.name, grant.roleAssignment.name].sort());
      expect(await connections.read(airflowTarget(), connectionId)).toMatchObject({
        conn_type: "azure",
        extra: applied,
      });

      expect((await stack.stack.preview({ diff: true })).changeSummary).toEqual({ same: 3 });

      // State keeps the plan's words; the outputs a refresh makes from it hold the identity's ids.
      expect((await stack.stack.refresh({ runProgram: true })).summary.resourceChanges).toEqual({ same: 3 });
      const refreshed = await stack.stack.outputs();
      expect(refreshed.grants!.value[0]).toMatchObject(resolvedIds);
      expect(refreshed.connections!.value[0].extra).toEqual(applied);

      // Drift by hand: one credential deleted, one re-pointed, the assignment deleted, the connection edited.
      const { msi, authorization } = azureClients(azure().url, identity.subscriptionId);
      const [first, second] = grant.credentials as Array<{ name: string }>;
      await msi.federatedIdentityCredentials.delete(identity.resourceGroup, identity.name, first!.name);
      await msi.federatedIdentityCredentials.createOrUpdate(identity.resourceGroup, identity.name, second!.name, {
        issuer: AKS_ISSUER,
        subject: "system:serviceaccount:az-life-ns0:intruder",
        audiences: ["api://AzureADTokenExchange"],
      });
      await authorization.roleAssignments.delete(scope, grant.roleAssignment.name);
      const payload = (await connections.read(airflowTarget(), connectionId))!;
      await connections.update(airflowTarget(), connectionId, {
        ...payload,
        extra: { ...payload.extra, subscriptionId: "someone-else" },
      });

      const preview = await stack.stack.preview({ diff: true, refresh: true });
      expect(preview.changeSummary.update).toBe(1);
      expect(preview.stdout).toMatch(/credentials/);
      expect(preview.stdout).toMatch(/intruder/);
      expect(preview.stdout).toMatch(/roleAssignment/);
      expect(preview.stdout).toMatch(/someone-else/);

      const repairedUp = await stack.stack.up({ refresh: true });
      expect(repairedUp.outputs.connections!.value[0].extra).toEqual(applied);
      const repaired = await storedCredentials(azure().fakeUrl, identity.id);
      expect(names(repaired)).toEqual(
        [...foreign.map((c) => c.name), ...grant.credentials.map((c: { name: string }) => c.name)].sort(),
      );
      expect(repaired.find((c) => c.name === second!.name)?.properties.subject).toBe(
        "system:serviceaccount:az-life-ns0:az-life-ns0-worker-serviceaccount",
      );
      expect(names(await storedRoleAssignments(azure().fakeUrl, scope))).toEqual(
        [foreignAssignment.name, grant.roleAssignment.name].sort(),
      );
      expect((await connections.read(airflowTarget(), connectionId))?.extra.subscriptionId).toBe(
        identity.subscriptionId,
      );

      await stack.stack.destroy();
      expect(names(await storedCredentials(azure().fakeUrl, identity.id))).toEqual(foreign.map((c) => c.name).sort());
      expect(names(await storedRoleAssignments(azure().fakeUrl, scope))).toEqual([foreignAssignment.name]);
      expect(await connections.read(airflowTarget(), connectionId)).toBeUndefined();
    } finally {
      await stack.dispose();
    }
  });

  it("a sixth Deployment on one identity fails before any write of its own; the first five stay intact", async () => {
    const identity = await createIdentity(azure().fakeUrl);
    const stack = await azureStack("az-six", { identity: identity.id, count: 6 });
    const connections = new AirflowConnectionsDriver();
    try {
      const failure = await stack.stack.up().then(
        () => undefined,
        (e: Error) => e,
      );
      expect(failure?.message).toMatch(/would hold 24 federated identity credentials .* over Entra's limit of 20/);
      expect(failure?.message).toMatch(/another managed identity/);
      const stored = await storedCredentials(azure().fakeUrl, identity.id);
      expect(stored).toHaveLength(20);
      const namespaces = new Set(stored.map((c) => c.properties.subject.split(":")[2]));
      expect(namespaces.size).toBe(5);
      const made = await Promise.all(
        Array.from({ length: 6 }, (_, i) => connections.read(airflowTarget(), `azure_az_six_${i}`)),
      );
      // The one that failed wrote neither credentials nor its connection.
      const missing = made.flatMap((c, i) => (c ? [] : [i]));
      expect(missing).toHaveLength(1);
      expect(namespaces.has(`az-six-ns${missing[0]}`)).toBe(false);

      await stack.stack.destroy();
      expect(await storedCredentials(azure().fakeUrl, identity.id)).toEqual([]);
    } finally {
      await stack.dispose();
    }
  });
});
