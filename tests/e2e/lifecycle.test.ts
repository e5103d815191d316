import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { AirflowConnectionsDriver } from "../../provider/connections/airflow";
import { airflowTarget } from "../support/airflow";
import { minify, statementsOf } from "../../provider/grants/aws/trustPolicy";
import { createRole, iamClient, setTrustPolicy, trustPolicyOf, uniqueName } from "../support/aws";
import { foreignPolicy, FOREIGN_COUNT } from "../support/fixtures";
import { ProgramStack, demoProgramStack } from "../support/pulumiProgram";
import { startRecordingProxy } from "../../scripts/recordingProxy.mjs";
import { motoEnv } from "../../scripts/toolchain.mjs";

const IDENTITY = "arn:aws:iam::111122223333:role/astro-e2e-deployment";

function demoConfig(
  role: string,
  connectionId: string,
  airflowUrl = inject("endpoints").airflow3.url,
  identity = IDENTITY,
) {
  const server = inject("endpoints").airflow3;
  return {
    "aws:region": { value: "us-east-1" },
    "demo:workloadIdentity": { value: identity },
    "demo:targetRole": { value: role },
    "demo:airflowUrl": { value: airflowUrl },
    "demo:airflowUsername": { value: server.username },
    "demo:connectionId": { value: connectionId },
    "deployment-authorization:airflowPassword": { value: server.password, secret: true },
  };
}

// One story in steps (up, then preview, drift, destroy): its tests run in order even when shuffled.
describe("DeploymentAuthorization with the real pulumi CLI", { shuffle: false }, () => {
  const iam = () => iamClient(inject("endpoints").moto.url);
  const roleName = uniqueName("e2e-reader");
  const connectionId = uniqueName("aws_e2e").replace("-", "_");
  let roleArn: string;
  let program: ProgramStack;
  const log: string[] = [];
  const onOutput = (line: string) => log.push(line);

  beforeAll(async () => {
    roleArn = await createRole(iam(), roleName, foreignPolicy());
    // The role by name: its ARN is known only at apply, and the outputs must show it from then on.
    program = await demoProgramStack({
      stackName: "e2e",
      config: demoConfig(roleName, connectionId),
      env: motoEnv(inject("endpoints").moto.url) as Record<string, string>,
    });
    console.log(`pulumi CLI ${await program.stack.workspace.pulumiVersion}`);
  });

  afterAll(async () => {
    await program?.dispose();
  });

  it("up creates the trust statement and the connection together", async () => {
    const started = Date.now();
    const result = await program.stack.up({ onOutput });
    console.log(`pulumi up (create): ${Date.now() - started} ms`);
    expect(result.summary.result).toBe("succeeded");
    // The AWS SDK's notice about Node.js lines stays out of the stack's diagnostics.
    expect(`${result.stdout}\n${result.stderr}`).not.toMatch(/NodeVersionSupportWarning|will require node/);

    const statements = statementsOf(await trustPolicyOf(iam(), roleName));
    expect(statements.slice(0, FOREIGN_COUNT)).toEqual(statementsOf(foreignPolicy()));
    expect(statements[FOREIGN_COUNT]).toEqual({
      Sid: result.outputs.grant!.value.statementId,
      Effect: "Allow",
      Principal: { AWS: IDENTITY },
      Action: "sts:AssumeRole",
    });
    const live = await new AirflowConnectionsDriver().read(airflowTarget(), connectionId);
    expect(live?.conn_type).toBe("aws");
    expect(live?.extra).toEqual({ role_arn: roleArn, region_name: "us-east-1" });
    expect(result.outputs.connection!.value.url).toBe(
      `${inject("endpoints").airflow3.url}/api/v2/connections/${connectionId}`,
    );
    expect(result.outputs.connection!.value.extra).toEqual(live?.extra);
    expect(result.outputs.grant!.value.roleArn).toBe(roleArn);
  });

  it("keeps the password out of state and stores a small provider reference", () => {
    const state = program.stateText();
    expect(state).not.toContain(inject("endpoints").airflow3.password);
    const resource = (
      JSON.parse(state).checkpoint.latest.resources as Array<{ type: string; inputs: Record<string, unknown> }>
    ).find((r) => r.type.startsWith("pulumi-nodejs:dynamic"))!;
    const providerBytes = Buffer.byteLength(String(resource.inputs.__provider));
    console.log(`__provider: ${providerBytes} bytes per resource; state file: ${Buffer.byteLength(state)} bytes`);
    expect(providerBytes).toBeLessThan(4096);
  });

  it("preview after up shows no changes", async () => {
    const preview = await program.stack.preview({ diff: true });
    expect(preview.changeSummary).toEqual({ same: 3 });
  });

  it("refresh keeps the plan's words in state; the outputs made from that state hold the role's ARN", async () => {
    const refresh = await program.stack.refresh({ runProgram: true, onOutput });
    expect(refresh.summary.resourceChanges).toEqual({ same: 3 });
    const resource = (
      JSON.parse(program.stateText()).checkpoint.latest.resources as Array<{
        type: string;
        outputs: { connection: { payload: { extra: Record<string, unknown> } } };
      }>
    ).find((r) => r.type.startsWith("pulumi-nodejs:dynamic"))!;
    expect(resource.outputs.connection.payload.extra.role_arn).toBe(`(ARN of role ${roleName}, resolved at apply)`);
    const outputs = await program.stack.outputs();
    expect(outputs.connection!.value.extra).toEqual({ role_arn: roleArn, region_name: "us-east-1" });
    expect(outputs.grant!.value.roleArn).toBe(roleArn);
  });

  it("preview --refresh shows a removed statement and an edited connection; up repairs both", async () => {
    await setTrustPolicy(iam(), roleName, foreignPolicy());
    const driver = new AirflowConnectionsDriver();
    const live = (await driver.read(airflowTarget(), connectionId))!;
    await driver.update(airflowTarget(), connectionId, { ...live, extra: { ...live.extra, region_name: "eu-west-1" } });

    const preview = await program.stack.preview({ diff: true, refresh: true });
    expect(preview.changeSummary.update).toBe(1);
    expect(preview.stdout).toMatch(/statement/);
    expect(preview.stdout).toMatch(/sts:AssumeRole/);
    expect(preview.stdout).toMatch(/region_name.*eu-west-1.*us-east-1/s);

    const up = await program.stack.up({ refresh: true, onOutput });
    expect(up.summary.resourceChanges?.update).toBe(1);
    expect(up.outputs.connection!.value.extra).toEqual({ role_arn: roleArn, region_name: "us-east-1" });
    expect(statementsOf(await trustPolicyOf(iam(), roleName))).toHaveLength(FOREIGN_COUNT + 1);
    expect((await driver.read(airflowTarget(), connectionId))?.extra.region_name).toBe("us-east-1");
  });

  it("destroy leaves the role with exactly its foreign statements and no connection", async () => {
    await program.stack.destroy({ onOutput });
    expect(minify(await trustPolicyOf(iam(), roleName))).toBe(minify(foreignPolicy()));
    expect(await new AirflowConnectionsDriver().read(airflowTarget(), connectionId)).toBeUndefined();
  });

  it("never printed the password in the CLI's output", () => {
    expect(log.length).toBeGreaterThan(0);
    expect(log.join("")).not.toContain(inject("endpoints").airflow3.password);
  });
});

describe("a preview with bad input", () => {
  it("fails naming the field, and makes no remote call", async () => {
    const roleName = uniqueName("e2e-untouched");
    const roleArn = await createRole(iamClient(inject("endpoints").moto.url), roleName, foreignPolicy());
    const awsProxy = await startRecordingProxy(inject("endpoints").moto.url);
    const airflowProxy = await startRecordingProxy(inject("endpoints").airflow3.url);
    const program = await demoProgramStack({
      stackName: "bad-input",
      config: demoConfig(roleArn, "aws_bad input", airflowProxy.url, "astro-not-an-arn"),
      env: motoEnv(awsProxy.url) as Record<string, string>,
    });
    try {
      const failure = await program.stack.preview({ diff: true }).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(failure?.message).toMatch(/workloadIdentity.*IAM role ARN/);
      expect(failure?.message).toMatch(/connection\.connectionId.*\^\[\\w\.-\]\+\$/);
      expect(awsProxy.requests).toEqual([]);
      expect(airflowProxy.requests).toEqual([]);
      expect(minify(await trustPolicyOf(iamClient(inject("endpoints").moto.url), roleName))).toBe(
        minify(foreignPolicy()),
      );
    } finally {
      await program.dispose();
      await awsProxy.close();
      await airflowProxy.close();
    }
  });
});
