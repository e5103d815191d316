import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { TestProject } from "vitest/node";
import { startSandbox, stopSandbox, type Endpoints } from "../../scripts/sandbox.mjs";
import { pulumiEnv, repoRoot, toolchain } from "../../scripts/toolchain.mjs";

/** The sandbox's servers, as endpoints.json records them (scripts/sandbox.mjs). */
export type { Endpoints };

/** The versions a test project's programs run on (scripts/toolchain.mjs). */
export interface Toolchain {
  name: "current" | "floor";
  node: string;
  sdk: string;
  cli: string;
}

declare module "vitest" {
  export interface ProvidedContext {
    endpoints: Endpoints;
    /** PATH for the CLI: the toolchain's CLI, then its Node.js (which runs the programs and the provider). */
    pulumiPath: string;
    pulumiBin: string;
    toolchain: Toolchain;
    /**
     * The folder programs run in, made for this run: its node_modules holds the toolchain's
     * @pulumi/pulumi and this package as it installs (package.json, dist/sdk, dist/cli, dist/provider), so a program and the
     * package load the same SDK, the toolchain's; other dependencies resolve from the repository.
     */
    programRoot: string;
  }
}

/**
 * The vitest project `floor` runs on the floor toolchain; every other project on the current one,
 * or on the one TEST_TOOLCHAIN names (`TEST_TOOLCHAIN=floor npx vitest run --project integration
 * tests/e2e/<file>` runs any test's programs on the floor).
 */
function toolchainOf(projectName: string): Toolchain["name"] {
  if (projectName === "floor") return "floor";
  const chosen = process.env.TEST_TOOLCHAIN ?? "current";
  if (chosen !== "current" && chosen !== "floor") {
    throw new Error(`TEST_TOOLCHAIN is '${chosen}': use current or floor (scripts/toolchain.mjs)`);
  }
  return chosen;
}

/**
 * Starts the sandbox servers (or reuses running ones: the projects of one run share them) and the
 * project's Pulumi toolchain for contract and e2e tests. The test process itself stays on the
 * Node.js that runs vitest and drives the CLI through the repository's own @pulumi/pulumi
 * Automation API; what a user runs (the program, the language host's Node.js, the dynamic provider)
 * runs on the project's toolchain.
 */
export default async function setup(project: TestProject) {
  const dir = process.env.SANDBOX_DIR ?? path.join(repoRoot, ".sandbox");
  const reused = existsSync(path.join(dir, "endpoints.json"));
  const endpoints = await startSandbox({ dir });
  trustSandboxCa(endpoints.azure.caFile, dir);
  const name = toolchainOf(project.name);
  const env = pulumiEnv(process.env, name);
  const t = toolchain(name);
  const programRoot = makeProgramRoot(name, path.join(t.sdkRoot, "node_modules"));
  try {
    expectToolchainSdk(programRoot, t.nodeDir, t.sdk);
  } catch (error) {
    rmSync(programRoot, { recursive: true, force: true });
    throw error;
  }
  project.provide("endpoints", endpoints);
  project.provide("pulumiPath", env.PATH);
  project.provide("pulumiBin", env.binDir);
  project.provide("toolchain", { name, node: t.node, sdk: t.sdk, cli: t.cli });
  project.provide("programRoot", programRoot);
  return async () => {
    rmSync(programRoot, { recursive: true, force: true });
    if (!reused) await stopSandbox({ dir });
  };
}

/**
 * See ProvidedContext.programRoot. One per run and project, so runs side by side never share one.
 * The toolchain's SDK and its dependencies are hard links to the installed copy (a copy where links
 * cannot be made), not a link to its folder: the SDK names the modules a resource's provider
 * requires by looking from where it is, and from the cache it would not find this package.
 */
function makeProgramRoot(name: string, sdkModules: string): string {
  const root = path.join(repoRoot, ".pulumi-state", `${name}-${process.pid}`);
  rmSync(root, { recursive: true, force: true });
  // A package scope of its own: below the repository's package.json, a program's
  // require("pulumi-deployment-authorization") would be a self-reference to the repository's dist
  // (Node.js tries that before node_modules), which loads the repository's @pulumi/pulumi.
  mkdirSync(root, { recursive: true });
  writeFileSync(
    path.join(root, "package.json"),
    JSON.stringify({ name: `deployment-authorization-${name}-programs`, private: true }),
  );
  const modules = path.join(root, "node_modules");
  try {
    execFileSync("cp", ["-al", sdkModules, modules]);
  } catch {
    rmSync(modules, { recursive: true, force: true });
    execFileSync("cp", ["-a", sdkModules, modules]);
  }
  // This package's own dependencies resolve from the repository's node_modules, further up.
  const self = path.join(modules, "pulumi-deployment-authorization");
  mkdirSync(self);
  cpSync(path.join(repoRoot, "package.json"), path.join(self, "package.json"));
  for (const part of ["dist/sdk", "dist/cli", "dist/provider"]) {
    cpSync(path.join(repoRoot, part), path.join(self, part), { recursive: true });
  }
  return root;
}

/**
 * Fails the run unless the toolchain's Node.js, from the program root, loads the toolchain's SDK
 * both as a program does and as this package does.
 */
function expectToolchainSdk(programRoot: string, nodeDir: string, sdk: string) {
  const probe = [
    'const path = require("node:path");',
    'const own = require.resolve("@pulumi/pulumi", { paths: [path.dirname(require.resolve("pulumi-deployment-authorization"))] });',
    'console.log(JSON.stringify([process.version, require("@pulumi/pulumi/version").version, own === require.resolve("@pulumi/pulumi")]));',
  ].join("\n");
  const out = execFileSync(path.join(nodeDir, "node"), ["-e", probe], { cwd: programRoot, encoding: "utf8" });
  const [node, version, same] = JSON.parse(out) as [string, string, boolean];
  if (version !== sdk || !same) {
    throw new Error(
      `programs in ${programRoot} (Node.js ${node}) load @pulumi/pulumi ${version}, not ${sdk} (one copy: ${same})`,
    );
  }
}

/**
 * Makes the test workers trust the CA of the sandbox's https front. Node reads NODE_EXTRA_CA_CERTS
 * only when a process starts, and vitest forks its workers after the global setup, from this
 * process's environment. A CA file set already (a corporate proxy's) is kept, in one bundle.
 */
function trustSandboxCa(caFile: string, dir: string) {
  const current = process.env.NODE_EXTRA_CA_CERTS;
  if (!current || current === caFile) {
    process.env.NODE_EXTRA_CA_CERTS = caFile;
    return;
  }
  const bundle = path.join(dir, "tls", "bundle.pem");
  if (current === bundle) return;
  writeFileSync(bundle, `${readFileSync(current, "utf8").trimEnd()}\n${readFileSync(caFile, "utf8")}`);
  process.env.NODE_EXTRA_CA_CERTS = bundle;
}
