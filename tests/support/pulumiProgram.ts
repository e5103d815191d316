import { LocalWorkspace, PulumiCommand, Stack } from "@pulumi/pulumi/automation";
import { execFile } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { inject } from "vitest";

export const repoRoot = path.resolve(__dirname, "..", "..");

export interface ProgramStack {
  stack: Stack;
  workDir: string;
  /** The stack's state file as the file backend stores it. */
  stateText(): string;
  /** The pulumi CLI itself, on this stack, as a user would type it (e.g. ["preview", "--json"]). */
  cli(args: string[]): Promise<{ stdout: string; stderr: string; code: number }>;
  dispose(): Promise<void>;
}

/**
 * A stack of the repository's demo program (dist/examples/demo), in a throwaway project folder
 * inside the toolchain's program root (see ProvidedContext.programRoot), so the language host, the
 * program, the package and the provider shim all find the toolchain's @pulumi/pulumi.
 */
export async function demoProgramStack(options: {
  stackName: string;
  config: Record<string, { value: string; secret?: boolean }>;
  env: Record<string, string>;
}): Promise<ProgramStack> {
  return programStack({ ...options, program: path.join(repoRoot, "dist/examples/demo/index.js") });
}

/** This package as the toolchain's programs load it (package.json, dist/sdk and dist/provider). */
export function installedPackage(): string {
  return path.join(inject("programRoot"), "node_modules", "pulumi-deployment-authorization");
}

/**
 * A stack of one program file, run by the real CLI from a throwaway project folder in the
 * toolchain's program root. A program of this repository (a test's, or the compiled demo: each
 * loads the package by its name, as a user's does) is copied in as index.js; any other is required
 * by its path.
 */
export async function programStack(options: {
  program: string;
  stackName: string;
  config: Record<string, { value: string; secret?: boolean }>;
  env: Record<string, string>;
}): Promise<ProgramStack> {
  const workDir = mkdtempSync(path.join(inject("programRoot"), "e2e-"));
  const backendDir = path.join(workDir, "backend");
  mkdirSync(backendDir);
  writeFileSync(
    path.join(workDir, "Pulumi.yaml"),
    "name: deployment-authorization-demo\nruntime:\n  name: nodejs\n  options:\n    typescript: false\nmain: index.js\n",
  );
  if (options.program.startsWith(repoRoot + path.sep)) {
    copyFileSync(options.program, path.join(workDir, "index.js"));
  } else {
    writeFileSync(path.join(workDir, "index.js"), `module.exports = require(${JSON.stringify(options.program)});\n`);
  }
  const envVars = {
    PATH: inject("pulumiPath"),
    PULUMI_BACKEND_URL: `file://${backendDir}`,
    PULUMI_CONFIG_PASSPHRASE: "e2e-passphrase",
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK: "true",
    PULUMI_HOME: path.join(workDir, ".pulumi-home"),
    ...options.env,
  };
  const pulumiCommand = await PulumiCommand.get({ root: path.dirname(inject("pulumiBin")), skipVersionCheck: true });
  const stack = await LocalWorkspace.createOrSelectStack(
    { stackName: options.stackName, workDir },
    { envVars, pulumiHome: envVars.PULUMI_HOME, pulumiCommand },
  );
  await stack.setAllConfig(options.config);
  return {
    stack,
    workDir,
    stateText() {
      const dir = path.join(backendDir, ".pulumi", "stacks", "deployment-authorization-demo");
      const file = readdirSync(dir).find((f) => f === `${options.stackName}.json`)!;
      return readFileSync(path.join(dir, file), "utf8");
    },
    cli(args) {
      return new Promise((resolve) => {
        execFile(
          path.join(inject("pulumiBin"), "pulumi"),
          [...args, "--stack", options.stackName, "--non-interactive"],
          { cwd: workDir, env: { ...process.env, ...envVars }, maxBuffer: 64 * 1024 * 1024 },
          (error, stdout, stderr) => resolve({ stdout, stderr, code: error ? Number(error.code ?? 1) : 0 }),
        );
      });
    },
    async dispose() {
      rmSync(workDir, { recursive: true, force: true });
    },
  };
}
