import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, inject, it } from "vitest";
import { createRole, iamClient, trustPolicyOf, uniqueName } from "../support/aws";
import { foreignPolicy } from "../support/fixtures";
import { programStack, repoRoot } from "../support/pulumiProgram";
// @ts-expect-error plain ESM script without type declarations
import { motoEnv } from "../../scripts/toolchain.mjs";

/** Release 0.1.0, the AWS-only layout whose stacks this version must take over without a change. */
const RELEASE_0_1_0 = "412172b120122e3ce1e94ddd718ad9ecf4ad6171";

/** Release 0.1.0's package, compiled from git into a throwaway folder beside the test stacks. */
function buildRelease(): string {
  const base = path.join(repoRoot, ".pulumi-state");
  mkdirSync(base, { recursive: true });
  const dir = mkdtempSync(path.join(base, "release-0.1.0-"));
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
  it("an existing AWS stack sees no change: preview, up and refresh all report the same resources", async () => {
    const release = buildRelease();
    const roleName = uniqueName("upgrade");
    const roleArn = await createRole(iamClient(inject("endpoints").moto.url), roleName, foreignPolicy());
    const server = inject("endpoints").airflow3;
    const stack = await programStack({
      program: "(set below)",
      stackName: "upgrade",
      config: {
        "aws:region": { value: "us-east-1" },
        "demo:workloadIdentity": { value: "arn:aws:iam::111122223333:role/astro-upgrade" },
        "demo:targetRole": { value: roleArn },
        "demo:airflowUrl": { value: server.url },
        "demo:airflowUsername": { value: server.username },
        "demo:connectionId": { value: uniqueName("aws_upgrade").replace("-", "_") },
        "deployment-authorization:airflowPassword": { value: server.password, secret: true },
      },
      env: motoEnv(inject("endpoints").moto.url) as Record<string, string>,
    });
    // The program is the installed package's demo; state refers to the provider by package name.
    writeFileSync(
      path.join(stack.workDir, "index.js"),
      'module.exports = require("./node_modules/pulumi-deployment-authorization/dist/examples/demo/index.js");\n',
    );
    try {
      install(stack.workDir, release);
      const created = await stack.stack.up();
      expect(created.summary.resourceChanges).toEqual({ create: 3 });
      // The serialized provider loads the installed package by name, so the next run uses the new one.
      expect(stack.stateText()).toContain("pulumi-deployment-authorization/provider");
      const policy = JSON.stringify(await trustPolicyOf(iamClient(inject("endpoints").moto.url), roleName));

      install(stack.workDir, repoRoot);
      expect((await stack.stack.preview({ diff: true })).changeSummary).toEqual({ same: 3 });
      expect((await stack.stack.preview({ diff: true, refresh: true })).changeSummary).toEqual({ same: 3 });
      const up = await stack.stack.up();
      expect(up.summary.resourceChanges).toEqual({ same: 3 });
      expect(up.outputs.grant!.value).toMatchObject({ cloud: "aws", roleArn, statementId: "AirflowDAAssumeRole" });
      expect(JSON.stringify(await trustPolicyOf(iamClient(inject("endpoints").moto.url), roleName))).toBe(policy);

      await stack.stack.destroy();
      expect(await trustPolicyOf(iamClient(inject("endpoints").moto.url), roleName)).toEqual(foreignPolicy());
    } finally {
      await stack.dispose();
      rmSync(release, { recursive: true, force: true });
    }
  });
});
