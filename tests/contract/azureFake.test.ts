import { getContinuationToken } from "@azure/arm-msi";
import { randomUUID } from "node:crypto";
import { describe, expect, inject, it } from "vitest";
import {
  BUILT_IN_ROLES,
  type BuiltInRole,
  SANDBOX_AZURE_TOKEN,
  TOKEN_EXCHANGE_AUDIENCE,
  azureClients,
  callCounts,
  createIdentity,
  createResourceGroup,
  deleteIdentity,
  foreignCredentials,
  injectFault,
  resourceGroupScope,
  roleDefinitionId,
  sdkView,
  seedRoleAssignment,
  storageAccountScope,
  storedCredentials,
  storedRoleAssignments,
  uniqueName,
  uniqueSubscriptionId,
} from "../support/azure";

// Every Azure call goes to the https front (url), through Prism, which checks it against
// sandbox/fakes/azure/openapi.json; the admin API is on the fake itself (fakeUrl).
const azure = () => inject("endpoints").azure;
const clients = (subscriptionId: string, options?: { maxRetries?: number }) =>
  azureClients(azure().url, subscriptionId, options);

const ISSUER = "https://oidc.astronomer.example/organizations/cl0rg/deployments/cl0dep";
const credential = (subject: string, audiences = [TOKEN_EXCHANGE_AUDIENCE]) => ({ issuer: ISSUER, subject, audiences });

/** ARM's error body. */
interface ArmError {
  error: { code: string; message: string; target?: string };
}

/** What the SDKs reject with when Azure answers an error. */
interface SdkError {
  statusCode?: number;
  code?: string;
  response?: { headers: { get(name: string): string | undefined }; bodyAsText?: string | null };
}

/** The error an SDK call failed with: HTTP status, ARM's error object, the whole body and the headers. */
async function failure(call: Promise<unknown>) {
  const e = (await call.then(
    () => expect.unreachable("the call succeeded"),
    (err: unknown) => err,
  )) as SdkError;
  const text = e.response?.bodyAsText;
  const body = text ? (JSON.parse(text) as Partial<ArmError>) : undefined;
  return { status: e.statusCode, code: e.code, error: body?.error, body, headers: e.response?.headers };
}

/** Records the HTTP status of each answer an SDK call receives. */
function statuses() {
  const seen: number[] = [];
  return { seen, onResponse: (r: { status: number }) => void seen.push(r.status) };
}

/** A request through the front, as an SDK would send it (bearer token and all) unless told. */
function viaFront(path: string, init: RequestInit & { token?: string | null } = {}) {
  const { token = SANDBOX_AZURE_TOKEN, headers, ...rest } = init;
  return fetch(`${azure().url}${path}`, {
    ...rest,
    headers: {
      ...(token === null ? {} : { authorization: `Bearer ${token}` }),
      ...(rest.body ? { "content-type": "application/json" } : {}),
      ...headers,
    },
  });
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

async function identityWith(credentials = foreignCredentials(2)) {
  const identity = await createIdentity(azure().fakeUrl, { credentials });
  return { identity, ...clients(identity.subscriptionId) };
}

describe("Azure Resource Manager fake, through the https front and Prism, with the official SDKs", () => {
  it("is trusted by the test workers: NODE_EXTRA_CA_CERTS names the sandbox CA", async () => {
    expect(process.env.NODE_EXTRA_CA_CERTS).toMatch(/\.pem$/);
    // Anything but a TLS failure: Prism answers 404 for a path outside the document.
    expect((await viaFront("/")).status).toBe(404);
  });

  describe("user-assigned identities", () => {
    it("answers an identity with its tenant, principal and client ids", async () => {
      const identity = await createIdentity(azure().fakeUrl, { tags: { team: "data" } });
      const { msi } = clients(identity.subscriptionId);
      const got = await msi.userAssignedIdentities.get(identity.resourceGroup, identity.name);
      expect(got).toEqual(sdkView(identity));
      expect(got).toMatchObject({
        type: "Microsoft.ManagedIdentity/userAssignedIdentities",
        tenantId: azure().tenantId,
        isolationScope: "None",
      });
      expect(got.id).toBe(
        `/subscriptions/${identity.subscriptionId}/resourcegroups/${identity.resourceGroup}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${identity.name}`,
      );
    });

    it("answers 404 ResourceNotFound for a missing identity and ResourceGroupNotFound for a missing group", async () => {
      const { identity, msi } = await identityWith([]);
      const missing = await failure(msi.userAssignedIdentities.get(identity.resourceGroup, "gone-id"));
      expect(missing).toMatchObject({
        status: 404,
        error: {
          code: "ResourceNotFound",
          message: `The Resource 'Microsoft.ManagedIdentity/userAssignedIdentities/gone-id' under resource group '${identity.resourceGroup}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`,
        },
      });
      const noGroup = await failure(msi.userAssignedIdentities.get("gone-rg", identity.name));
      expect(noGroup).toMatchObject({
        status: 404,
        error: { code: "ResourceGroupNotFound", message: "Resource group 'gone-rg' could not be found." },
      });
      const parent = await failure(
        msi.federatedIdentityCredentials.createOrUpdate(identity.resourceGroup, "gone-id", "mine", credential("s")),
      );
      expect(parent).toMatchObject({ status: 404, error: { code: "ResourceNotFound" } });
    });
  });

  describe("federated identity credentials", () => {
    it("creates (201), updates (200), reads, lists and deletes credentials, keeping foreign ones", async () => {
      const { identity, msi } = await identityWith();
      const { resourceGroup: rg, name } = identity;
      const created = statuses();
      const mine = await msi.federatedIdentityCredentials.createOrUpdate(rg, name, "astro-scheduler", credential("a"), {
        onResponse: created.onResponse,
      });
      expect(created.seen).toEqual([201]);
      expect(mine).toMatchObject({
        id: `${identity.id}/federatedIdentityCredentials/astro-scheduler`,
        name: "astro-scheduler",
        type: "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials",
        ...credential("a"),
      });

      const updated = statuses();
      await msi.federatedIdentityCredentials.createOrUpdate(rg, name, "astro-scheduler", credential("b"), {
        onResponse: updated.onResponse,
      });
      expect(updated.seen).toEqual([200]);
      expect(await msi.federatedIdentityCredentials.get(rg, name, "astro-scheduler")).toMatchObject(credential("b"));

      const listed = await collect(msi.federatedIdentityCredentials.list(rg, name));
      expect(listed.map((c) => c.name)).toEqual(["foreign-0", "foreign-1", "astro-scheduler"]);

      const deleted = statuses();
      await msi.federatedIdentityCredentials.delete(rg, name, "astro-scheduler", { onResponse: deleted.onResponse });
      await msi.federatedIdentityCredentials.delete(rg, name, "astro-scheduler", { onResponse: deleted.onResponse });
      expect(deleted.seen).toEqual([200, 204]); // Azure answers 204 for one that does not exist

      const stored = await storedCredentials(azure().fakeUrl, identity.id);
      expect(stored.map((c) => c.properties)).toEqual(
        foreignCredentials(2).map(({ issuer, subject, audiences }) => ({ issuer, subject, audiences })),
      );
      const gone = await failure(msi.federatedIdentityCredentials.get(rg, name, "astro-scheduler"));
      expect(gone).toMatchObject({ status: 404, error: { code: "ResourceNotFound" } });
    });

    it("pages the list with $top, following next links that point back at the front", async () => {
      const { identity, msi } = await identityWith(foreignCredentials(5));
      const pages = await collect(
        msi.federatedIdentityCredentials.list(identity.resourceGroup, identity.name, { top: 2 }).byPage(),
      );
      expect(pages.map((p) => p.map((c) => c.name))).toEqual([
        ["foreign-0", "foreign-1"],
        ["foreign-2", "foreign-3"],
        ["foreign-4"],
      ]);
      expect(getContinuationToken(pages[0])).toMatch(new RegExp(`^${azure().url}/subscriptions/.*\\$skiptoken=`));
      expect(await callCounts(azure().fakeUrl, { identity: identity.id })).toEqual({
        FederatedIdentityCredentials_List: 3,
      });
    });

    it("takes at most 20 credentials per identity", async () => {
      const { identity, msi } = await identityWith(foreignCredentials(19));
      const { resourceGroup: rg, name } = identity;
      await msi.federatedIdentityCredentials.createOrUpdate(rg, name, "twentieth", credential("20"));
      const over = await failure(
        msi.federatedIdentityCredentials.createOrUpdate(rg, name, "one-more", credential("21")),
      );
      expect(over).toMatchObject({ status: 400, error: { code: "BadRequest" } });
      expect(over.error?.message).toMatch(/^Too many Federated Identity Credentials\./);
      // A full identity still takes updates of the credentials it has.
      await msi.federatedIdentityCredentials.createOrUpdate(rg, name, "twentieth", credential("20b"));
      expect(await storedCredentials(azure().fakeUrl, identity.id)).toHaveLength(20);
    });

    it("refuses a second credential with the same issuer and subject, naming the one that has them", async () => {
      const foreign = foreignCredentials(1)[0]!;
      const { identity, msi } = await identityWith([foreign]);
      const { resourceGroup: rg, name } = identity;
      const twin = { issuer: foreign.issuer, subject: foreign.subject, audiences: [TOKEN_EXCHANGE_AUDIENCE] };
      const clash = await failure(msi.federatedIdentityCredentials.createOrUpdate(rg, name, "mine", twin));
      expect(clash).toMatchObject({
        status: 400,
        error: {
          code: "BadRequest",
          message: "Issuer and subject combination already exists for this Managed Identity.",
          target: foreign.name,
        },
      });
      // The credential that has them may be written again.
      await msi.federatedIdentityCredentials.createOrUpdate(rg, name, foreign.name, twin);
    });

    it("refuses anything but exactly one audience", async () => {
      const { identity, msi } = await identityWith([]);
      for (const audiences of [[], [TOKEN_EXCHANGE_AUDIENCE, "api://other"]]) {
        const refused = await failure(
          msi.federatedIdentityCredentials.createOrUpdate(identity.resourceGroup, identity.name, "mine", {
            ...credential("a"),
            audiences,
          }),
        );
        expect(refused).toMatchObject({
          status: 400,
          error: { code: "BadRequest", message: "Federated identity credentials must have exactly one audience." },
        });
      }
    });

    it("holds names to Microsoft's pattern: Prism refuses them (422), the fake answers Azure's 400", async () => {
      const { identity, msi } = await identityWith([]);
      const { resourceGroup: rg, name } = identity;
      await msi.federatedIdentityCredentials.createOrUpdate(rg, name, "a_1", credential("ok"));
      for (const bad of ["ab", "-leading-dash", `x${"y".repeat(120)}`]) {
        const viaPrism = await failure(msi.federatedIdentityCredentials.createOrUpdate(rg, name, bad, credential(bad)));
        expect(viaPrism.status).toBe(422);
        expect(JSON.stringify(viaPrism.body)).toMatch(/federatedIdentityCredentialResourceName.*pattern/i);

        const path = `${identity.id}/federatedIdentityCredentials/${bad}?api-version=2024-11-30`;
        const direct = await fetch(`${azure().fakeUrl}${path}`, {
          method: "PUT",
          headers: { authorization: `Bearer ${SANDBOX_AZURE_TOKEN}`, "content-type": "application/json" },
          body: JSON.stringify({ properties: credential(bad) }),
        });
        expect(direct.status).toBe(400);
        expect(await direct.json()).toEqual({
          error: { code: "BadRequest", message: `Federated Identity Credential name '${bad}' is invalid.` },
        });
      }
    });

    it("answers 409 to concurrent writes on one identity, and takes sequential ones", async () => {
      const { identity, msi } = await identityWith([]);
      const { resourceGroup: rg, name } = identity;
      const results = await Promise.allSettled(
        ["one", "two", "three"].map((n) => msi.federatedIdentityCredentials.createOrUpdate(rg, name, n, credential(n))),
      );
      expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
      const refused = await Promise.all(
        results.filter((r) => r.status === "rejected").map((r) => failure(Promise.reject(r.reason))),
      );
      const lowerId = `/subscriptions/${identity.subscriptionId}/resourcegroups/${rg}/providers/microsoft.managedidentity/userassignedidentities/${name}`;
      for (const r of refused) {
        expect(r).toMatchObject({
          status: 409,
          error: {
            code: "ConcurrentFederatedIdentityCredentialsWritesForSingleManagedIdentity",
            message: `Too many Federated Identity Credentials are written concurrently for the managed identity '${lowerId}'. Concurrent Federated Identity Credentials writes under the same managed identity are not supported.`,
          },
        });
      }
      expect(await storedCredentials(azure().fakeUrl, identity.id)).toHaveLength(1);

      // One after the other, each waiting for its answer, never collides; neither do two identities.
      for (const n of ["four", "five"])
        await msi.federatedIdentityCredentials.createOrUpdate(rg, name, n, credential(n));
      await msi.federatedIdentityCredentials.delete(rg, name, "four");
      const other = await createIdentity(azure().fakeUrl, {
        subscriptionId: identity.subscriptionId,
        resourceGroup: rg,
      });
      await Promise.all([
        msi.federatedIdentityCredentials.createOrUpdate(rg, name, "six", credential("six")),
        msi.federatedIdentityCredentials.createOrUpdate(rg, other.name, "six", credential("six")),
      ]);

      // Another writer the client cannot see.
      await injectFault(azure().fakeUrl, {
        operation: "FederatedIdentityCredentials_Delete",
        kind: "concurrentWrite",
        identity: identity.id,
      });
      expect(await failure(msi.federatedIdentityCredentials.delete(rg, name, "five"))).toMatchObject({ status: 409 });
      await msi.federatedIdentityCredentials.delete(rg, name, "five");
    });
  });

  describe("role assignments", () => {
    it("creates, reads, lists and deletes at resource group scope; the same grant under another name is 409", async () => {
      const identity = await createIdentity(azure().fakeUrl);
      const { subscriptionId, resourceGroup } = identity;
      const { authorization } = clients(subscriptionId);
      const scope = resourceGroupScope(subscriptionId, resourceGroup);
      const principalId = identity.properties.principalId;
      const grant = {
        principalId,
        principalType: "ServicePrincipal" as const,
        roleDefinitionId: roleDefinitionId(subscriptionId, "Reader"),
        description: "Airflow Deployment reads the resource group",
      };
      // Someone else gave the same principal a role on the whole subscription.
      const inherited = await seedRoleAssignment(azure().fakeUrl, {
        scope: `/subscriptions/${subscriptionId}`,
        role: "Contributor",
        principalId,
      });

      const name = randomUUID();
      const created = statuses();
      const assignment = await authorization.roleAssignments.create(scope, name, grant, {
        onResponse: created.onResponse,
      });
      expect(created.seen).toEqual([201]);
      expect(assignment).toMatchObject({
        id: `${scope}/providers/Microsoft.Authorization/roleAssignments/${name}`,
        name,
        type: "Microsoft.Authorization/roleAssignments",
        scope,
        ...grant,
      });
      expect(await authorization.roleAssignments.get(scope, name)).toEqual(assignment);

      const listed = await collect(
        authorization.roleAssignments.listForScope(scope, { filter: `principalId eq '${principalId}'` }),
      );
      expect(listed.map((a) => a.name).sort()).toEqual([name, inherited.name].sort());

      const twin = await failure(authorization.roleAssignments.create(scope, randomUUID(), grant));
      expect(twin).toMatchObject({
        status: 409,
        error: {
          code: "RoleAssignmentExists",
          message: `The role assignment already exists. The ID of the existing role assignment is ${name.replaceAll("-", "")}.`,
        },
      });

      const deleted = statuses();
      expect(await authorization.roleAssignments.delete(scope, name, { onResponse: deleted.onResponse })).toMatchObject(
        {
          name,
        },
      );
      await authorization.roleAssignments.delete(scope, name, { onResponse: deleted.onResponse });
      expect(deleted.seen).toEqual([200, 204]);
      expect(await failure(authorization.roleAssignments.get(scope, name))).toMatchObject({
        status: 404,
        error: { code: "RoleAssignmentNotFound", message: `The role assignment '${name}' is not found.` },
      });
      expect(await storedRoleAssignments(azure().fakeUrl, `/subscriptions/${subscriptionId}`)).toHaveLength(1);
    });

    it("works at resource scope, where the SDK sends paths starting with //", async () => {
      const identity = await createIdentity(azure().fakeUrl);
      const { subscriptionId, resourceGroup } = identity;
      const { authorization } = clients(subscriptionId);
      const scope = storageAccountScope(subscriptionId, resourceGroup, "astrodata");
      const name = randomUUID();
      const grant = {
        principalId: identity.properties.principalId,
        principalType: "ServicePrincipal" as const,
        roleDefinitionId: roleDefinitionId(subscriptionId, "Storage Blob Data Contributor"),
      };
      await authorization.roleAssignments.create(scope, name, grant);
      expect(await authorization.roleAssignments.get(scope, name)).toMatchObject({ scope, ...grant });
      expect(
        (await collect(authorization.roleAssignments.listForScope(scope, { filter: "atScope()" }))).map((a) => a.name),
      ).toEqual([name]);
      await authorization.roleAssignments.delete(scope, name);
      expect(await callCounts(azure().fakeUrl, { scope })).toEqual({
        RoleAssignments_Create: 1,
        RoleAssignments_Get: 1,
        RoleAssignments_ListForScope: 1,
        RoleAssignments_Delete: 1,
      });
      // The front collapses `//` and reads ARM's fixed segments in any case, as ARM does.
      const res = await viaFront(
        `//${scope.slice(1).replace("resourceGroups", "resourcegroups")}/providers/microsoft.authorization/roleAssignments?api-version=2022-04-01`,
      );
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ value: [] });
    });

    it("lists what applies: at and above with atScope(), also below without a filter, one principal with principalId", async () => {
      const subscriptionId = uniqueSubscriptionId();
      const { authorization } = clients(subscriptionId);
      const group = (await createResourceGroup(azure().fakeUrl, subscriptionId)).name;
      const rgScope = resourceGroupScope(subscriptionId, group);
      const seeded = {
        subscription: await seedRoleAssignment(azure().fakeUrl, { scope: `/subscriptions/${subscriptionId}` }),
        resourceGroup: await seedRoleAssignment(azure().fakeUrl, { scope: rgScope, principalType: "Group" }),
        resource: await seedRoleAssignment(azure().fakeUrl, {
          scope: storageAccountScope(subscriptionId, group, "below"),
          role: "Storage Blob Data Reader",
        }),
        otherGroup: await seedRoleAssignment(azure().fakeUrl, {
          scope: resourceGroupScope(subscriptionId, uniqueName("rg")),
        }),
      };
      const names = async (filter?: string) =>
        (await collect(authorization.roleAssignments.listForScope(rgScope, filter ? { filter } : {})))
          .map((a) => a.name)
          .sort();
      const sorted = (...a: { name: string }[]) => a.map((x) => x.name).sort();
      expect(await names("atScope()")).toEqual(sorted(seeded.subscription, seeded.resourceGroup));
      expect(await names()).toEqual(sorted(seeded.subscription, seeded.resourceGroup, seeded.resource));
      expect(await names(`principalId eq '${seeded.resource.properties.principalId}'`)).toEqual(
        sorted(seeded.resource),
      );
      expect(await names(`atScope() and principalId eq '${seeded.resource.properties.principalId}'`)).toEqual([]);
    });

    it("refuses a name that is not a GUID: 400 InvalidRoleAssignmentId", async () => {
      const identity = await createIdentity(azure().fakeUrl);
      const { authorization } = clients(identity.subscriptionId);
      const scope = resourceGroupScope(identity.subscriptionId, identity.resourceGroup);
      const grant = {
        principalId: identity.properties.principalId,
        roleDefinitionId: roleDefinitionId(identity.subscriptionId, "Reader"),
      };
      // One call at a time: started together, a rejection not yet awaited would count as unhandled.
      for (const call of [
        () => authorization.roleAssignments.create(scope, "astro-reader", grant),
        () => authorization.roleAssignments.get(scope, "astro-reader"),
        () => authorization.roleAssignments.delete(scope, "astro-reader"),
      ]) {
        expect(await failure(call())).toMatchObject({
          status: 400,
          error: {
            code: "InvalidRoleAssignmentId",
            message: "The role assignment ID 'astro-reader' is not valid. The role assignment ID must be a GUID.",
          },
        });
      }
    });

    it("needs principalType for a principal the directory does not know, and refuses a wrong one", async () => {
      const identity = await createIdentity(azure().fakeUrl);
      const { subscriptionId } = identity;
      const { authorization } = clients(subscriptionId);
      const scope = resourceGroupScope(subscriptionId, identity.resourceGroup);
      const roleId = roleDefinitionId(subscriptionId, "Reader");
      const stranger = randomUUID();

      const unknown = await failure(
        authorization.roleAssignments.create(scope, randomUUID(), { principalId: stranger, roleDefinitionId: roleId }),
      );
      expect(unknown).toMatchObject({ status: 400, error: { code: "PrincipalNotFound" } });
      expect(unknown.error?.message).toMatch(
        new RegExp(`^Principal ${stranger.replaceAll("-", "")} does not exist in the directory ${azure().tenantId}\\.`),
      );
      // Freshly created principals may not have replicated yet: principalType skips the lookup.
      await authorization.roleAssignments.create(scope, randomUUID(), {
        principalId: stranger,
        roleDefinitionId: roleId,
        principalType: "ServicePrincipal",
      });

      const wrongType = await failure(
        authorization.roleAssignments.create(scope, randomUUID(), {
          principalId: identity.properties.principalId,
          roleDefinitionId: roleId,
          principalType: "User",
        }),
      );
      expect(wrongType).toMatchObject({
        status: 400,
        error: {
          code: "UnmatchedPrincipalType",
          message: `The PrincipalId '${identity.properties.principalId.replaceAll("-", "")}' has type 'ServicePrincipal' , which is different from specified PrinciaplType 'User'.`,
        },
      });
    });

    it("keeps a name's scope, principal and role; only the description and condition change", async () => {
      const identity = await createIdentity(azure().fakeUrl);
      const { subscriptionId, resourceGroup } = identity;
      const { authorization } = clients(subscriptionId);
      const scope = resourceGroupScope(subscriptionId, resourceGroup);
      const name = randomUUID();
      const grant = {
        principalId: identity.properties.principalId,
        roleDefinitionId: roleDefinitionId(subscriptionId, "Reader"),
      };
      await authorization.roleAssignments.create(scope, name, grant);
      const again = statuses();
      const described = await authorization.roleAssignments.create(
        scope,
        name,
        { ...grant, description: "now described" },
        { onResponse: again.onResponse },
      );
      expect(again.seen).toEqual([200]);
      expect(described).toMatchObject({ name, description: "now described" });

      for (const change of [
        () =>
          authorization.roleAssignments.create(scope, name, {
            ...grant,
            roleDefinitionId: roleDefinitionId(subscriptionId, "Owner"),
          }),
        () => authorization.roleAssignments.create(`/subscriptions/${subscriptionId}`, name, grant),
      ]) {
        expect(await failure(change())).toMatchObject({
          status: 400,
          error: {
            code: "RoleAssignmentUpdateNotPermitted",
            message: "Tenant ID, application ID, principal ID, and scope are not allowed to be updated.",
          },
        });
      }
    });

    it("answers ResourceGroupNotFound for a scope in a resource group that does not exist", async () => {
      const subscriptionId = uniqueSubscriptionId();
      const { authorization } = clients(subscriptionId);
      const scope = storageAccountScope(subscriptionId, "gone-rg", "data");
      const refused = await failure(
        authorization.roleAssignments.create(scope, randomUUID(), {
          principalId: randomUUID(),
          principalType: "User",
          roleDefinitionId: roleDefinitionId(subscriptionId, "Reader"),
        }),
      );
      expect(refused).toMatchObject({
        status: 404,
        error: { code: "ResourceGroupNotFound", message: "Resource group 'gone-rg' could not be found." },
      });
    });
  });

  describe("role definitions", () => {
    it("resolves each built-in role by name at any scope to its well-known id", async () => {
      const subscriptionId = uniqueSubscriptionId();
      const { authorization } = clients(subscriptionId);
      const group = (await createResourceGroup(azure().fakeUrl, subscriptionId)).name;
      for (const scope of [`/subscriptions/${subscriptionId}`, storageAccountScope(subscriptionId, group, "data")]) {
        for (const role of Object.keys(BUILT_IN_ROLES) as BuiltInRole[]) {
          const found = await collect(authorization.roleDefinitions.list(scope, { filter: `roleName eq '${role}'` }));
          expect(found).toEqual([
            expect.objectContaining({
              id: roleDefinitionId(subscriptionId, role),
              name: BUILT_IN_ROLES[role],
              type: "Microsoft.Authorization/roleDefinitions",
              roleName: role,
              roleType: "BuiltInRole",
            }),
          ]);
        }
      }
      expect(
        await collect(
          authorization.roleDefinitions.list(`/subscriptions/${subscriptionId}`, {
            filter: "roleName eq 'No Such Role'",
          }),
        ),
      ).toEqual([]);
    });

    it("gets a role definition by scope and GUID, and by subscription- or tenant-level id", async () => {
      const subscriptionId = uniqueSubscriptionId();
      const { authorization } = clients(subscriptionId);
      const reader = BUILT_IN_ROLES.Reader;
      expect(await authorization.roleDefinitions.get(`/subscriptions/${subscriptionId}`, reader)).toMatchObject({
        id: roleDefinitionId(subscriptionId, "Reader"),
        roleName: "Reader",
        permissions: [expect.objectContaining({ actions: ["*/read"] })],
      });
      expect(await authorization.roleDefinitions.getById(roleDefinitionId(subscriptionId, "Reader"))).toMatchObject({
        roleName: "Reader",
      });
      const tenantId = `/providers/Microsoft.Authorization/roleDefinitions/${reader}`;
      expect(await authorization.roleDefinitions.getById(tenantId)).toMatchObject({ id: tenantId, roleName: "Reader" });

      const unknown = randomUUID();
      expect(
        await failure(authorization.roleDefinitions.get(`/subscriptions/${subscriptionId}`, unknown)),
      ).toMatchObject({
        status: 404,
        error: {
          code: "RoleDefinitionDoesNotExist",
          message: `The specified role definition with ID '${unknown}' does not exist.`,
        },
      });
    });
  });

  describe("authentication, throttling and server errors", () => {
    it("answers 401 AuthenticationFailed without a bearer token", async () => {
      const identity = await createIdentity(azure().fakeUrl);
      const path = `${identity.id}?api-version=2024-11-30`;
      const res = await viaFront(path, { token: null });
      expect(res.status).toBe(401);
      expect(res.headers.get("sl-violations")).toBeNull();
      expect(res.headers.get("www-authenticate")).toMatch(/^Bearer authorization_uri=.*error="invalid_token"/);
      expect(await res.json()).toEqual({
        error: {
          code: "AuthenticationFailed",
          message: "Authentication failed. The 'Authorization' header is missing.",
        },
      });
      expect((await viaFront(path, { token: null, headers: { authorization: "Bearer " } })).status).toBe(401);
    });

    it("answers 429 with Retry-After and ARM's body; the SDK waits that long and retries", async () => {
      const { identity, msi } = await identityWith([]);
      await injectFault(azure().fakeUrl, {
        operation: "UserAssignedIdentities_Get",
        kind: "throttle",
        retryAfterSeconds: 1,
        identity: identity.id,
        count: 2,
      });
      const res = await viaFront(`${identity.id}?api-version=2024-11-30`);
      expect(res.status).toBe(429);
      expect(res.headers.get("retry-after")).toBe("1");
      expect(res.headers.get("sl-violations")).toBeNull();
      const { error } = (await res.json()) as ArmError;
      expect(error.code).toBe("SubscriptionRequestsThrottled");
      expect(error.message).toMatch(
        new RegExp(
          `^Number of 'read' requests for subscription '${identity.subscriptionId}' actor '.+' exceeded\\. Please try again after '1' seconds`,
        ),
      );

      const t0 = performance.now();
      expect(await msi.userAssignedIdentities.get(identity.resourceGroup, identity.name)).toMatchObject({
        name: identity.name,
      });
      expect(performance.now() - t0).toBeGreaterThanOrEqual(900);
      expect(await callCounts(azure().fakeUrl, { identity: identity.id })).toEqual({ UserAssignedIdentities_Get: 3 });
    });

    it("answers 500 and 503 as ARM does", async () => {
      const { identity } = await identityWith([]);
      const { msi } = clients(identity.subscriptionId, { maxRetries: 0 });
      await injectFault(azure().fakeUrl, {
        operation: "FederatedIdentityCredentials_List",
        kind: "error500",
        identity: identity.id,
      });
      const internal = await failure(
        collect(msi.federatedIdentityCredentials.list(identity.resourceGroup, identity.name)),
      );
      expect(internal).toMatchObject({ status: 500, error: { code: "InternalServerError" } });
      expect(internal.error?.message).toMatch(/^Encountered internal server error\. Diagnostic information: /);
      expect(internal.headers?.get("sl-violations")).toBeUndefined();

      await injectFault(azure().fakeUrl, {
        operation: "FederatedIdentityCredentials_List",
        kind: "error503",
        retryAfterSeconds: 2,
        identity: identity.id,
      });
      const res = await viaFront(`${identity.id}/federatedIdentityCredentials?api-version=2024-11-30`);
      expect(res.status).toBe(503);
      expect(res.headers.get("retry-after")).toBe("2");
      expect(((await res.json()) as ArmError).error.code).toBe("ServiceUnavailable");
    });
  });

  describe("the contract check is live", () => {
    it("refuses a request with a misspelt field before it reaches the fake (422)", async () => {
      const identity = await createIdentity(azure().fakeUrl);
      const res = await viaFront(`${identity.id}/federatedIdentityCredentials/mine?api-version=2024-11-30`, {
        method: "PUT",
        body: JSON.stringify({ properties: { issuer: ISSUER, subject: "s", audience: [TOKEN_EXCHANGE_AUDIENCE] } }),
      });
      expect(res.status).toBe(422);
      expect(JSON.stringify(await res.json())).toMatch(
        /additional properties.*audience|audience.*additional properties/i,
      );

      const scope = resourceGroupScope(identity.subscriptionId, identity.resourceGroup);
      const ra = await viaFront(
        `${scope}/providers/Microsoft.Authorization/roleAssignments/${randomUUID()}?api-version=2022-04-01`,
        {
          method: "PUT",
          body: JSON.stringify({
            properties: {
              principalID: identity.properties.principalId,
              roleDefinitionId: roleDefinitionId(identity.subscriptionId, "Reader"),
            },
          }),
        },
      );
      expect(ra.status).toBe(422);
      expect(JSON.stringify(await ra.json())).toMatch(/principalI/);
      expect(await callCounts(azure().fakeUrl, { identity: identity.id })).toEqual({});
      expect(await callCounts(azure().fakeUrl, { scope })).toEqual({});
    });

    it("fails the SDK call when an answer breaks the contract (500 with sl-violations)", async () => {
      const { identity } = await identityWith();
      const { msi } = clients(identity.subscriptionId, { maxRetries: 0 });
      await injectFault(azure().fakeUrl, {
        operation: "FederatedIdentityCredentials_Get",
        kind: "schema",
        identity: identity.id,
      });
      const broken = await failure(
        msi.federatedIdentityCredentials.get(identity.resourceGroup, identity.name, "foreign-0"),
      );
      expect(broken.status).toBe(500);
      expect(broken.headers?.get("sl-violations")).toMatch(/additional properties.*injectedFault|injectedFault/);
      // One answer only: the next is valid again.
      expect(
        await msi.federatedIdentityCredentials.get(identity.resourceGroup, identity.name, "foreign-0"),
      ).toMatchObject({
        name: "foreign-0",
      });
    });
  });

  it("forgets an identity deleted behind the client's back, and its principal with it", async () => {
    const identity = await createIdentity(azure().fakeUrl);
    const { msi, authorization } = clients(identity.subscriptionId);
    await deleteIdentity(azure().fakeUrl, identity.id);
    expect(await failure(msi.userAssignedIdentities.get(identity.resourceGroup, identity.name))).toMatchObject({
      status: 404,
    });
    const orphan = await failure(
      authorization.roleAssignments.create(
        resourceGroupScope(identity.subscriptionId, identity.resourceGroup),
        randomUUID(),
        {
          principalId: identity.properties.principalId,
          roleDefinitionId: roleDefinitionId(identity.subscriptionId, "Reader"),
        },
      ),
    );
    expect(orphan).toMatchObject({ status: 400, error: { code: "PrincipalNotFound" } });
  });
});
