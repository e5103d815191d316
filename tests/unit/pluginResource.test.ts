import { describe, expect, it } from "vitest";
import * as pulumi from "@pulumi/pulumi";
import { servedResource } from "../../sdk/plugin/resource";
import { markSecret, unwrapProperties } from "../../sdk/plugin/secrets";
import { memoryAwsProvider } from "../support/memoryDrivers";
import { rawInputs } from "../support/fixtures";

const URN =
  "urn:pulumi:dev::demo::deployment-authorization:index:DeploymentAuthorization$deployment-authorization:index:Authorization::s3-reader";
const secret = (value: unknown) => ({ [pulumi.runtime.specialSigKey]: pulumi.runtime.specialSecretSig, value });
const isSecret = (value: unknown) =>
  typeof value === "object" &&
  value !== null &&
  (value as Record<string, unknown>)[pulumi.runtime.specialSigKey] === pulumi.runtime.specialSecretSig;

describe("the plugin's resource (the dynamic provider's methods, secrets unwrapped and marked)", () => {
  it("unwraps secrets at any depth and names the top-level keys that held one", () => {
    const { plain, secretKeys } = unwrapProperties({ a: { b: [secret("x")] }, c: "plain", d: secret({ e: 1 }) });
    expect(plain).toEqual({ a: { b: ["x"] }, c: "plain", d: { e: 1 } });
    expect([...secretKeys].sort()).toEqual(["a", "d"]);
    expect(markSecret({ a: 1, b: 2 }, ["a", "missing"])).toEqual({ a: secret(1), b: 2 });
    expect(markSecret({ a: secret(1) }, ["a"])).toEqual({ a: secret(1) });
  });

  it("creates through the provider with the plain token, and keeps credentials and secret inputs secret in state", async () => {
    const { provider, connections, trust } = memoryAwsProvider();
    const served = servedResource(() => provider);
    const news = rawInputs({
      credentials: secret({ token: "tok-secret-1" }),
      workloadIdentity: secret(rawInputs().workloadIdentity),
    });
    const checked = await served.check(URN, {}, news);
    expect(checked.failures).toBeUndefined();
    expect(isSecret(checked.inputs.credentials)).toBe(true);
    expect(isSecret(checked.inputs.workloadIdentity)).toBe(true);
    expect(isSecret(checked.inputs.grant)).toBe(false);

    const created = await served.create(URN, checked.inputs);
    expect(connections.seenCredentials.at(-1)).toEqual({ token: "tok-secret-1" });
    expect(isSecret(created.outs.credentials)).toBe(true);
    expect(unwrapProperties(created.outs).plain.credentials).toEqual({ token: "tok-secret-1" });
    expect(JSON.stringify({ ...created.outs, credentials: undefined })).not.toContain("tok-secret-1");
    expect(trust.writes).toBe(1);

    const read = await served.read(created.id, URN, created.outs);
    expect(isSecret(read.props.credentials)).toBe(true);
    expect(isSecret(read.inputs.credentials)).toBe(true);
    expect(await served.diff(created.id, URN, read.props, checked.inputs)).toMatchObject({ changes: false });

    await served.delete(created.id, URN, read.props);
    expect(connections.store.size).toBe(0);
  });

  it("names the field in a check failure, before any remote call", async () => {
    const { provider, trust } = memoryAwsProvider();
    const checked = await servedResource(() => provider).check(URN, {}, rawInputs({ workloadIdentity: "nope" }));
    expect(checked.failures).toEqual([{ property: "", reason: expect.stringMatching(/^workloadIdentity = "nope": /) }]);
    expect(trust.writes).toBe(0);
  });

  it("refuses a type that is not its own", async () => {
    const { provider } = memoryAwsProvider();
    await expect(
      servedResource(() => provider).check("urn:pulumi:dev::demo::aws:iam/role:Role::r", {}, rawInputs()),
    ).rejects.toThrow(/unknown resource type aws:iam\/role:Role/);
  });
});
