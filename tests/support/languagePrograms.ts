import { execFile, execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { inject } from "vitest";
import { repoRoot } from "./pulumiProgram";
import { cacheRoot, languagesToolchain } from "../../scripts/toolchain.mjs";

export type Language = "python" | "yaml";

export interface CliResult {
  stdout: string;
  stderr: string;
  code: number;
}

export interface LanguageStack {
  workDir: string;
  /** The pulumi CLI on this stack, as a user types it (`--stack` and `--non-interactive` added). */
  cli(args: string[]): Promise<CliResult>;
  /** `pulumi stack export`: the state as the backend stores it (secrets encrypted). */
  state(): Promise<string>;
  dispose(): void;
}

/**
 * What the Python programs run with, made once per test file: the language hosts beside the CLI,
 * and the Python SDKs of installPythonSdk().
 */
export function preparePython(): PythonSdk {
  languagesToolchain();
  return installPythonSdk();
}

export interface PythonSdk {
  /** The bin/ of the venv with the pinned `pulumi` Python SDK (sandbox/requirements/pulumi-python.txt). */
  venvBin: string;
  /** The folder this package's Python SDK is installed in, for PYTHONPATH. */
  site: string;
  cleanup(): void;
}

/** The bin/ of the venv scripts/bootstrap/python.sh made from sandbox/requirements/<name>.txt. */
export function bootstrapVenvBin(name: string): string {
  const lock = readFileSync(path.join(repoRoot, `sandbox/requirements/${name}.txt`));
  const hash = (execFileSync("sha256sum", { input: lock, encoding: "utf8" }) as string).slice(0, 12);
  return path.join(cacheRoot() as string, "venvs", `${name}-${hash}`, "bin");
}

/**
 * The pinned `pulumi` Python SDK's venv (scripts/bootstrap/python.sh), and this package's Python SDK
 * built as a wheel from sdks/python and installed from it with pip (into a folder of its own, on
 * PYTHONPATH, so the shared venv stays as its lock says).
 */
export function installPythonSdk(): PythonSdk {
  execFileSync("bash", [path.join(repoRoot, "scripts/bootstrap/python.sh")], {
    stdio: ["ignore", "ignore", "inherit"],
  });
  const venvBin = bootstrapVenvBin("pulumi-python");
  const work = mkdtempSync(path.join(os.tmpdir(), "da-python-sdk-"));
  const wheels = path.join(work, "wheels");
  const site = path.join(work, "site");
  execFileSync("bash", [path.join(repoRoot, "scripts/sdks.sh"), "--wheel", wheels], {
    stdio: ["ignore", "ignore", "inherit"],
  });
  const wheel = execFileSync("sh", ["-c", `ls ${wheels}/*.whl`], { encoding: "utf8" }).trim();
  execFileSync(
    path.join(venvBin, "python"),
    ["-m", "pip", "install", "--quiet", "--no-deps", "--target", site, wheel],
    {
      stdio: ["ignore", "ignore", "inherit"],
    },
  );
  return { venvBin, site, cleanup: () => rmSync(work, { recursive: true, force: true }) };
}

/**
 * A stack of a Python or YAML program run by the real CLI from a folder outside this repository (no
 * node_modules anywhere above it, no NODE_PATH): the engine starts the provider plugin found on
 * PATH (bin/pulumi-resource-deployment-authorization), or the one installed in `pulumiHome`.
 */
export async function languageStack(options: {
  language: Language;
  /** The program: for Python, `__main__.py`'s text; for YAML, Pulumi.yaml's body below `runtime`. */
  program: string;
  stackName: string;
  config: Record<string, { value: string; secret?: boolean }>;
  env: Record<string, string>;
  python?: { venvBin: string; site: string };
  /** A PULUMI_HOME with the plugin installed in it; without one, the plugin is found on PATH (bin/). */
  pulumiHome?: string;
}): Promise<LanguageStack> {
  const workDir = mkdtempSync(path.join(os.tmpdir(), `da-${options.language}-`));
  const backendDir = path.join(workDir, ".backend");
  mkdirSync(backendDir);
  const project = `da-${options.language}`;
  if (options.language === "python") {
    writeFileSync(path.join(workDir, "Pulumi.yaml"), `name: ${project}\nruntime: python\n`);
    writeFileSync(path.join(workDir, "__main__.py"), options.program);
  } else {
    writeFileSync(path.join(workDir, "Pulumi.yaml"), `name: ${project}\nruntime: yaml\n${options.program}`);
  }
  const { NODE_PATH: _nodePath, ...base } = process.env;
  const env: NodeJS.ProcessEnv = {
    ...base,
    PATH: [
      ...(options.python ? [options.python.venvBin] : []),
      // The plugin from this checkout, unless the test installed one.
      ...(options.pulumiHome ? [] : [path.join(repoRoot, "bin")]),
      inject("pulumiPath"),
    ].join(path.delimiter),
    ...(options.python ? { PYTHONPATH: options.python.site, VIRTUAL_ENV: path.dirname(options.python.venvBin) } : {}),
    PULUMI_BACKEND_URL: `file://${backendDir}`,
    PULUMI_CONFIG_PASSPHRASE: "languages-passphrase",
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    PULUMI_HOME: options.pulumiHome ?? path.join(workDir, ".pulumi-home"),
    ...options.env,
  };
  const pulumi = path.join(inject("pulumiBin"), "pulumi");
  const run = (args: string[], stack = true) =>
    new Promise<CliResult>((resolve) => {
      execFile(
        pulumi,
        [...args, ...(stack ? ["--stack", options.stackName] : []), "--non-interactive"],
        { cwd: workDir, env, maxBuffer: 64 * 1024 * 1024 },
        (error, stdout, stderr) => resolve({ stdout, stderr, code: error ? Number(error.code ?? 1) : 0 }),
      );
    });
  const init = await run(["stack", "init", options.stackName], false);
  if (init.code !== 0) throw new Error(`pulumi stack init failed: ${init.stderr}`);
  for (const [key, { value, secret }] of Object.entries(options.config)) {
    const set = await run(["config", "set", ...(secret ? ["--secret"] : []), key, value]);
    if (set.code !== 0) throw new Error(`pulumi config set ${key} failed: ${set.stderr}`);
  }
  return {
    workDir,
    cli: run,
    async state() {
      const exported = await run(["stack", "export"]);
      if (exported.code !== 0) throw new Error(`pulumi stack export failed: ${exported.stderr}`);
      return exported.stdout;
    },
    dispose: () => rmSync(workDir, { recursive: true, force: true }),
  };
}
