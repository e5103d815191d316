import { describe, expect, inject, it } from "vitest";
import { AuthorizationError, TargetMissingError } from "../../provider/core/errors";
import { AzureFederationDriver } from "../../provider/grants/azure/driver";
import type { AzureGrant, AzureResolved } from "../../provider/grants/azure/plan";
import { AKS_ISSUER, azureInputs, plannedAzure } from "../support/fixtures";
import {
  BUILT_IN_ROLES,
  FakeIdentity,
  SANDBOX_AZURE_TOKEN,
  callCounts,
  createIdentity,
  deleteIdentity,
  fakeAdmin,
  foreignCredentials,
  injectFault,
  seedRoleAssignment,
  storageAccountScope,
  storedCredentials,
  storedRoleAssignments,
} from "../support/azure";

const azure = () => inject("endpoints").azure;
const driver = () =>
  new AzureFederationDriver({ endpoint: azure().url, accessToken: SANDBOX_AZURE_TOKEN, baseDelayMs: 20 });

function grantFor(identity: FakeIdentity, namespace: string, azureExtra: Record<string, unknown> = {}): AzureGrant {
  return plannedAzure(azureInputs({ identity: identity.id, namespace, ...azureExtra })).grant;
}

const names = (credentials: Array<{ name: string }>) => credentials.map((c) => c.name).sort();

describe("Azure federation driver against the ARM fake (every call validated by Prism)", () => {
  it("adds four credentials beside foreign ones, reads them, and takes back only its own", async () => {
    const foreign = foreignCredentials(3);
    const identity = await createIdentity(azure().fakeUrl, { credentials: foreign });
    const d = driver();
    const grant = grantFor(identity, "celestial-galaxy-1234");

    const { changed, resolved } = await d.ensure(grant);
    expect(changed).toBe(true);
    expect(resolved).toEqual({
      principalId: identity.properties.principalId,
      clientId: identity.properties.clientId,
      tenantId: identity.properties.tenantId,
    });
    const stored = await storedCredentials(azure().fakeUrl, identity.id);
    expect(names(stored)).toEqual([...foreign.map((c) => c.name), ...grant.credentials.map((c) => c.name)].sort());
    for (const c of grant.credentials) {
      expect(stored.find((s) => s.name === c.name)?.properties).toEqual({
        issuer: AKS_ISSUER,
        subject: c.subject,
        audiences: ["api://AzureADTokenExchange"],
      });
    }
    expect((await d.ensure(grant, { grant, resolved })).changed).toBe(false);
    expect((await d.read(grant, resolved)).grant.credentials).toEqual(grant.credentials);

    expect(await d.remove(grant, resolved)).toEqual({ removed: true });
    expect(names(await storedCredentials(azure().fakeUrl, identity.id))).toEqual(foreign.map((c) => c.name).sort());
  });

  it("sees a credential deleted or edited by hand, and puts it back", async () => {
    const identity = await createIdentity(azure().fakeUrl);
    const d = driver();
    const grant = grantFor(identity, "drift-ns");
    const { resolved } = await d.ensure(grant);
    const [first, second] = grant.credentials;
    const { msi } = await import("../support/azure").then((m) => m.azureClients(azure().url, identity.subscriptionId));
    await msi.federatedIdentityCredentials.delete(identity.resourceGroup, identity.name, first!.name);
    await msi.federatedIdentityCredentials.createOrUpdate(identity.resourceGroup, identity.name, second!.name, {
      issuer: AKS_ISSUER,
      subject: "system:serviceaccount:drift-ns:someone-else",
      audiences: ["api://AzureADTokenExchange"],
    });
    const live = (await d.read(grant, resolved)).grant.credentials;
    expect(live.map((c) => c.name)).not.toContain(first!.name);
    expect(live.find((c) => c.name === second!.name)?.subject).toBe("system:serviceaccount:drift-ns:someone-else");

    expect((await d.ensure(grant, { grant: { ...grant, credentials: live }, resolved })).changed).toBe(true);
    expect((await d.read(grant, resolved)).grant.credentials).toEqual(grant.credentials);
  });

  it("predicts Entra's 20-credential limit before any write, counting foreign credentials", async () => {
    const identity = await createIdentity(azure().fakeUrl, { credentials: foreignCredentials(17) });
    const d = driver();
    const failure = await d.ensure(grantFor(identity, "too-many")).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(AuthorizationError);
    expect(failure).toMatchObject({
      code: "QUOTA_EXCEEDED",
      message: expect.stringMatching(
        /would hold 21 .* \(now 17, 17 of them not made by this package; this Deployment needs 4 more\), over Entra's limit of 20/,
      ),
    });
    expect(
      (await callCounts(azure().fakeUrl, { identity: identity.id })).FederatedIdentityCredentials_CreateOrUpdate,
    ).toBeUndefined();
  });

  it("reports a hand-made credential for the same issuer and subject, and adopts it only when asked", async () => {
    const grantOf = (identity: FakeIdentity, adopt: boolean) =>
      grantFor(identity, "twin-ns", { serviceAccounts: ["worker"], adoptExistingCredentials: adopt });
    const identity = await createIdentity(azure().fakeUrl, {
      credentials: [
        { name: "by-hand", issuer: AKS_ISSUER, subject: "system:serviceaccount:twin-ns:twin-ns-worker-serviceaccount" },
      ],
    });
    const d = driver();
    const refused = await d.ensure(grantOf(identity, false)).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(AuthorizationError);
    expect((refused as AuthorizationError).code).toBe("CONFLICT");
    expect((refused as Error).message).toMatch(/already has credential by-hand .*azure\.adoptExistingCredentials/);
    const grant = grantOf(identity, true);
    const adopted = await d.ensure(grant);
    expect(adopted.resolved.adoptedCredentials).toEqual(["by-hand"]);
    expect(names(await storedCredentials(azure().fakeUrl, identity.id))).toEqual(["by-hand"]);
    // Taken over: read as ours in the plan's terms, and deleted with the resource.
    expect((await d.read(grant, adopted.resolved)).grant.credentials).toEqual(grant.credentials);
    await d.remove(grant, adopted.resolved);
    expect(await storedCredentials(azure().fakeUrl, identity.id)).toEqual([]);
  });

  it("retries a write that another writer's concurrent write refused (409)", async () => {
    const identity = await createIdentity(azure().fakeUrl);
    await injectFault(azure().fakeUrl, {
      operation: "FederatedIdentityCredentials_CreateOrUpdate",
      kind: "concurrentWrite",
      count: 2,
      identity: identity.id,
    });
    const grant = grantFor(identity, "busy-ns", { serviceAccounts: ["worker"] });
    expect((await driver().ensure(grant)).changed).toBe(true);
    expect(names(await storedCredentials(azure().fakeUrl, identity.id))).toEqual(names(grant.credentials));
    expect(
      (await callCounts(azure().fakeUrl, { identity: identity.id })).FederatedIdentityCredentials_CreateOrUpdate,
    ).toBe(3);
  });

  it("shares one role assignment between Deployments and removes it with the last of them", async () => {
    const identity = await createIdentity(azure().fakeUrl);
    const scope = storageAccountScope(identity.subscriptionId, identity.resourceGroup, "lake");
    const roleAssignment = { scope, role: "Storage Blob Data Reader" };
    const d = driver();
    const a = grantFor(identity, "team-a", { roleAssignment });
    const b = grantFor(identity, "team-b", { roleAssignment });
    expect(a.roleAssignment!.name).toBe(b.roleAssignment!.name);

    const ra = await d.ensure(a);
    const rb = await d.ensure(b);
    expect(ra.resolved.roleDefinitionId).toMatch(new RegExp(`${BUILT_IN_ROLES["Storage Blob Data Reader"]}$`));
    const assignments = await storedRoleAssignments(azure().fakeUrl, scope, identity.properties.principalId);
    expect(assignments.map((x) => x.name)).toEqual([a.roleAssignment!.name]);
    expect(assignments[0]!.properties.principalType).toBe("ServicePrincipal");

    await d.remove(a, ra.resolved);
    expect(await storedRoleAssignments(azure().fakeUrl, scope, identity.properties.principalId)).toHaveLength(1);
    await d.remove(b, rb.resolved);
    expect(await storedRoleAssignments(azure().fakeUrl, scope, identity.properties.principalId)).toHaveLength(0);
    expect(await storedCredentials(azure().fakeUrl, identity.id)).toEqual([]);
  });

  it("records an equal assignment made by hand under another name, and never deletes it", async () => {
    const identity = await createIdentity(azure().fakeUrl);
    const scope = storageAccountScope(identity.subscriptionId, identity.resourceGroup, "lake");
    const foreign = await seedRoleAssignment(azure().fakeUrl, {
      scope,
      role: "Storage Blob Data Reader",
      principalId: identity.properties.principalId,
      principalType: "ServicePrincipal",
    });
    const other = await seedRoleAssignment(azure().fakeUrl, { scope, role: "Reader" });
    const d = driver();
    const grant = grantFor(identity, "hand-ns", { roleAssignment: { scope, role: "Storage Blob Data Reader" } });
    const { resolved } = await d.ensure(grant);
    expect(resolved.preExistingAssignment).toBe(foreign.id);
    await d.remove(grant, resolved as AzureResolved);
    const left = (await storedRoleAssignments(azure().fakeUrl, scope)).map((x) => x.name).sort();
    expect(left).toEqual([foreign.name, other.name].sort());
  });

  it("a deleted identity is a clear error naming it, never re-created", async () => {
    const identity = await createIdentity(azure().fakeUrl);
    await deleteIdentity(azure().fakeUrl, identity.id);
    const grant = grantFor(identity, "gone-ns");
    const failure = await driver()
      .ensure(grant)
      .catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(TargetMissingError);
    expect((failure as Error).message).toMatch(new RegExp(`managed identity ${identity.name} .* does not exist`));
    await expect(driver().read(grant, { principalId: "", clientId: "", tenantId: "" })).rejects.toMatchObject({
      code: "TARGET_MISSING",
    });
    expect(
      await fakeAdmin(azure().fakeUrl, "GET", `calls?identity=${encodeURIComponent(identity.id)}`),
    ).not.toHaveProperty("FederatedIdentityCredentials_CreateOrUpdate");
  });
});
