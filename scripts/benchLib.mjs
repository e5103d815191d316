// Pieces the benchmarks share: a project with the packed package installed as a user installs it,
// stacks in it, timing, the provider process's peak memory, and state sizes by field.
import { execFile, execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import os from "node:os";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { promisify } from "node:util";
import { startRecordingProxy } from "./recordingProxy.mjs";
import { startSandbox, stopSandbox } from "./sandbox.mjs";
import { azureEnv, gcpEnv, motoEnv, pulumiEnv, repoRoot } from "./toolchain.mjs";

/** The benchmark's own programs. */
export const BENCH_PROGRAMS = path.join(repoRoot, "bench", "programs");
/** Programs the e2e tests run that the benchmarks time as well, read from where the tests keep them. */
const E2E_PROGRAMS = ["many.js", "gcp.js", "azure.js"].map((file) =>
  path.join(repoRoot, "tests", "e2e", "programs", file),
);
const require = createRequire(import.meta.url);

/** The machine a result was measured on, as every results file names it. */
export const machine = () =>
  `${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node.js ${process.version}`;

/** @typedef {import("./sandbox.mjs").Endpoints} Endpoints */
/** @typedef {Record<string, { value: string, secret?: boolean }>} StackConfig `pulumi config set` values */

export const median = (/** @type {number[]} */ xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * A role in the sandbox's moto with the given trust policy; its ARN.
 * @param {string} motoUrl
 * @param {string} name
 * @param {unknown} trustPolicy
 * @returns {Promise<string>}
 */
export async function createRole(motoUrl, name, trustPolicy) {
  const { IAMClient, CreateRoleCommand } = require("@aws-sdk/client-iam");
  const iam = new IAMClient({
    endpoint: motoUrl,
    region: "us-east-1",
    credentials: { accessKeyId: "x", secretAccessKey: "x" },
  });
  const created = await iam.send(
    new CreateRoleCommand({ RoleName: name, AssumeRolePolicyDocument: JSON.stringify(trustPolicy) }),
  );
  const arn = created.Role?.Arn;
  if (!arn) throw new Error(`CreateRole ${name} answered without the role's ARN`);
  return arn;
}

/**
 * Config of `many.js`: `count` authorizations on one role, with the bench's trust policy quota.
 * @param {number} count
 * @param {string} roleArn
 * @param {BenchServers} world
 * @returns {StackConfig}
 */
export function oneRoleConfig(count, roleArn, world) {
  return {
    "many:count": { value: String(count) },
    "many:targetRole": { value: roleArn },
    ...airflowConfig("many", world),
    "deployment-authorization:awsTrustPolicySizeQuota": { value: "4096" },
  };
}

/**
 * @typedef {{ airflow: { url: string }, endpoints: Pick<Endpoints, "airflow3"> }} BenchServers the
 *   Airflow a benchmark's connections go to (through its recording proxy), and the sandbox's servers
 */

/**
 * Stack config that points a benchmark program (config namespace `ns`) at the sandbox's Airflow 3.
 * @param {string} ns
 * @param {BenchServers} servers
 * @returns {StackConfig}
 */
export function airflowConfig(ns, { airflow, endpoints }) {
  return {
    [`${ns}:airflowUrl`]: { value: airflow.url },
    [`${ns}:airflowUsername`]: { value: endpoints.airflow3.username },
    "deployment-authorization:airflowPassword": { value: endpoints.airflow3.password, secret: true },
  };
}

/** Every program a benchmark runs: its own and the e2e programs it times too. */
export const benchPrograms = () => [
  ...readdirSync(BENCH_PROGRAMS).map((file) => path.join(BENCH_PROGRAMS, file)),
  ...E2E_PROGRAMS,
];

/**
 * A project outside the repository's package scope with the package packed (`npm pack`, which builds
 * first) and installed from the tarball, and `@pulumi/pulumi` as its own dependency, so state holds
 * what a user's state holds. The benchmark's programs are copied in beside it.
 * @param {string} root
 */
export function installedApp(root) {
  const app = mkdtempSync(path.join(root, "app-"));
  const packed = execFileSync("npm", ["pack", "--silent", "--pack-destination", app], {
    cwd: repoRoot,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  })
    .trim()
    .split("\n")
    .at(-1);
  const pulumiVersion = JSON.parse(readFileSync(path.join(repoRoot, "package.json"), "utf8")).devDependencies[
    "@pulumi/pulumi"
  ];
  writeFileSync(
    path.join(app, "package.json"),
    JSON.stringify({
      name: "bench-app",
      private: true,
      dependencies: { "@pulumi/pulumi": pulumiVersion, "pulumi-deployment-authorization": `file:./${packed}` },
    }),
  );
  execFileSync("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"], {
    cwd: app,
    stdio: ["ignore", "ignore", "inherit"],
  });
  for (const program of benchPrograms()) copyFileSync(program, path.join(app, path.basename(program)));
  return app;
}

/**
 * What both benchmarks run against: the sandbox (moto, Airflow 3, the GCP and Azure fakes), recording
 * proxies in front of IAM, Airflow and Google, the installed project, and the environment that
 * points the CLI and the provider at them. `close` stops all of it.
 */
export async function benchWorld() {
  const toolchain = pulumiEnv();
  const sandboxDir = process.env.SANDBOX_DIR ?? path.join(repoRoot, ".sandbox");
  // A sandbox that was running already (a shared one) is used and left running.
  const reused = existsSync(path.join(sandboxDir, "endpoints.json"));
  const endpoints = await startSandbox({ dir: sandboxDir, only: ["moto", "airflow3", "gcp", "azure"] });
  const aws = await startRecordingProxy(endpoints.moto.url);
  const airflow = await startRecordingProxy(endpoints.airflow3.url);
  const google = await startRecordingProxy(endpoints.gcp.url);
  const workRoot = path.join(repoRoot, ".pulumi-state");
  mkdirSync(workRoot, { recursive: true });
  const app = installedApp(workRoot);
  const env = {
    ...toolchain,
    ...motoEnv(aws.url),
    ...gcpEnv(google.url),
    ...azureEnv(endpoints.azure.url, endpoints.azure.caFile),
  };
  const close = async () => {
    await aws.close();
    await airflow.close();
    await google.close();
    if (!reused) await stopSandbox({ dir: sandboxDir });
    rmSync(app, { recursive: true, force: true });
  };
  return { endpoints, aws, airflow, google, app, env, close };
}

/**
 * A stack of one program, in its own directory under `app` (a file backend of its own).
 * @param {string} app
 * @param {string} program the program's file name in `app`, such as many.js
 * @param {string} stackName
 * @param {StackConfig} config
 * @param {NodeJS.ProcessEnv} env
 */
export function project(app, program, stackName, config, env) {
  const dir = mkdtempSync(path.join(app, "stack-"));
  writeFileSync(
    path.join(dir, "Pulumi.yaml"),
    "name: bench\nruntime:\n  name: nodejs\n  options:\n    typescript: false\nmain: index.js\n",
  );
  writeFileSync(path.join(dir, "index.js"), `module.exports = require("../${program}");\n`);
  const stackEnv = {
    ...env,
    PULUMI_BACKEND_URL: `file://${dir}/backend`,
    PULUMI_CONFIG_PASSPHRASE: "bench",
    PULUMI_HOME: path.join(dir, ".pulumi-home"),
  };
  mkdirSync(path.join(dir, "backend"));
  // Asynchronous: the recording proxies live in this process and must keep serving meanwhile.
  /** @type {(extraEnv: NodeJS.ProcessEnv, ...args: string[]) => Promise<string>} */
  const runWith = async (extraEnv, ...args) =>
    (
      await promisify(execFile)("pulumi", [...args, "--stack", stackName, "--non-interactive"], {
        cwd: dir,
        env: { ...stackEnv, ...extraEnv },
        maxBuffer: 1 << 28,
      })
    ).stdout;
  const run = (/** @type {string[]} */ ...args) => runWith({}, ...args);
  execFileSync("pulumi", ["stack", "init", stackName, "--non-interactive"], {
    cwd: dir,
    env: stackEnv,
    stdio: "ignore",
  });
  for (const [key, value] of Object.entries(config)) {
    execFileSync("pulumi", ["config", "set", ...(value.secret ? ["--secret"] : []), key, "--stack", stackName], {
      cwd: dir,
      env: stackEnv,
      input: value.value,
    });
  }
  return { run, runWith, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}

/** @param {() => Promise<unknown>} fn */
export async function timed(fn) {
  const t0 = performance.now();
  await fn();
  return Math.round(performance.now() - t0);
}

/**
 * Runs `fn` while sampling the peak resident memory (VmHWM) of every dynamic provider process that
 * appears, every 100 ms; returns the time and the largest peak in MiB.
 * @param {() => Promise<unknown>} fn
 */
export async function timedWithProviderMemory(fn) {
  let peakKb = 0;
  const sample = () => {
    for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
      try {
        if (!readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("dynamic-provider")) continue;
        const hwm = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
        if (hwm) peakKb = Math.max(peakKb, Number(hwm[1]));
      } catch {
        // the process ended between the listing and the read
      }
    }
  };
  const timer = setInterval(sample, 100);
  try {
    const ms = await timed(fn);
    return { ms, providerPeakMiB: Math.round(peakKb / 1024) };
  } finally {
    clearInterval(timer);
  }
}

export const round2 = (/** @type {number} */ x) => Math.round(x * 100) / 100;

/**
 * State size per authorization (and per resource the engine keeps, the stack and provider included),
 * as `pulumi stack export` prints it and minified, and what each part
 * costs: the serialized provider, the resource's inputs and outputs by key, the engine's own
 * records (stack trace, URNs, dates), and the component around it.
 * @param {string} exported `pulumi stack export` as printed
 */
export function stateBreakdown(exported) {
  /** @typedef {{ type: string, inputs?: Record<string, unknown>, outputs?: Record<string, unknown> } & Record<string, unknown>} StateResource */
  /** @type {{ deployment: { resources: StateResource[] } }} */
  const deployment = JSON.parse(exported);
  const resources = deployment.deployment.resources;
  const dynamic = resources.filter((r) => r.type.startsWith("pulumi-nodejs:dynamic"));
  const n = dynamic.length;
  const bytes = (/** @type {unknown} */ value) => Buffer.byteLength(JSON.stringify(value));
  /** @type {Record<string, number>} */
  const parts = {};
  const add = (/** @type {string} */ key, /** @type {number} */ value) => (parts[key] = (parts[key] ?? 0) + value / n);
  for (const r of dynamic) {
    for (const side of /** @type {const} */ (["inputs", "outputs"])) {
      for (const [key, value] of Object.entries(r[side] ?? {})) add(`${side}.${key}`, bytes(value));
    }
    for (const [key, value] of Object.entries(r)) {
      if (key !== "inputs" && key !== "outputs")
        add(key === "stackTrace" || key === "sourcePosition" ? "engine stack trace" : "engine metadata", bytes(value));
    }
  }
  for (const r of resources.filter((r) => r.type === "deployment-authorization:index:DeploymentAuthorization")) {
    add("component", bytes(r));
  }
  return {
    bytesPerResource: Math.round(Buffer.byteLength(exported) / n),
    // Each authorization is two resources to the engine (the component and its dynamic resource).
    bytesPerEngineResource: Math.round(Buffer.byteLength(exported) / resources.length),
    minifiedBytesPerResource: Math.round(bytes(deployment) / n),
    providerBytesPerResource: Math.round(
      dynamic.reduce((s, r) => s + Buffer.byteLength(String(r.inputs?.__provider ?? "")), 0) / n,
    ),
    minifiedBytesByPart: Object.fromEntries(
      Object.entries(parts)
        .map(([k, v]) => [k, Math.round(v)])
        .sort((a, b) => Number(b[1]) - Number(a[1])),
    ),
  };
}

/**
 * Prints a Markdown table.
 * @param {string} title
 * @param {unknown[][]} data the header row, then the rows
 */
export function table(title, data) {
  const widths = (data[0] ?? []).map((_, i) => Math.max(...data.map((r) => String(r[i]).length)));
  console.log(`\n${title}`);
  for (const [n, r] of data.entries()) {
    console.log(`| ${r.map((c, i) => String(c).padEnd(widths[i] ?? 0)).join(" | ")} |`);
    if (n === 0) console.log(`| ${widths.map((w) => "-".repeat(w)).join(" | ")} |`);
  }
}
