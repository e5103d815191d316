// `npm run bench -- --profile`: where the CPU of a `pulumi` run goes, for 50 authorizations on one
// role and for the engine's floor (50 trivial components over one dynamic resource each). Each
// operation runs unprofiled (medians of 3) for the wall time and the CPU time of the whole process
// tree (the CLI, the language host, the program and the provider), then once more with every
// Node.js process under `--cpu-prof` for the program's and the provider's CPU by what it was spent
// in. Prints a table and writes bench/results/profile.json.
import { randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { benchWorld, createRole, machine, median, oneRoleConfig, project as stackOf } from "./benchLib.mjs";
import { profileTable } from "./benchReport.mjs";
import { repoRoot } from "./toolchain.mjs";

const COUNT = Number(process.env.BENCH_COUNT ?? 50);
/** Unprofiled runs of each operation (BENCH_ROUNDS); wall and CPU time are their medians. */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const UP = ["up", "--yes", "--skip-preview"];
/** @typedef {import("./benchReport.mjs").ProfileStack} ProfileStack */
/** @typedef {import("./benchReport.mjs").ProfileSide} ProfileSide */
/** @type {Array<[keyof ProfileStack, string[]]>} */
const OPERATIONS = [
  ["preview", ["preview"]],
  ["noOpUp", UP],
  ["refresh", ["refresh", "--yes", "--skip-preview"]],
];

/**
 * A `node` first on PATH that adds `--cpu-prof` when PROF_DIR is set. The engine stops the
 * provider with a signal, and Node.js writes a profile only on a normal exit, so a preloaded
 * handler turns the signal into one.
 * @param {string} dir
 */
function profilingNode(dir) {
  const onSignal = path.join(dir, "exit-on-signal.cjs");
  writeFileSync(onSignal, 'for (const s of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(s, () => process.exit(0));\n');
  const shim = path.join(dir, "node");
  writeFileSync(
    shim,
    `#!/bin/sh\nif [ -n "$PROF_DIR" ]; then exec "${process.execPath}" --cpu-prof --cpu-prof-dir="$PROF_DIR" --require "${onSignal}" "$@"; fi\nexec "${process.execPath}" "$@"\n`,
  );
  chmodSync(shim, 0o755);
  return dir;
}

/** CPU milliseconds of this process's reaped children (and theirs), from /proc/self/stat. */
function childrenCpuMs() {
  const fields = (readFileSync("/proc/self/stat", "utf8").split(") ")[1] ?? "").split(" ");
  const ticks = Number(fields[13]) + Number(fields[14]); // cutime, cstime
  return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
}

const CATEGORIES = [
  "loading modules",
  "the SDK's promise stack traces",
  "resource stack traces",
  "this package",
  "cloud and HTTP clients",
  "gRPC and protobuf",
  "garbage collection",
  "other JavaScript and Node.js",
];
/** The clients the provider's drivers call through; their time is the remote calls', not the package's logic. */
const CLIENTS = [
  "/@aws-sdk/",
  "/@smithy/",
  "/@azure/",
  "/googleapis",
  "/gaxios/",
  "/google-auth-library/",
  "node:_http",
  "undici",
];
const LOADER_NATIVES = new Set(["wrapSafe", "compileForInternalLoader", "readFileUtf8", "internalModuleStat"]);

/**
 * A V8 CPU profile (`--cpu-prof`), the parts read here.
 * @typedef {{ functionName: string, url: string }} CallFrame
 * @typedef {{ id: number, callFrame: CallFrame, children?: number[] }} ProfileNode
 * @typedef {{ nodes: ProfileNode[], samples: number[], timeDeltas: number[], startTime: number, endTime: number }} CpuProfile
 * @typedef {{ kind: "program" | "provider", wallMs: number, idleMs: number, cpuMs: number, byCategory: Record<string, number> }} ProcessProfile
 */

/**
 * One process's profile: which one it was, its wall time, idle time, and CPU by category.
 * @param {string} file
 * @returns {ProcessProfile | undefined}
 */
function analyse(file) {
  /** @type {CpuProfile} */
  const profile = JSON.parse(readFileSync(file, "utf8"));
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  /** @type {Map<number, number>} */
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const urls = profile.nodes.map((n) => n.callFrame.url);
  const kind = urls.some((u) => u.includes("/cmd/dynamic-provider/"))
    ? "provider"
    : urls.some((u) => u.includes("/cmd/run/"))
      ? "program"
      : undefined;
  if (!kind) return undefined;
  /** @type {Map<number, number>} */
  const selfUs = new Map();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  /** @type {Record<string, number>} */
  const byCategory = Object.fromEntries(CATEGORIES.map((c) => [c, 0]));
  let idle = 0;
  for (const [id, us] of selfUs) {
    const leaf = nodes.get(id)?.callFrame;
    if (!leaf) continue;
    if (leaf.functionName === "(idle)") {
      idle += us;
      continue;
    }
    const category = categoryOf(id, leaf, nodes, parent);
    byCategory[category] = (byCategory[category] ?? 0) + us;
  }
  const ms = (/** @type {number} */ us) => Math.round(us / 1000);
  return {
    kind,
    wallMs: ms(profile.endTime - profile.startTime),
    idleMs: ms(idle),
    cpuMs: ms(Object.values(byCategory).reduce((a, b) => a + b, 0)),
    byCategory: Object.fromEntries(Object.entries(byCategory).map(([k, v]) => [k, ms(v)])),
  };
}

/**
 * @param {number} id
 * @param {CallFrame} leaf
 * @param {Map<number, ProfileNode>} nodes
 * @param {Map<number, number>} parent
 */
function categoryOf(id, leaf, nodes, parent) {
  if (leaf.functionName === "(garbage collector)") return "garbage collection";
  if (leaf.url.startsWith("node:internal/modules/") || LOADER_NATIVES.has(leaf.functionName)) return "loading modules";
  // The nearest frame that says whose work this is, walking from the sample towards the root.
  for (let /** @type {number | undefined} */ at = id; at !== undefined; at = parent.get(at)) {
    const frame = nodes.get(at)?.callFrame;
    if (!frame) break;
    const { functionName, url } = frame;
    if (functionName === "debuggablePromise") return "the SDK's promise stack traces";
    if (functionName === "callsites" && url.endsWith("/resource.js")) return "resource stack traces";
    if (CLIENTS.some((c) => url.includes(c))) return "cloud and HTTP clients";
    if (url.includes("/pulumi-deployment-authorization/")) return "this package";
    if (url.includes("google-protobuf") || url.includes("@grpc/grpc-js") || url.startsWith("node:internal/http2"))
      return "gRPC and protobuf";
  }
  return "other JavaScript and Node.js";
}

/**
 * @param {ProcessProfile[]} profiles
 * @param {ProcessProfile["kind"]} kind
 * @returns {ProfileSide & { idleMs: number }}
 */
function sumProcesses(profiles, kind) {
  const of = profiles.filter((p) => p.kind === kind);
  /** @type {ProfileSide & { idleMs: number }} */
  const out = { processes: of.length, idleMs: 0, cpuMs: 0, byCategory: {} };
  for (const p of of) {
    out.idleMs += p.idleMs;
    out.cpuMs += p.cpuMs;
    for (const [k, v] of Object.entries(p.byCategory)) out.byCategory[k] = (out.byCategory[k] ?? 0) + v;
  }
  return out;
}

const work = mkdtempSync(path.join(os.tmpdir(), "bench-profile-"));
const shimDir = profilingNode(mkdtempSync(path.join(work, "node-")));
const { endpoints, airflow, app, env, close } = await benchWorld();
/** @type {import("./benchReport.mjs").Profile} */
const results = {
  date: new Date().toISOString(),
  machine: machine(),
  count: COUNT,
  rounds: ROUNDS,
  stacks: {},
};
try {
  const roleArn = await createRole(endpoints.moto.url, `bench-profile-${randomBytes(3).toString("hex")}`, {
    Version: "2012-10-17",
    Statement: [],
  });
  const stacks = {
    "trivial components": stackOf(
      app,
      "trivialComponents.js",
      "bench",
      { "many:count": { value: String(COUNT) } },
      env,
    ),
    "AWS, one role": stackOf(app, "many.js", "bench", oneRoleConfig(COUNT, roleArn, { airflow, endpoints }), env),
  };
  for (const [name, stack] of Object.entries(stacks)) {
    await stack.run(...UP);
    // Unmeasured: the first run after a create loads what the later ones find cached.
    await stack.run("preview");
    /** @type {Partial<ProfileStack>} */
    const measured = {};
    for (const [op, args] of OPERATIONS) {
      /** @type {Array<{ wallMs: number, treeCpuMs: number }>} */
      const unprofiled = [];
      for (let round = 0; round < ROUNDS; round++) {
        const before = childrenCpuMs();
        const t0 = performance.now();
        await stack.run(...args);
        unprofiled.push({ wallMs: performance.now() - t0, treeCpuMs: childrenCpuMs() - before });
      }
      const wallMs = Math.round(Number(median(unprofiled.map((r) => r.wallMs))));
      const treeCpuMs = Math.round(Number(median(unprofiled.map((r) => r.treeCpuMs))));
      const dir = mkdtempSync(path.join(work, "prof-"));
      await stack.runWith({ PATH: `${shimDir}${path.delimiter}${env.PATH}`, PROF_DIR: dir }, ...args);
      const profiles = readdirSync(dir)
        .filter((f) => f.endsWith(".cpuprofile"))
        .flatMap((f) => analyse(path.join(dir, f)) ?? []);
      measured[op] = {
        wallMs,
        treeCpuMs,
        program: sumProcesses(profiles, "program"),
        provider: sumProcesses(profiles, "provider"),
      };
      rmSync(dir, { recursive: true, force: true });
    }
    results.stacks[name] = /** @type {ProfileStack} */ (measured);
    await stack.run("destroy", "--yes", "--skip-preview");
    stack.dispose();
  }
} finally {
  await close();
  rmSync(work, { recursive: true, force: true });
}

console.log(`\n${profileTable(results)}`);
mkdirSync(path.join(repoRoot, "bench", "results"), { recursive: true });
writeFileSync(path.join(repoRoot, "bench", "results", "profile.json"), JSON.stringify(results, null, 2) + "\n");
console.log("\nwritten to bench/results/profile.json");
