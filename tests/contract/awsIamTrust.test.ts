import { DeleteRoleCommand } from "@aws-sdk/client-iam";
import { describe, expect, inject, it } from "vitest";
import { AwsIamTrustDriver } from "../../provider/drivers/awsIamTrust";
import { TargetMissingError } from "../../provider/errors";
import { minify, statementsOf } from "../../provider/trustPolicy";
import { createRole, iamClient, setTrustPolicy, trustPolicyOf, uniqueName } from "../support/aws";
import { foreignPolicy, FOREIGN_COUNT } from "../support/fixtures";

const moto = () => inject("endpoints").moto.url;

function statement(sid: string, principal = "arn:aws:iam::111122223333:role/astro-ns1") {
  return { Sid: sid, Effect: "Allow", Principal: { AWS: principal }, Action: "sts:AssumeRole" };
}

describe("AWS IAM trust driver against moto", () => {
  it("keeps foreign statements of every shape unchanged through create, update and delete", async () => {
    const client = iamClient(moto());
    const name = uniqueName("reader");
    const arn = await createRole(client, name, foreignPolicy());
    const driver = new AwsIamTrustDriver({ client });
    const original = minify(await trustPolicyOf(client, name));
    expect(original).toBe(minify(foreignPolicy()));

    const created = await driver.ensure(arn, statement("AirflowDAaaaa"));
    expect(created).toEqual({ roleArn: arn, changed: true });
    let live = statementsOf(await trustPolicyOf(client, name));
    expect(live.slice(0, FOREIGN_COUNT)).toEqual(statementsOf(foreignPolicy()));
    expect(live[FOREIGN_COUNT]).toEqual(statement("AirflowDAaaaa"));

    expect(await driver.ensure(arn, statement("AirflowDAaaaa"))).toEqual({ roleArn: arn, changed: false });

    await driver.ensure(name, statement("AirflowDAaaaa", "arn:aws:iam::111122223333:role/astro-ns2"));
    live = statementsOf(await trustPolicyOf(client, name));
    expect(live.slice(0, FOREIGN_COUNT)).toEqual(statementsOf(foreignPolicy()));
    expect(live).toHaveLength(FOREIGN_COUNT + 1);

    expect(await driver.read(arn, "AirflowDAaaaa")).toEqual({
      roleArn: arn,
      statement: statement("AirflowDAaaaa", "arn:aws:iam::111122223333:role/astro-ns2"),
    });
    expect(await driver.remove(arn, "AirflowDAaaaa")).toEqual({ removed: true });
    expect(minify(await trustPolicyOf(client, name))).toBe(original);
    expect(await driver.remove(arn, "AirflowDAaaaa")).toEqual({ removed: false });
  });

  it("sees a statement removed by someone else as absent, and puts it back", async () => {
    const client = iamClient(moto());
    const name = uniqueName("drift");
    const arn = await createRole(client, name, foreignPolicy());
    const driver = new AwsIamTrustDriver({ client });
    await driver.ensure(arn, statement("AirflowDAbbbb"));
    await setTrustPolicy(client, name, foreignPolicy());
    expect((await driver.read(arn, "AirflowDAbbbb")).statement).toBeUndefined();
    await driver.ensure(arn, statement("AirflowDAbbbb"));
    expect((await driver.read(arn, "AirflowDAbbbb")).statement).toEqual(statement("AirflowDAbbbb"));
  });

  it("reports a missing role clearly and never creates it", async () => {
    const client = iamClient(moto());
    const name = uniqueName("gone");
    const arn = await createRole(client, name, foreignPolicy());
    await client.send(new DeleteRoleCommand({ RoleName: name }));
    const driver = new AwsIamTrustDriver({ client });
    for (const attempt of [
      () => driver.read(arn, "X"),
      () => driver.ensure(arn, statement("AirflowDAcccc")),
      () => driver.remove(arn, "X"),
    ]) {
      await expect(attempt()).rejects.toThrow(TargetMissingError);
    }
    await expect(driver.read(name, "X")).rejects.toThrow(/IAM role gone-[0-9a-f]+ does not exist.*never creates one/);
  });

  it("refuses an ARN whose account differs from the role found", async () => {
    const client = iamClient(moto());
    const name = uniqueName("acct");
    await createRole(client, name, foreignPolicy());
    const driver = new AwsIamTrustDriver({ client });
    await expect(driver.read(`arn:aws:iam::999999999999:role/${name}`, "X")).rejects.toThrow(/another account/);
  });

  it("stops before writing a policy over the length quota, with the numbers and ways out", async () => {
    const client = iamClient(moto());
    const name = uniqueName("quota");
    const arn = await createRole(client, name, foreignPolicy());
    const before = minify(await trustPolicyOf(client, name));
    const driver = new AwsIamTrustDriver({ client, policySizeQuota: before.length + 20 });
    await expect(driver.ensure(arn, statement("AirflowDAdddd"))).rejects.toThrow(
      new RegExp(
        `would be \\d+ characters \\(now ${before.length}\\), over this account's quota of ${before.length + 20}.*raise`,
      ),
    );
    expect(minify(await trustPolicyOf(client, name))).toBe(before);
    expect(driver.calls.updateAssumeRolePolicy).toBe(0);
  });

  it("serializes parallel grants on one role: none lost, none duplicated", async () => {
    const client = iamClient(moto());
    const name = uniqueName("shared");
    const arn = await createRole(client, name, foreignPolicy());
    const driver = new AwsIamTrustDriver({ client });
    const sids = Array.from({ length: 8 }, (_, i) => `AirflowDApar${i}`);
    await Promise.all(
      sids.map((sid, i) => driver.ensure(arn, statement(sid, `arn:aws:iam::111122223333:role/astro-ns${i}`))),
    );
    const live = statementsOf(await trustPolicyOf(client, name));
    expect(live.slice(0, FOREIGN_COUNT)).toEqual(statementsOf(foreignPolicy()));
    expect(
      live
        .slice(FOREIGN_COUNT)
        .map((s) => s.Sid)
        .sort(),
    ).toEqual([...sids].sort());
    await Promise.all(sids.map((sid) => driver.remove(arn, sid)));
    expect(minify(await trustPolicyOf(client, name))).toBe(minify(foreignPolicy()));
  });
});
