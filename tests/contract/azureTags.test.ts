import { describe, expect, inject, it } from "vitest";
import { AuthorizationError, TargetMissingError } from "../../provider/core/errors";
import { AzureFederationDriver, CLAIM_TAG_PREFIX, TAG_LIMIT } from "../../provider/grants/azure/driver";
import {
  SANDBOX_AZURE_TOKEN,
  azureClients,
  callCounts,
  createIdentity,
  deleteIdentity,
  injectFault,
  storedTags,
} from "../support/azure";

// Every Azure call goes to the https front (url), through Prism, which checks it against
// sandbox/fakes/azure/openapi.json; the admin API is on the fake itself (fakeUrl).
const azure = () => inject("endpoints").azure;
const driver = () => new AzureFederationDriver({ endpoint: azure().url, accessToken: SANDBOX_AZURE_TOKEN });

const TAGS_VERSION = "2021-04-01";

/** Tags at scope on `identityId`, as ARM's REST API takes it (the call the driver makes, by hand). */
async function tagsAt(identityId: string, method: "GET" | "PATCH" | "PUT" | "DELETE", body?: unknown) {
  const response = await fetch(
    `${azure().url}${identityId}/providers/Microsoft.Resources/tags/default?api-version=${TAGS_VERSION}`,
    {
      method,
      headers: {
        authorization: `Bearer ${SANDBOX_AZURE_TOKEN}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    },
  );
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined };
}

const patch = (identityId: string, operation: string, tags: Record<string, string>) =>
  tagsAt(identityId, "PATCH", { operation, properties: { tags } });

const manyTags = (n: number, prefix = "cost") =>
  Object.fromEntries(Array.from({ length: n }, (_, i) => [`${prefix}-${i}`, `v${i}`]));

describe("ARM Tags at scope on a managed identity, in the fake (every call validated by Prism)", () => {
  it("reads the identity's tags, which the identity's own GET shows as well", async () => {
    const identity = await createIdentity(azure().fakeUrl, { tags: { team: "data" } });
    const got = await tagsAt(identity.id, "GET");
    expect(got).toEqual({
      status: 200,
      body: {
        id: `${identity.id}/providers/Microsoft.Resources/tags/default`,
        name: "default",
        type: "Microsoft.Resources/tags",
        properties: { tags: { team: "data" } },
      },
    });
    await patch(identity.id, "Merge", { owner: "platform" });
    const { msi } = azureClients(azure().url, identity.subscriptionId);
    const seen = await msi.userAssignedIdentities.get(identity.resourceGroup, identity.name);
    expect(seen.tags).toEqual({ team: "data", owner: "platform" });
  });

  it("Merge adds the given names and replaces their values, leaving the others (names are case-insensitive)", async () => {
    const identity = await createIdentity(azure().fakeUrl, { tags: { team: "data", Owner: "alice" } });
    const merged = await patch(identity.id, "Merge", { owner: "bob", env: "prod" });
    expect(merged.status).toBe(200);
    expect(merged.body?.properties).toEqual({ tags: { team: "data", Owner: "bob", env: "prod" } });
    expect(await storedTags(azure().fakeUrl, identity.id)).toEqual({ team: "data", Owner: "bob", env: "prod" });
  });

  it("Delete removes a name/value pair, keeps a name whose value differs, and removes a name given with no value", async () => {
    const identity = await createIdentity(azure().fakeUrl, { tags: { team: "data", env: "prod", owner: "bob" } });
    expect((await patch(identity.id, "Delete", { team: "data", env: "test" })).body?.properties).toEqual({
      tags: { env: "prod", owner: "bob" },
    });
    expect((await patch(identity.id, "Delete", { OWNER: "" })).body?.properties).toEqual({ tags: { env: "prod" } });
    expect((await patch(identity.id, "Delete", { absent: "x" })).status).toBe(200);
  });

  it("Replace and PUT set the whole set; DELETE removes every tag", async () => {
    const identity = await createIdentity(azure().fakeUrl, { tags: { team: "data" } });
    expect((await patch(identity.id, "Replace", { a: "1" })).body?.properties).toEqual({ tags: { a: "1" } });
    const put = await tagsAt(identity.id, "PUT", { properties: { tags: { b: "2" } } });
    expect(put).toMatchObject({ status: 200, body: { properties: { tags: { b: "2" } } } });
    expect((await tagsAt(identity.id, "DELETE")).status).toBe(200);
    expect(await storedTags(azure().fakeUrl, identity.id)).toEqual({});
  });

  it("refuses a write that would leave more than 50 tags, and changes nothing", async () => {
    const identity = await createIdentity(azure().fakeUrl, { tags: manyTags(50) });
    const refused = await patch(identity.id, "Merge", { one: "more" });
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({ error: { message: expect.stringContaining("at most 50") } });
    expect(Object.keys(await storedTags(azure().fakeUrl, identity.id))).toHaveLength(50);
    // Replacing a value is no new tag.
    expect((await patch(identity.id, "Merge", { "cost-0": "changed" })).status).toBe(200);
  });

  it("answers 404 ResourceNotFound for an identity that does not exist", async () => {
    const identity = await createIdentity(azure().fakeUrl);
    await deleteIdentity(azure().fakeUrl, identity.id);
    for (const got of [await tagsAt(identity.id, "GET"), await patch(identity.id, "Merge", { a: "1" })]) {
      expect(got).toMatchObject({ status: 404, body: { error: { code: "ResourceNotFound" } } });
    }
  });
});

describe("claims kept as the identity's tags by the Azure driver", () => {
  it("records one tag per instance beside foreign tags, lists them, and releases only its own", async () => {
    const identity = await createIdentity(azure().fakeUrl, { tags: { team: "data" } });
    const d = driver();
    await d.recordClaim(identity.id, "a1b2c3d4e5f6", ["0badc0de", "deadbeef"]);
    await d.recordClaim(identity.id, "f6e5d4c3b2a1", ["deadbeef"]);
    expect(await storedTags(azure().fakeUrl, identity.id)).toEqual({
      team: "data",
      [`${CLAIM_TAG_PREFIX}a1b2c3d4e5f6`]: "0badc0de deadbeef",
      [`${CLAIM_TAG_PREFIX}f6e5d4c3b2a1`]: "deadbeef",
    });
    expect(await d.listClaims(identity.id)).toEqual(
      new Map([
        ["a1b2c3d4e5f6", ["0badc0de", "deadbeef"]],
        ["f6e5d4c3b2a1", ["deadbeef"]],
      ]),
    );
    // A claim recorded again replaces the instance's earlier one.
    await d.recordClaim(identity.id, "a1b2c3d4e5f6", ["deadbeef"]);
    await d.releaseClaim(identity.id, "f6e5d4c3b2a1");
    await d.releaseClaim(identity.id, "f6e5d4c3b2a1");
    expect(await storedTags(azure().fakeUrl, identity.id)).toEqual({
      team: "data",
      [`${CLAIM_TAG_PREFIX}a1b2c3d4e5f6`]: "deadbeef",
    });
  });

  it("refuses with QUOTA_EXCEEDED before writing when the identity has 50 tags, naming it", async () => {
    const identity = await createIdentity(azure().fakeUrl, { tags: manyTags(TAG_LIMIT) });
    const error = await driver()
      .recordClaim(identity.id, "a1b2c3d4e5f6", ["deadbeef"])
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthorizationError);
    expect(error).toMatchObject({ code: "QUOTA_EXCEEDED" });
    expect((error as Error).message).toContain(`managed identity ${identity.name} has 50 tags`);
    expect((error as Error).message).toContain(`az tag list --resource-id ${identity.id}`);
    expect((await callCounts(azure().fakeUrl, { identity: identity.id })).Tags_UpdateAtScope).toBeUndefined();
  });

  it("says which permission is missing when ARM refuses the tag write (403)", async () => {
    const identity = await createIdentity(azure().fakeUrl);
    await injectFault(azure().fakeUrl, { operation: "Tags_UpdateAtScope", kind: "forbidden", identity: identity.id });
    const error = await driver()
      .recordClaim(identity.id, "a1b2c3d4e5f6", ["deadbeef"])
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "PERMISSION_DENIED" });
    expect((error as Error).message).toContain("AuthorizationFailed");
    expect((error as Error).message).toContain("Microsoft.Resources/tags/write");
    expect((error as Error).message).toContain(`managed identity ${identity.name}`);
    expect((error as Error).message).toMatch(/their roles\. This resource keeps its claim/);
  });

  it("retries a tag write that ARM throttles (429 with Retry-After), as every other call", async () => {
    const identity = await createIdentity(azure().fakeUrl);
    await injectFault(azure().fakeUrl, {
      operation: "Tags_UpdateAtScope",
      kind: "throttle",
      retryAfterSeconds: 0,
      identity: identity.id,
    });
    await driver().recordClaim(identity.id, "a1b2c3d4e5f6", ["deadbeef"]);
    expect(await storedTags(azure().fakeUrl, identity.id)).toEqual({ [`${CLAIM_TAG_PREFIX}a1b2c3d4e5f6`]: "deadbeef" });
    expect((await callCounts(azure().fakeUrl, { identity: identity.id })).Tags_UpdateAtScope).toBe(2);
  });

  it("a missing identity: recording and listing name it; releasing succeeds", async () => {
    const identity = await createIdentity(azure().fakeUrl);
    await deleteIdentity(azure().fakeUrl, identity.id);
    const d = driver();
    await expect(d.recordClaim(identity.id, "a1b2c3d4e5f6", ["deadbeef"])).rejects.toBeInstanceOf(TargetMissingError);
    await expect(d.listClaims(identity.id)).rejects.toThrow(identity.name);
    await expect(d.releaseClaim(identity.id, "a1b2c3d4e5f6")).resolves.toBeUndefined();
  });
});
