import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, unlinkSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { AirflowConnectionsDriver } from "../../provider/connections/airflow";
import { claimOf, withoutClaim } from "../../provider/core/claims";
import { airflowTarget } from "../support/airflow";
import { createRole, iamClient, trustPolicyOf, uniqueName } from "../support/aws";
import { foreignPolicy } from "../support/fixtures";
import { ProgramStack, installedPackage, programStack, repoRoot } from "../support/pulumiProgram";
import { motoEnv } from "../../scripts/toolchain.mjs";

/** Release 0.1.0, the AWS-only layout whose stacks this version must take over without a change. */
const RELEASE_0_1_0 = "412172b120122e3ce1e94ddd718ad9ecf4ad6171";
/** The authorizations of tests/e2e/programs/awsModes.js: every trust mode 0.1.0 had. */
const MODES = 7;
const RESOURCES = 1 + 2 * MODES; // the stack, and a component over one dynamic resource each

/**
 * Release 0.1.0's package, compiled from git into a throwaway folder beside the test stacks. It is
 * compiled against the repository's node_modules and then loads what the toolchain's programs load
 * (its node_modules link is gone once it is built, so its @pulumi/pulumi is the toolchain's).
 */
function buildRelease(): string {
  const dir = mkdtempSync(path.join(inject("programRoot"), "release-0.1.0-"));
  const archive = execFileSync(
    "git",
    ["-C", repoRoot, "archive", RELEASE_0_1_0, "package.json", "tsconfig.json", "sdk", "provider", "examples/demo"],
    { maxBuffer: 64 * 1024 * 1024 },
  );
  execFileSync("tar", ["-x", "-C", dir], { input: archive });
  symlinkSync(path.join(repoRoot, "node_modules"), path.join(dir, "node_modules"));
  execFileSync(path.join(repoRoot, "node_modules/.bin/tsc"), ["-p", path.join(dir, "tsconfig.json")], {
    stdio: "inherit",
  });
  unlinkSync(path.join(dir, "node_modules"));
  return dir;
}

/** Installs `packageDir` as the stack's `pulumi-deployment-authorization`, as `npm install` would. */
function install(workDir: string, packageDir: string) {
  const link = path.join(workDir, "node_modules", "pulumi-deployment-authorization");
  mkdirSync(path.dirname(link), { recursive: true });
  try {
    unlinkSync(link);
  } catch {
    // first install
  }
  symlinkSync(packageDir, link);
}

describe("upgrading from 0.1.0", () => {
  const iam = () => iamClient(inject("endpoints").moto.url);
  const airflow = new AirflowConnectionsDriver();
  const prefix = uniqueName("upg").replace("-", "_");
  const connections: Array<[string, "airflow2" | "airflow3"]> = [
    ["deployment_role", "airflow3"],
    ["shared", "airflow2"],
    ["cluster_arn", "airflow3"],
    ["cluster_id", "airflow3"],
    ["web_identity", "airflow3"],
    ["web_identity_names", "airflow2"],
    ["namespace_wide", "airflow3"],
  ];
  const liveConnections = () =>
    Promise.all(connections.map(([id, s]) => airflow.read(airflowTarget(s), `${prefix}_${id}`)));
  let release: string;
  let stack: ProgramStack;
  let roleName: string;
  let oidcRoleName: string;

  beforeAll(async () => {
    release = buildRelease();
    roleName = uniqueName("upgrade");
    oidcRoleName = uniqueName("upgrade-oidc");
    const roleArn = await createRole(iam(), roleName, foreignPolicy());
    const oidcRoleArn = await createRole(iam(), oidcRoleName, foreignPolicy());
    const endpoints = inject("endpoints");
    const serverConfig = (s: "airflow2" | "airflow3") =>
      JSON.stringify({ url: endpoints[s].url, username: endpoints[s].username });
    stack = await programStack({
      program: "(copied below)",
      stackName: "upgrade",
      config: {
        "modes:targetRole": { value: roleArn },
        "modes:oidcRole": { value: oidcRoleArn },
        "modes:prefix": { value: prefix },
        "modes:airflow3": { value: serverConfig("airflow3") },
        "modes:airflow2": { value: serverConfig("airflow2") },
        "modes:airflow3Password": { value: endpoints.airflow3.password, secret: true },
        "modes:airflow2Password": { value: endpoints.airflow2.password, secret: true },
      },
      env: motoEnv(endpoints.moto.url) as Record<string, string>,
    });
    // In the stack's own folder, the program loads the package installed there.
    copyFileSync(path.join(repoRoot, "tests/e2e/programs/awsModes.js"), path.join(stack.workDir, "index.js"));
  });

  afterAll(async () => {
    await stack?.dispose();
    if (release) rmSync(release, { recursive: true, force: true });
  });

  it("a stack of every AWS mode made by 0.1.0 is previewed, refreshed, updated and destroyed with no spurious diff", async () => {
    install(stack.workDir, release);
    const created = await stack.stack.up();
    expect(created.summary.resourceChanges).toEqual({ create: RESOURCES });
    // The serialized provider loads the installed package by name, so the next run uses the new one.
    expect(stack.stateText()).toContain("pulumi-deployment-authorization/provider");
    const policies = async () => [
      JSON.stringify(await trustPolicyOf(iam(), roleName)),
      JSON.stringify(await trustPolicyOf(iam(), oidcRoleName)),
    ];
    const policiesBefore = await policies();
    const connectionsBefore = await liveConnections();
    expect(connectionsBefore.every((c) => c !== undefined)).toBe(true);

    install(stack.workDir, installedPackage());
    expect((await stack.stack.preview({ diff: true })).changeSummary).toEqual({ same: RESOURCES });
    expect((await stack.stack.preview({ diff: true, refresh: true })).changeSummary).toEqual({ same: RESOURCES });
    expect((await stack.stack.refresh()).summary.resourceChanges).toEqual({ same: RESOURCES });
    const noop = await stack.stack.up();
    expect(noop.summary.resourceChanges).toEqual({ same: RESOURCES });
    expect(await policies()).toEqual(policiesBefore);
    expect(await liveConnections()).toEqual(connectionsBefore);
    expect(noop.outputs.deploymentRole!.value).toMatchObject({ cloud: "aws", statementId: "AirflowDAAssumeRole" });

    // An update by the new version changes the connections in place: no replacement, trust untouched.
    await stack.stack.setConfig("modes:descriptionSuffix", { value: " (v2)" });
    const updated = await stack.stack.up();
    expect(updated.summary.resourceChanges).toEqual({ same: RESOURCES - MODES, update: MODES });
    expect(await policies()).toEqual(policiesBefore);
    const connectionsAfter = await liveConnections();
    // The first update writes each connection's claim after its description.
    expect(connectionsAfter.map((c) => withoutClaim(c?.description ?? null, null))).toEqual(
      connections.map(([id]) => `${id} (v2)`),
    );
    expect(connectionsAfter.every((c) => claimOf(c?.description)?.grants.length === 1)).toBe(true);
    expect(connectionsAfter.map((c) => c?.extra)).toEqual(connectionsBefore.map((c) => c?.extra));
    expect((await stack.stack.preview({ diff: true, refresh: true })).changeSummary).toEqual({ same: RESOURCES });

    await stack.stack.destroy();
    expect(await trustPolicyOf(iam(), roleName)).toEqual(foreignPolicy());
    expect(await trustPolicyOf(iam(), oidcRoleName)).toEqual(foreignPolicy());
    expect(await liveConnections()).toEqual(connections.map(() => undefined));
  });
});
