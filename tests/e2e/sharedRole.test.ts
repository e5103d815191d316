import { GetOpenIDConnectProviderCommand } from "@aws-sdk/client-iam";
import path from "node:path";
import { describe, expect, inject, it } from "vitest";
import { AirflowConnectionsDriver } from "../../provider/connections/airflow";
import type { ConnectionTarget } from "../../provider/core/types";
import { findStatement, minify, statementsOf } from "../../provider/grants/aws/trustPolicy";
import { createRole, iamClient, trustPolicyOf, uniqueName } from "../support/aws";
import { FOREIGN_COUNT, foreignPolicy } from "../support/fixtures";
import { programStack, repoRoot } from "../support/pulumiProgram";
import { startRecordingProxy } from "../../scripts/recordingProxy.mjs";
import { motoEnv } from "../../scripts/toolchain.mjs";

const program = (name: string) => path.join(repoRoot, "tests/e2e/programs", `${name}.js`);
const iam = () => iamClient(inject("endpoints").moto.url);
const awsActions = (requests: Array<{ body: string }>, action: string) =>
  requests.filter((r) => new URLSearchParams(r.body).get("Action") === action).length;

function airflowConfig() {
  const server = inject("endpoints").airflow3;
  return {
    "aws:region": { value: "us-east-1" },
    "deployment-authorization:airflowPassword": { value: server.password, secret: true },
    "deployment-authorization:awsTrustPolicySizeQuota": { value: "4096" },
  };
}

function manyStack(stackName: string, roleArn: string, count: number, awsUrl: string) {
  const server = inject("endpoints").airflow3;
  return programStack({
    program: program("many"),
    stackName,
    config: {
      ...airflowConfig(),
      "many:count": { value: String(count) },
      "many:targetRole": { value: roleArn },
      "many:airflowUrl": { value: server.url },
      "many:airflowUsername": { value: server.username },
    },
    env: motoEnv(awsUrl) as Record<string, string>,
  });
}

function principalsOf(policy: Awaited<ReturnType<typeof trustPolicyOf>>): string[] {
  const aws = (findStatement(policy, "AirflowDAAssumeRole")?.Principal as { AWS?: string | string[] } | undefined)?.AWS;
  return aws === undefined ? [] : ([] as string[]).concat(aws);
}

describe("one role shared by many Deployments, with the real pulumi CLI", () => {
  it("50 resources in one up: one packed statement, at most one write per create, a no-op up writes nothing", async () => {
    const roleName = uniqueName("shared50");
    const roleArn = await createRole(iam(), roleName, foreignPolicy());
    const proxy = await startRecordingProxy(inject("endpoints").moto.url);
    const stack = await manyStack("s50", roleArn, 50, proxy.url);
    try {
      const started = Date.now();
      await stack.stack.up();
      console.log(`pulumi up of 50 authorizations on one role: ${Date.now() - started} ms`);
      const policy = await trustPolicyOf(iam(), roleName);
      expect(statementsOf(policy).slice(0, FOREIGN_COUNT)).toEqual(statementsOf(foreignPolicy()));
      expect(statementsOf(policy)).toHaveLength(FOREIGN_COUNT + 1);
      const principals = principalsOf(policy);
      expect(new Set(principals).size).toBe(50);
      expect(principals).toHaveLength(50);
      const writes = awsActions(proxy.requests, "UpdateAssumeRolePolicy");
      console.log(`UpdateAssumeRolePolicy calls for 50 creates: ${writes}`);
      // More writes than creates would mean a write undid an earlier one of this stack (found at its
      // read-back and made again).
      expect(writes).toBeLessThanOrEqual(50);

      proxy.requests.length = 0;
      const noop = await stack.stack.up();
      expect(noop.summary.resourceChanges).toEqual({ same: 101 });
      expect(awsActions(proxy.requests, "UpdateAssumeRolePolicy")).toBe(0);

      await stack.stack.destroy();
      expect(minify(await trustPolicyOf(iam(), roleName))).toBe(minify(foreignPolicy()));
    } finally {
      await stack.dispose();
      await proxy.close();
    }
  });

  it("two stacks of 25 at the same time: nothing lost, nothing duplicated, the original policy back after both destroys", async () => {
    const roleName = uniqueName("twostacks");
    const roleArn = await createRole(iam(), roleName, foreignPolicy());
    const moto = inject("endpoints").moto.url;
    const [a, b] = await Promise.all([manyStack("blue", roleArn, 25, moto), manyStack("green", roleArn, 25, moto)]);
    try {
      await Promise.all([a.stack.up(), b.stack.up()]);
      const policy = await trustPolicyOf(iam(), roleName);
      expect(statementsOf(policy).slice(0, FOREIGN_COUNT)).toEqual(statementsOf(foreignPolicy()));
      const principals = principalsOf(policy);
      expect(principals).toHaveLength(50);
      expect(new Set(principals).size).toBe(50);
      expect(principals.filter((p) => p.includes("astro-blue-"))).toHaveLength(25);

      await Promise.all([a.stack.destroy(), b.stack.destroy()]);
      expect(minify(await trustPolicyOf(iam(), roleName))).toBe(minify(foreignPolicy()));
    } finally {
      await a.dispose();
      await b.dispose();
    }
  });
});

describe("customer-managed identity in one pass, with the real pulumi CLI", () => {
  it("takes the namespace from another resource's output and trusts exactly its service accounts", async () => {
    const roleName = uniqueName("customer-managed");
    const roleArn = await createRole(iam(), roleName, foreignPolicy());
    const issuerUrl = `https://oidc.eks.us-west-2.amazonaws.com/id/${uniqueName("E2E").toUpperCase().replace("-", "")}`;
    const server = inject("endpoints").airflow3;
    const stack = await programStack({
      program: program("customerManaged"),
      stackName: "cm",
      config: {
        ...airflowConfig(),
        "cm:targetRole": { value: roleArn },
        "cm:issuerUrl": { value: issuerUrl },
        "cm:airflowUrl": { value: server.url },
        "cm:airflowUsername": { value: server.username },
      },
      env: motoEnv(inject("endpoints").moto.url) as Record<string, string>,
    });
    try {
      const preview = await stack.stack.preview({ diff: true });
      expect(preview.changeSummary).toEqual({ create: 4 });
      const up = await stack.stack.up();
      const namespace = up.outputs.namespace!.value as string;
      expect(namespace).toMatch(/^astronomer-analytics-/);

      const host = issuerUrl.slice("https://".length);
      const statement = findStatement(await trustPolicyOf(iam(), roleName), up.outputs.grant!.value.statementId)!;
      expect(statement.Principal).toEqual({ Federated: `arn:aws:iam::123456789012:oidc-provider/${host}` });
      expect(statement.Condition).toEqual({
        StringEquals: {
          [`${host}:aud`]: "sts.amazonaws.com",
          [`${host}:sub`]: ["scheduler", "worker", "triggerer", "dag-processor"]
            .map((c) => `system:serviceaccount:${namespace}:${namespace}-${c}-serviceaccount`)
            .concat(`system:serviceaccount:${namespace}:${namespace}-kpo`),
        },
      });
      expect(up.outputs.grant!.value.oidcProviderCreated).toBe(true);
      const target: ConnectionTarget = {
        url: server.url,
        apiVersion: "v2",
        auth: { kind: "password", username: server.username },
        credentials: { password: server.password },
      };
      expect((await new AirflowConnectionsDriver().read(target, "aws_customer_managed"))?.extra).toEqual({
        region_name: "us-east-1",
      });

      expect((await stack.stack.preview()).changeSummary).toEqual({ same: 4 });
      await stack.stack.destroy();
      expect(minify(await trustPolicyOf(iam(), roleName))).toBe(minify(foreignPolicy()));
      await expect(
        iam().send(
          new GetOpenIDConnectProviderCommand({
            OpenIDConnectProviderArn: `arn:aws:iam::123456789012:oidc-provider/${host}`,
          }),
        ),
      ).rejects.toThrow(/not found|NoSuchEntity/i);
    } finally {
      await stack.dispose();
    }
  });
});
