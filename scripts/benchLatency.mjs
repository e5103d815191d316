// The latency benchmark (`npm run bench -- --latency`): `pulumi up` and `destroy` of 50
// authorizations on one role with 0, 100, 300 and 500 ms added to every IAM call by the recording
// proxy in front of moto (split at random between the way there and the way back), the GetRole
// reads and UpdateAssumeRolePolicy writes per create, and the least possible time at each latency:
// the same `up` without added latency plus, for each wave of creates the engine runs at once, one
// read, one write and one read-back at that latency; and the least this writer's rules allow: that
// plus, for each wave, the longer read-back delay the latency calls for (2 x L + 225 ms at L ms a
// call, against 300 ms on a fast IAM; see SharedPolicyOptions). Writes bench/results/latency.json.
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import {
  createRole,
  installedApp,
  machine,
  oneRoleConfig,
  project as stackOf,
  round2,
  table,
  timed,
} from "./benchLib.mjs";
import { startRecordingProxy } from "./recordingProxy.mjs";
import { startSandbox, stopSandbox } from "./sandbox.mjs";
import { motoEnv, pulumiEnv, repoRoot } from "./toolchain.mjs";

const COUNT = Number(process.env.BENCH_COUNT ?? 50);
const LATENCIES = (process.env.BENCH_LATENCIES ?? "0,100,300,500").split(",").map(Number);
/** Set on every run, so that the waves are known whatever the machine's default. */
const PARALLEL = 8;
const WAVES = Math.ceil(COUNT / PARALLEL);
const BASE_POLICY = {
  Version: "2012-10-17",
  Statement: [{ Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" }],
};

const sandboxDir = process.env.SANDBOX_DIR ?? path.join(repoRoot, ".sandbox");
// A sandbox that was running already (a shared one) is used and left running.
const reused = existsSync(path.join(sandboxDir, "endpoints.json"));
const endpoints = await startSandbox({ dir: sandboxDir, only: ["moto", "airflow3"] });
const iam = await startRecordingProxy(endpoints.moto.url);
const workRoot = path.join(repoRoot, ".pulumi-state");
mkdirSync(workRoot, { recursive: true });
const app = installedApp(workRoot);
const env = { ...pulumiEnv(), ...motoEnv(iam.url) };
const world = { airflow: endpoints.airflow3, endpoints };
const UP = ["up", "--yes", "--skip-preview", "--parallel", String(PARALLEL)];
const DESTROY = ["destroy", "--yes", "--skip-preview", "--parallel", String(PARALLEL)];
/**
 * @typedef {{
 *   latencyMs: number, upMs: number, destroyMs: number,
 *   readsPerCreate: number, writesPerCreate: number, readsPerDelete: number, writesPerDelete: number,
 *   leastUpMs?: number, ratioToLeast?: number, leastWithReadBackDelayUpMs?: number,
 *   ratioToLeastWithReadBackDelay?: number, leastDestroyMs?: number, destroyRatioToLeast?: number,
 * }} Level what one latency measured
 */
/**
 * @type {{
 *   date: string, machine: string, count: number, parallel: number, waves: number,
 *   trivialUpMs?: number, levels?: Level[], idleRatioToTrivial?: number,
 * }}
 */
const results = {
  date: new Date().toISOString(),
  machine: machine(),
  count: COUNT,
  parallel: PARALLEL,
  waves: WAVES,
};

const iamCalls = () => {
  const actions = iam.requests.map((r) => new URLSearchParams(r.body).get("Action"));
  iam.requests.length = 0;
  return {
    reads: actions.filter((a) => a === "GetRole").length,
    writes: actions.filter((a) => a === "UpdateAssumeRolePolicy").length,
  };
};

try {
  const trivial = stackOf(app, "trivial.js", "latency", { "many:count": { value: String(COUNT) } }, env);
  // Unmeasured: the first pulumi run pays for loading the CLI, plugins and modules.
  await trivial.run(...UP);
  await trivial.run(...DESTROY);
  const trivialUpMs = await timed(() => trivial.run(...UP));
  results.trivialUpMs = trivialUpMs;
  await trivial.run(...DESTROY);
  trivial.dispose();

  /** @type {Level[]} */
  const levels = [];
  results.levels = levels;
  for (const latencyMs of LATENCIES) {
    const role = await createRole(endpoints.moto.url, `latency-${randomBytes(3).toString("hex")}`, BASE_POLICY);
    const stack = stackOf(app, "many.js", "latency", oneRoleConfig(COUNT, role, world), env);
    iam.setLatency(latencyMs);
    iamCalls();
    const upMs = await timed(() => stack.run(...UP));
    const created = iamCalls();
    const destroyMs = await timed(() => stack.run(...DESTROY));
    const destroyed = iamCalls();
    iam.setLatency(0);
    stack.dispose();
    levels.push({
      latencyMs,
      upMs,
      destroyMs,
      readsPerCreate: round2(created.reads / COUNT),
      writesPerCreate: round2(created.writes / COUNT),
      readsPerDelete: round2(destroyed.reads / COUNT),
      writesPerDelete: round2(destroyed.writes / COUNT),
    });
    console.error(`[bench] ${latencyMs} ms a call: up ${upMs} ms, destroy ${destroyMs} ms`);
  }
  const [idle] = levels;
  if (!idle) throw new Error("BENCH_LATENCIES names no latency");
  // The read-back delay at a steady latency of L ms a call, every call taking L.
  const readBackDelay = (/** @type {number} */ L) => Math.max(300, Math.max(250, L + 200) + L + 25);
  for (const level of levels) {
    // No read, write or read-back of a wave can overlap with another's: the least the latency adds.
    const leastUpMs = idle.upMs + WAVES * 3 * (level.latencyMs - idle.latencyMs);
    level.leastUpMs = leastUpMs;
    level.ratioToLeast = round2(level.upMs / leastUpMs);
    const leastWithReadBackDelayUpMs =
      leastUpMs + WAVES * (readBackDelay(level.latencyMs) - readBackDelay(idle.latencyMs));
    level.leastWithReadBackDelayUpMs = leastWithReadBackDelayUpMs;
    level.ratioToLeastWithReadBackDelay = round2(level.upMs / leastWithReadBackDelayUpMs);
    const leastDestroyMs = idle.destroyMs + WAVES * 3 * (level.latencyMs - idle.latencyMs);
    level.leastDestroyMs = leastDestroyMs;
    level.destroyRatioToLeast = round2(level.destroyMs / leastDestroyMs);
  }
  results.idleRatioToTrivial = round2(idle.upMs / trivialUpMs);
} finally {
  await iam.close();
  if (!reused) await stopSandbox({ dir: sandboxDir });
  rmSync(app, { recursive: true, force: true });
}

table(
  `Latency: ${COUNT} authorizations on one role, --parallel ${PARALLEL} (${WAVES} waves); trivial dynamic resources' up ${results.trivialUpMs} ms`,
  [
    [
      "ms per IAM call",
      "up",
      "least possible (ratio)",
      "least with the read-back delay (ratio)",
      "destroy",
      "least possible (ratio)",
      "GetRole / create",
      "UpdateAssumeRolePolicy / create",
    ],
    ...(results.levels ?? []).map((l) => [
      l.latencyMs,
      l.upMs,
      `${l.leastUpMs} (${l.ratioToLeast})`,
      `${l.leastWithReadBackDelayUpMs} (${l.ratioToLeastWithReadBackDelay})`,
      l.destroyMs,
      `${l.leastDestroyMs} (${l.destroyRatioToLeast})`,
      l.readsPerCreate,
      l.writesPerCreate,
    ]),
  ],
);
mkdirSync(path.join(repoRoot, "bench", "results"), { recursive: true });
writeFileSync(path.join(repoRoot, "bench", "results", "latency.json"), JSON.stringify(results, null, 2) + "\n");
console.log("\nwritten to bench/results/latency.json");
