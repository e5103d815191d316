import {
  CreateOpenIDConnectProviderCommand,
  DeleteRoleCommand,
  GetOpenIDConnectProviderCommand,
  ListOpenIDConnectProvidersCommand,
  UpdateAssumeRolePolicyCommand,
} from "@aws-sdk/client-iam";
import { describe, expect, inject, it } from "vitest";
import { AwsIamTrustDriver } from "../../provider/grants/aws/driver";
import { TargetMissingError } from "../../provider/core/errors";
import { entriesAt, findStatement, minify, statementsOf } from "../../provider/grants/aws/trustPolicy";
import { createRole, iamClient, setTrustPolicy, trustPolicyOf, uniqueName } from "../support/aws";
import { FOREIGN_COUNT, PlannedAws, foreignPolicy, planned, rawInputs, trustInputs } from "../support/fixtures";

const moto = () => inject("endpoints").moto.url;

/** A new role in moto whose trust policy holds only statements someone else wrote. */
async function foreignRole(prefix: string) {
  const client = iamClient(moto());
  const name = uniqueName(prefix);
  return { client, name, arn: await createRole(client, name, foreignPolicy()) };
}

/** The grant the provider plans for these inputs, so the contract is the product's, not a test's. */
function grantFor(role: string, overrides: Record<string, unknown> = {}): PlannedAws["grant"] {
  return planned({ ...rawInputs(), ...overrides, aws: { targetRole: role, region: "us-east-1" } }).grant;
}

const identity = (n: number | string) => `arn:aws:iam::111122223333:role/astro-ns${n}`;
const byIdentity = (role: string, n: number | string) => grantFor(role, { workloadIdentity: identity(n) });

function webIdentityGrant(role: string, issuerUrl: string, namespace: string, extra: Record<string, unknown> = {}) {
  return planned(trustInputs(role, { kind: "webIdentity", issuerUrl, namespace, ...extra })).grant;
}

describe("AWS IAM trust driver against moto", () => {
  it("keeps foreign statements of every shape unchanged through create, update and delete", async () => {
    const { client, name, arn } = await foreignRole("reader");
    const driver = new AwsIamTrustDriver({ client });
    const original = minify(await trustPolicyOf(client, name));
    expect(original).toBe(minify(foreignPolicy()));

    const first = byIdentity(arn, 1);
    expect(await driver.ensure(first)).toEqual({ roleArn: arn, changed: true, foundEntries: [] });
    let live = statementsOf(await trustPolicyOf(client, name));
    expect(live.slice(0, FOREIGN_COUNT)).toEqual(statementsOf(foreignPolicy()));
    expect(live[FOREIGN_COUNT]).toEqual(first.statement);
    // Found the second time: our statement held the entry before this call.
    expect(await driver.ensure(first)).toEqual({
      roleArn: arn,
      changed: false,
      foundEntries: entriesAt(first.statement, first.entryPath),
    });

    const second = byIdentity(name, 2);
    await driver.ensure(second);
    await driver.remove(first);
    live = statementsOf(await trustPolicyOf(client, name));
    expect(live.slice(0, FOREIGN_COUNT)).toEqual(statementsOf(foreignPolicy()));
    expect(live).toHaveLength(FOREIGN_COUNT + 1);

    expect(await driver.read(second)).toEqual({ roleArn: arn, statement: second.statement });
    expect(await driver.read(first)).toEqual({ roleArn: arn, statement: undefined });
    expect(await driver.remove(second)).toEqual({ removed: true });
    expect(minify(await trustPolicyOf(client, name))).toBe(original);
    expect(await driver.remove(second)).toEqual({ removed: false });
  });

  it("sees an entry removed by someone else as absent, and puts it back", async () => {
    const { client, name, arn } = await foreignRole("drift");
    const driver = new AwsIamTrustDriver({ client });
    const grant = byIdentity(arn, "d");
    await driver.ensure(grant);
    await setTrustPolicy(client, name, foreignPolicy());
    expect((await driver.read(grant)).statement).toBeUndefined();
    await driver.ensure(grant);
    expect((await driver.read(grant)).statement).toEqual(grant.statement);
  });

  it("reports a missing role clearly and never creates it", async () => {
    const { client, name, arn } = await foreignRole("gone");
    await client.send(new DeleteRoleCommand({ RoleName: name }));
    const driver = new AwsIamTrustDriver({ client });
    const grant = byIdentity(arn, 1);
    for (const attempt of [() => driver.read(grant), () => driver.ensure(grant), () => driver.remove(grant)]) {
      await expect(attempt()).rejects.toThrow(TargetMissingError);
    }
    await expect(driver.read(grant)).rejects.toThrow(/IAM role gone-[0-9a-f]+ does not exist.*never creates a role/);
  });

  it("refuses an ARN whose account differs from the role found", async () => {
    const { client, name } = await foreignRole("acct");
    const driver = new AwsIamTrustDriver({ client });
    await expect(driver.read(byIdentity(`arn:aws:iam::999999999999:role/${name}`, 1))).rejects.toThrow(
      /another account/,
    );
  });

  it("writes a policy exactly at the quota, and stops one character over it with the numbers", async () => {
    const { client, name, arn } = await foreignRole("quota");
    const grant = byIdentity(arn, "q");
    const needed = minify({
      ...foreignPolicy(),
      Statement: [...statementsOf(foreignPolicy()), grant.statement],
    }).length;

    const over = new AwsIamTrustDriver({ client, policySizeQuota: needed - 1 });
    await expect(over.ensure(grant)).rejects.toThrow(
      new RegExp(
        `would be ${needed} characters \\(now ${minify(foreignPolicy()).length}\\), over this account's quota of ${needed - 1}.*raise.*namespaceWide`,
      ),
    );
    expect(minify(await trustPolicyOf(client, name))).toBe(minify(foreignPolicy()));
    expect(over.calls.UpdateAssumeRolePolicy).toBeUndefined();

    const exact = new AwsIamTrustDriver({ client, policySizeQuota: needed });
    await exact.ensure(grant);
    expect(minify(await trustPolicyOf(client, name)).length).toBe(needed);
  });

  it("reads the quota from GetAccountSummary once", async () => {
    const { client, name, arn } = await foreignRole("summary");
    const driver = new AwsIamTrustDriver({ client });
    const grants = Array.from({ length: 40 }, (_, i) => byIdentity(arn, `summary${i}`));
    const results = await Promise.allSettled(grants.map((g) => driver.ensure(g)));
    const refused = results.filter((r) => r.status === "rejected");
    expect(refused.length).toBeGreaterThan(0); // 40 principals do not fit in moto's 2,048
    expect((refused[0] as PromiseRejectedResult).reason.message).toMatch(/quota of 2048/);
    expect(minify(await trustPolicyOf(client, name)).length).toBeLessThanOrEqual(2048);
    expect(driver.calls.GetAccountSummary).toBe(1);
  });

  it("coalesces parallel grants on one role into few writes: none lost, none duplicated", async () => {
    const { client, name, arn } = await foreignRole("shared");
    const driver = new AwsIamTrustDriver({ client, policySizeQuota: 10_240 });
    const grants = Array.from({ length: 50 }, (_, i) => byIdentity(arn, i));
    await Promise.all(grants.map((g) => driver.ensure(g)));
    const live = statementsOf(await trustPolicyOf(client, name));
    expect(live.slice(0, FOREIGN_COUNT)).toEqual(statementsOf(foreignPolicy()));
    const principals = findStatement(await trustPolicyOf(client, name), "AirflowDAAssumeRole")!.Principal as {
      AWS: string[];
    };
    expect([...principals.AWS].sort()).toEqual(grants.map((g) => g.entries[0]).sort());
    expect(driver.calls.UpdateAssumeRolePolicy).toBeLessThanOrEqual(50 / 4);

    await Promise.all(grants.map((g) => driver.remove(g)));
    expect(minify(await trustPolicyOf(client, name))).toBe(minify(foreignPolicy()));
  });

  it("re-applies its edit when another writer overwrites the policy right after it wrote", async () => {
    const { client, name, arn } = await foreignRole("race");
    // Another process that read the policy before our write and writes its own version after it.
    let overwrites = 2;
    const racing = iamClient(moto());
    const send = racing.send.bind(racing);
    racing.send = (async (command: Parameters<typeof send>[0]) => {
      const result = await send(command);
      if (command instanceof UpdateAssumeRolePolicyCommand && overwrites-- > 0)
        await setTrustPolicy(client, name, foreignPolicy());
      return result;
    }) as typeof racing.send;
    const driver = new AwsIamTrustDriver({ client: racing, baseDelayMs: 10 });
    const grant = byIdentity(arn, "race");
    expect(await driver.ensure(grant)).toEqual({ roleArn: arn, changed: true, foundEntries: [] });
    expect(driver.calls.UpdateAssumeRolePolicy).toBe(3);
    expect((await driver.read(grant)).statement).toEqual(grant.statement);

    overwrites = 100;
    const stubborn = new AwsIamTrustDriver({ client: racing, baseDelayMs: 1, convergeAttempts: 3 });
    await expect(stubborn.ensure(byIdentity(arn, "race2"))).rejects.toThrow(
      /another writer overwrote it 3 times in a row/,
    );
  });
});

describe("cluster role grants against moto", () => {
  it("packs the cluster role into the AssumeRole statement beside Deployment identities", async () => {
    const { client, name, arn } = await foreignRole("cluster");
    const driver = new AwsIamTrustDriver({ client });
    const cluster = planned(
      trustInputs(arn, { kind: "clusterRole", dataPlaneAccountId: "444455556666", clusterId: "clv1abc" }),
    ).grant;
    const deployment = byIdentity(arn, "c1");
    await Promise.all([driver.ensure(cluster), driver.ensure(deployment)]);
    const statement = findStatement(await trustPolicyOf(client, name), "AirflowDAAssumeRole")!;
    expect([...(statement.Principal as { AWS: string[] }).AWS].sort()).toEqual(
      ["arn:aws:iam::444455556666:role/AirflowS3Logs-clv1abc", deployment.entries[0]].sort(),
    );
    expect(driver.calls.UpdateAssumeRolePolicy).toBe(1);
    await driver.remove(cluster);
    expect((await driver.read(deployment)).statement).toEqual(deployment.statement);
    await driver.remove(deployment);
    expect(minify(await trustPolicyOf(client, name))).toBe(minify(foreignPolicy()));
  });
});

describe("web identity grants against moto", () => {
  const issuer = () =>
    `https://oidc.eks.us-west-2.amazonaws.com/id/${uniqueName("EXAMPLE").toUpperCase().replace("-", "")}`;

  it("creates the OIDC provider when absent, packs service accounts, and deletes only an unused provider it created", async () => {
    const { client, name, arn } = await foreignRole("irsa");
    const driver = new AwsIamTrustDriver({ client, policySizeQuota: 10_240 });
    const url = issuer();
    const ns1 = webIdentityGrant(arn, url, "ns1");
    const ns2 = webIdentityGrant(arn, url, "ns2", { serviceAccounts: ["worker"] });

    expect(await driver.ensure(ns1)).toEqual({
      roleArn: arn,
      changed: true,
      oidcProviderCreated: true,
      foundEntries: [],
    });
    expect(await driver.ensure(ns2)).toEqual({
      roleArn: arn,
      changed: true,
      oidcProviderCreated: false,
      foundEntries: [],
    });
    const provider = await client.send(
      new GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: ns1.oidcProvider!.arn }),
    );
    expect(provider.ClientIDList).toEqual(["sts.amazonaws.com"]);

    const shared = findStatement(await trustPolicyOf(client, name), ns1.sid)!;
    expect(shared.Principal).toEqual({ Federated: ns1.oidcProvider!.arn });
    const sub = (shared.Condition as Record<string, Record<string, string[]>>).StringEquals![`${url.slice(8)}:sub`]!;
    expect(sub).toEqual([...ns1.entries, ...ns2.entries]);
    expect(statementsOf(await trustPolicyOf(client, name))).toHaveLength(FOREIGN_COUNT + 1);

    await driver.remove(ns1); // ns2 still trusts the provider: it stays
    await expect(
      client.send(new GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: ns1.oidcProvider!.arn })),
    ).resolves.toBeDefined();
    await driver.remove(ns2); // the last user is gone and we created it: it goes
    const providers = await client.send(new ListOpenIDConnectProvidersCommand({}));
    expect(providers.OpenIDConnectProviderList?.map((p) => p.Arn)).not.toContain(ns1.oidcProvider!.arn);
    expect(minify(await trustPolicyOf(client, name))).toBe(minify(foreignPolicy()));
  });

  it("never deletes an OIDC provider it did not create", async () => {
    const { client, arn } = await foreignRole("irsa-own");
    const url = issuer();
    await client.send(
      new CreateOpenIDConnectProviderCommand({
        Url: url,
        ClientIDList: ["sts.amazonaws.com"],
        ThumbprintList: ["9e99a48a9960b14926bb7f3b02e22da2b0ab7280"],
      }),
    );
    const driver = new AwsIamTrustDriver({ client });
    const grant = webIdentityGrant(arn, url, "ns3", { namespaceWide: true });
    expect(await driver.ensure(grant)).toEqual({
      roleArn: arn,
      changed: true,
      oidcProviderCreated: false,
      foundEntries: [],
    });
    await driver.remove(grant);
    await expect(
      client.send(new GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: grant.oidcProvider!.arn })),
    ).resolves.toBeDefined();
  });
});
