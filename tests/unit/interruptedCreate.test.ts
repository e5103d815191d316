import { beforeEach, describe, expect, it } from "vitest";
import type { ProviderMethods } from "../../provider/core/provider";
import type { AwsGrant } from "../../provider/grants/aws/types";
import { findStatement, minify } from "../../provider/grants/aws/trustPolicy";
import { claimOf } from "../../provider/core/claims";
import { MemoryConnections, MemoryTrust, memoryAwsProvider } from "../support/memoryDrivers";
import { PlannedAws, WORKLOAD_IDENTITY, foreignPolicy, rawInputs } from "../support/fixtures";

const URL = "http://127.0.0.1:8080";
const TARGET = { url: URL, apiVersion: "v2" as const, auth: { kind: "token" as const }, credentials: {} };

let trust: MemoryTrust;
let connections: MemoryConnections;
let provider: ProviderMethods<AwsGrant>;

beforeEach(() => {
  ({ trust, connections, provider } = memoryAwsProvider());
});

async function checked(overrides: Record<string, unknown> = {}): Promise<PlannedAws> {
  const result = await provider.check({}, { ...rawInputs({ credentials: { token: "t0ken" }, ...overrides }) });
  expect(result.failures).toBeUndefined();
  return result.inputs as unknown as PlannedAws;
}

function principals(): string[] {
  const statement = findStatement(trust.roles.get("data-reader")!.policy, "AirflowDAAssumeRole");
  const aws = (statement?.Principal as { AWS?: string | string[] } | undefined)?.AWS;
  return aws === undefined ? [] : ([] as string[]).concat(aws);
}

describe("a create repeated after an interrupted one (pulumi up killed before it saved the state)", () => {
  it("takes the connection the interrupted create wrote as its own and keeps one trust entry", async () => {
    const planned = await checked();
    // The interrupted run did all of the work; only the engine's record of it was lost.
    await provider.create(planned);
    const writesBefore = connections.writes;

    const { id, outs } = await provider.create(planned);
    expect(id).toBe(`data-reader/${planned.grant.sid}/aws_data`);
    expect(outs.connection.connectionId).toBe("aws_data");
    expect(principals()).toEqual([WORKLOAD_IDENTITY]);
    expect(await connections.read(TARGET, "aws_data")).toEqual({
      ...planned.connection.payload,
      // The claim is now this create's: the interrupted one left no state that could delete it.
      description: `${planned.connection.payload.description}\n[DeploymentAuthorization instance=${outs.resolved.instance} grants=${claimOf((await connections.read(TARGET, "aws_data"))?.description)?.grants.join(",")}]`,
      extra: { role_arn: "arn:aws:iam::123456789012:role/data-reader", region_name: "us-east-1" },
    });
    expect(claimOf((await connections.read(TARGET, "aws_data"))?.description)?.grants).toHaveLength(1);
    expect(connections.writes).toBe(writesBefore + 1); // one rewrite, with this create's claim, nothing removed
  });

  it("refuses a connection with the same content made under another resource's name (another stack)", async () => {
    const planned = await checked();
    const other = await checked({ owner: "demo/prod/s3-reader" });
    await connections.create(TARGET, "aws_data", {
      ...other.connection.payload,
      extra: { role_arn: "arn:aws:iam::123456789012:role/data-reader", region_name: "us-east-1" },
    });
    await expect(provider.create(planned)).rejects.toThrow(/CONNECTION_EXISTS.*adoptExisting/);
    expect(minify(trust.roles.get("data-reader")!.policy)).toBe(minify(foreignPolicy()));
  });

  it("refuses one that carries this resource's description but other content", async () => {
    const planned = await checked();
    await connections.create(TARGET, "aws_data", {
      ...planned.connection.payload,
      extra: { role_arn: "arn:aws:iam::123456789012:role/data-reader", region_name: "eu-west-1" },
    });
    await expect(provider.create(planned)).rejects.toThrow(/CONNECTION_EXISTS/);
    expect((await connections.read(TARGET, "aws_data"))?.extra.region_name).toBe("eu-west-1");
  });

  it("refuses an identical one when the description is the program's own: it names no resource", async () => {
    const planned = await checked({
      connection: { connectionId: "aws_data", description: "lake", airflow: { url: URL, auth: { kind: "token" } } },
    });
    await provider.create(planned);
    await expect(provider.create(planned)).rejects.toThrow(/CONNECTION_EXISTS/);
    expect(principals()).toEqual([WORKLOAD_IDENTITY]);
  });
});
