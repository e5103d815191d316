import { describe, expect, inject, it } from "vitest";
import { AstroEnvironmentConnections } from "../../provider/astro/environmentConnections";
import { ConnectionExistsError } from "../../provider/core/errors";
import type { AstroTarget, ConnectionPayload } from "../../provider/core/types";
import {
  SANDBOX_ASTRO_TOKEN,
  astroClient,
  seedDeployment,
  storedEnvironmentObject,
  storedEnvironmentObjects,
} from "../support/astro";

const astro = () => inject("endpoints").astro;
const sink = () => new AstroEnvironmentConnections({ baseUrl: astro().url, baseDelayMs: 10 });
const credentials = { token: SANDBOX_ASTRO_TOKEN };

/** A Deployment-scoped connection of the seeded Deployment. */
const deploymentTarget = (d: { organizationId: string; id: string }): AstroTarget => ({
  organizationId: d.organizationId,
  scope: "DEPLOYMENT",
  scopeEntityId: d.id,
  links: [],
});

const payload = (region = "us-east-1"): ConnectionPayload => ({
  conn_type: "aws",
  description: "Managed by Pulumi (DeploymentAuthorization demo/dev/s3)",
  extra: { role_arn: "arn:aws:iam::123456789012:role/reader", region_name: region },
});

describe("connections in Astro's Environment Manager, against the Astro API fake (every call validated by Prism)", () => {
  it("a Deployment-scoped connection: created with its id recorded, read, updated, deleted", async () => {
    const d = await seedDeployment(astro().fakeUrl);
    const target = deploymentTarget(d);
    const s = sink();
    const facts = await s.create(target, credentials, "aws_lake", payload());
    expect(facts.environmentObjectId).toMatch(/^c[a-z0-9]{24}$/);
    const stored = await storedEnvironmentObject(astro().fakeUrl, String(facts.environmentObjectId));
    expect(stored).toMatchObject({
      objectKey: "aws_lake",
      objectType: "CONNECTION",
      scope: "DEPLOYMENT",
      scopeEntityId: d.id,
    });
    expect(await s.read(target, credentials, "aws_lake", facts)).toEqual({ payload: payload(), target });

    await expect(s.create(target, credentials, "aws_lake", payload())).rejects.toThrow(ConnectionExistsError);
    expect(await s.update(target, credentials, "aws_lake", payload("eu-west-1"), facts)).toEqual(facts);
    expect((await s.read(target, credentials, "aws_lake", facts))?.payload.extra.region_name).toBe("eu-west-1");

    expect(await s.remove(target, credentials, "aws_lake", facts)).toEqual({ removed: true });
    expect(await s.read(target, credentials, "aws_lake", facts)).toBeUndefined();
    expect(await s.remove(target, credentials, "aws_lake", facts)).toEqual({ removed: false });
  });

  it("a Workspace-scoped connection keeps its links on every update; a link dropped by hand is drift, repaired", async () => {
    const first = await seedDeployment(astro().fakeUrl);
    const second = await seedDeployment(astro().fakeUrl, {
      organizationId: first.organizationId,
      workspaceId: first.workspaceId,
    });
    const target: AstroTarget = {
      organizationId: first.organizationId,
      scope: "WORKSPACE",
      scopeEntityId: first.workspaceId,
      links: [first.id, second.id],
    };
    const s = sink();
    const facts = await s.create(target, credentials, "aws_shared", payload());
    const id = String(facts.environmentObjectId);
    expect((await storedEnvironmentObject(astro().fakeUrl, id)).links.map((l) => l.scopeEntityId)).toEqual([
      first.id,
      second.id,
    ]);

    // Someone edits the object in the UI: the second Deployment's link goes (an update without it clears it).
    const api = astroClient(astro().url);
    await api.updateEnvironmentObject(first.organizationId, id, {
      connection: { type: "aws", extra: payload().extra },
      links: [{ scope: "DEPLOYMENT", scopeEntityId: first.id }],
    });
    const drifted = await s.read(target, credentials, "aws_shared", facts);
    expect(drifted?.target?.links).toEqual([first.id]);

    await s.update(target, credentials, "aws_shared", payload(), facts);
    expect((await s.read(target, credentials, "aws_shared", facts))?.target?.links).toEqual([first.id, second.id]);
    await s.remove(target, credentials, "aws_shared", facts);
    expect(await storedEnvironmentObjects(astro().fakeUrl, first.workspaceId)).toEqual([]);
  });

  it("finds an object by key when state has no id (adopting, or a create interrupted before it was recorded)", async () => {
    const d = await seedDeployment(astro().fakeUrl);
    const target = deploymentTarget(d);
    const made = await sink().create(target, credentials, "aws_by_hand", payload("ap-south-1"));
    const facts = await sink().update(target, credentials, "aws_by_hand", payload(), {});
    expect(facts).toEqual(made);
  });

  it("lists the description of every connection in a scope, page by page, and none of another scope", async () => {
    const [d, other] = [await seedDeployment(astro().fakeUrl), await seedDeployment(astro().fakeUrl)];
    const s = sink();
    const keys = Array.from({ length: 103 }, (_, i) => `aws_claim_${i}`);
    for (let i = 0; i < keys.length; i += 10) {
      await Promise.all(
        keys
          .slice(i, i + 10)
          .map((key) =>
            s.create(deploymentTarget(d), credentials, key, { ...payload(), description: `claim of ${key}` }),
          ),
      );
    }
    await s.create(deploymentTarget(other), credentials, "aws_elsewhere", { ...payload(), description: "elsewhere" });
    const descriptions = await s.descriptions(deploymentTarget(d), credentials);
    expect([...descriptions].sort()).toEqual(keys.map((key) => `claim of ${key}`).sort());
  });

  it("names the missing token and a refused one without echoing it", async () => {
    const d = await seedDeployment(astro().fakeUrl);
    const target = deploymentTarget(d);
    await expect(sink().create(target, {}, "c", payload())).rejects.toMatchObject({
      code: "PERMISSION_DENIED",
      message: expect.stringMatching(/deployment-authorization:astroToken/),
    });
  });
});
