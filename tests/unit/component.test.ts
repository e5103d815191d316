import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { airflowSink } from "../../provider/connections/airflow";
import { createProvider } from "../../provider/core/provider";
import type { AuthorizationState, PlannedAuthorization } from "../../provider/core/types";
import { awsGrantDriver } from "../../provider/grants/aws";
import { GRANT_PLANNERS } from "../../provider/grants";
import { parseInputs } from "../../provider/inputs";
import { TARGET_ROLE_ARN, foreignPolicy } from "../support/fixtures";
import { MemoryConnections, MemoryTrust } from "../support/memoryDrivers";

interface Registered {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
}

const registered: Registered[] = [];
let aws: typeof import("@pulumi/aws");
let sdk: typeof import("../../sdk");

/**
 * Resources, by name, whose state the real provider makes over in-memory IAM and Airflow (check and
 * create, then read for a refresh): the component's outputs come from the state that `pulumi up`,
 * or a `pulumi refresh` after it, leaves.
 */
const provided = new Map<string, "up" | "refresh">();
const trust = new MemoryTrust();
trust.addRole("data-reader", foreignPolicy());
const provider = createProvider({
  planners: GRANT_PLANNERS,
  loadParser: () => parseInputs,
  makeDrivers: () => ({
    grants: { aws: awsGrantDriver(trust) },
    connections: { airflow: airflowSink(new MemoryConnections()) },
  }),
  env: {},
});
const states: Record<string, AuthorizationState> = {};

async function providedState(name: string, inputs: Record<string, unknown>, after: "up" | "refresh") {
  const { grant: _grant, resolved: _resolved, credentials, ...raw } = inputs;
  const secret = (credentials as { value?: unknown } | undefined)?.value ?? credentials;
  const checked = await provider.check({}, { ...raw, ...(secret ? { credentials: secret } : {}) });
  if (checked.failures) throw new Error(JSON.stringify(checked.failures));
  const { id, outs } = await provider.create(checked.inputs as unknown as PlannedAuthorization);
  const state = after === "refresh" ? (await provider.read(id, outs)).props : outs;
  states[name] = state;
  return { id, state };
}

// Loading @pulumi/aws and the SDK takes several seconds on a busy 2-core runner, longer than a
// unit test's 5 s budget; it happens once here, where the budget is the module load's own.
const moduleLoadTimeoutMs = 120_000;

beforeAll(async () => {
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        registered.push({ type: args.type, name: args.name, inputs: args.inputs });
        const after = provided.get(args.name);
        if (after && args.type.includes("dynamic")) return providedState(args.name, args.inputs, after);
        if (args.type === "aws:iam/role:Role") {
          return { id: args.name, state: { ...args.inputs, arn: `arn:aws:iam::123456789012:role/${args.name}` } };
        }
        return {
          id: `${args.name}-id`,
          state: {
            ...args.inputs,
            grant: {
              ...(args.inputs.grant ?? {}),
              role: args.inputs.aws?.targetRole,
              sid: "AirflowDAfeedfacefeedface",
              statement: null,
            },
            connection: { ...args.inputs.connection, payload: null },
            resolved: { roleArn: "arn:aws:iam::123456789012:role/reader", apiVersion: "v2" },
          },
        };
      },
      call: () => ({}),
    },
    "demo",
    "dev",
  );
  aws = await import("@pulumi/aws");
  sdk = await import("../../sdk");
}, moduleLoadTimeoutMs);

function valueOf<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => output.apply(resolve));
}

describe("DeploymentAuthorization component", () => {
  it("accepts an aws.iam.Role as the target role and marks the token secret", async () => {
    const { DeploymentAuthorization } = sdk;
    const role = new aws.iam.Role("reader", {
      assumeRolePolicy: JSON.stringify({ Version: "2012-10-17", Statement: [] }),
    });
    const auth = new DeploymentAuthorization("s3", {
      workloadIdentity: "arn:aws:iam::111122223333:role/astro-ns",
      aws: { targetRole: role, region: "us-east-1" },
      connection: {
        connectionId: "aws_s3",
        airflow: { url: "http://localhost:8080", auth: { kind: "token", token: pulumi.secret("tok-123456") } },
      },
    });
    const connection = await valueOf(auth.connection);
    expect(connection.url).toBe("http://localhost:8080/api/v2/connections/aws_s3");

    const dynamic = registered.find((r) => r.type.includes("dynamic") && r.name === "s3");
    expect(dynamic?.type).toBe("pulumi-nodejs:dynamic/deploymentAuthorization:Authorization");
    const inputs = dynamic!.inputs as {
      owner: string;
      aws: { targetRole: string };
      credentials: unknown;
      __provider: string;
    };
    expect(inputs.owner).toBe("demo/dev/s3");
    expect(inputs.aws.targetRole).toBe("arn:aws:iam::123456789012:role/reader");
    // sent to the engine as a secret value (the engine encrypts it in state)
    expect(inputs.credentials).toEqual({
      [pulumi.runtime.specialSigKey]: pulumi.runtime.specialSecretSig,
      value: { token: "tok-123456" },
    });

    // The serialized provider is a stub that require()s the provider module, not the provider itself.
    expect(inputs.__provider).toMatch(/require\(/);
    expect(inputs.__provider).not.toMatch(/UpdateAssumeRolePolicyCommand|zod|AirflowConnectionsDriver/);
    expect(inputs.__provider.length).toBeLessThan(4096);
    if (process.env.SHOW_PROVIDER) console.log(inputs.__provider.length, inputs.__provider);
  });
});

describe("DeploymentAuthorization component, GCP and bad input", () => {
  it("passes the gcp inputs and an unknown auth kind through to check, secrets aside", async () => {
    const { DeploymentAuthorization } = sdk;
    const { parseInputs } = await import("../../provider/inputs");
    new DeploymentAuthorization("bq", {
      workloadIdentity: "astro-ns@astronomer-prod.iam.gserviceaccount.com",
      gcp: { project: "customer-data", grant: { kind: "projectRole", role: "roles/bigquery.dataViewer" } },
      connection: {
        connectionId: "google_cloud_bq",
        airflow: {
          url: "http://localhost:8080",
          // A kind the component does not know must reach check, not turn into password auth.
          auth: { kind: "oauth", token: pulumi.secret("tok-999999") } as never,
        },
      },
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const dynamic = registered.find((r) => r.type.includes("dynamic") && r.name === "bq");
    const { __provider: _provider, credentials, ...inputs } = dynamic!.inputs as Record<string, unknown>;
    expect(JSON.stringify(inputs)).not.toContain("tok-999999");
    expect(credentials).toEqual({
      [pulumi.runtime.specialSigKey]: pulumi.runtime.specialSecretSig,
      value: { token: "tok-999999" },
    });
    expect(inputs.gcp).toEqual({
      project: "customer-data",
      grant: { kind: "projectRole", role: "roles/bigquery.dataViewer" },
    });
    const parsed = parseInputs(inputs);
    expect(parsed.ok ? [] : parsed.failures.map((f) => f.property)).toEqual(["connection.airflow.auth.kind"]);
  });
});

describe("DeploymentAuthorization component outputs, from the state the provider leaves", () => {
  it.each([
    ["up", "by-name"],
    ["refresh", "by-name-refreshed"],
  ] as const)(
    "show the ARN of a role given by name after %s, where state keeps the plan's words",
    async (after, name) => {
      provided.set(name, after);
      const auth = new sdk.DeploymentAuthorization(name, {
        workloadIdentity: "arn:aws:iam::111122223333:role/astro-ns",
        aws: { targetRole: "data-reader", region: "us-east-1" },
        connection: {
          connectionId: `aws_${name.replace(/-/g, "_")}`,
          airflow: { url: "http://localhost:8080", auth: { kind: "token", token: pulumi.secret("tok-123456") } },
        },
      });
      const [grant, connection] = await Promise.all([valueOf(auth.grant), valueOf(auth.connection)]);
      expect(states[name]?.connection.payload?.extra.role_arn).toBe("(ARN of role data-reader, resolved at apply)");
      expect(connection.extra).toEqual({ role_arn: TARGET_ROLE_ARN, region_name: "us-east-1" });
      expect(connection.connType).toBe("aws");
      expect(grant.roleArn).toBe(TARGET_ROLE_ARN);
    },
  );
});

describe("DeploymentAuthorization component, a Deployment named by ids of another shape", () => {
  it("does not ask Astro about them, and check names each at its path", async () => {
    const { DeploymentAuthorization } = sdk;
    const { parseInputs } = await import("../../provider/inputs");
    const fetched: string[] = [];
    const original = globalThis.fetch;
    globalThis.fetch = (async (url: string | URL | Request) => {
      fetched.push(String(url));
      throw new Error("no remote call expected");
    }) as typeof fetch;
    try {
      const auth = new DeploymentAuthorization("named", {
        deployment: { organizationId: "My Org", deploymentId: "dep-1", token: pulumi.secret("astro-tok-1") },
        aws: { targetRole: "arn:aws:iam::123456789012:role/reader", region: "us-east-1" },
        connection: { connectionId: "aws_named", target: "astro" },
      });
      expect(await valueOf(auth.deployment)).toEqual({ organizationId: "My Org", deploymentId: "dep-1" });
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(fetched).toEqual([]);
      const dynamic = registered.find((r) => r.type.includes("dynamic") && r.name === "named");
      const { __provider: _provider, ...inputs } = dynamic!.inputs as Record<string, unknown>;
      const parsed = parseInputs(inputs);
      const failures = parsed.ok ? {} : Object.fromEntries(parsed.failures.map((f) => [f.property, f.reason]));
      expect(failures).toMatchObject({
        "deployment.organizationId": expect.stringMatching(/Astro organization id .*such as /),
        "deployment.deploymentId": expect.stringMatching(/Astro Deployment id .*such as /),
      });
    } finally {
      globalThis.fetch = original;
    }
  });
});
