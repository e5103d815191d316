// The scale benchmark (`npm run bench -- --scale`; not part of `npm test`): 50, 200 and 500
// authorizations (BENCH_SCALE_COUNTS to change) spread over AWS roles, GCP projects and Azure
// identities, with one Airflow. For each size: wall time of up, no-op preview, refresh and
// destroy, and of the engine's floor (as many trivial components); remote calls per resource; the
// provider process's peak memory; state bytes. Prints a table with the growth from one size to the
// next, writes bench/results/scale.json and draws bench/results/scale.svg.
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import {
  airflowConfig,
  benchWorld,
  createRole,
  machine,
  project,
  round2,
  stateBreakdown,
  table,
  timed,
  timedWithProviderMemory,
} from "./benchLib.mjs";
import { repoRoot } from "./toolchain.mjs";
import { SCALE_OPS, scaleSvg } from "./benchReport.mjs";

const COUNTS = (process.env.BENCH_SCALE_COUNTS ?? "50,200,500").split(",").map(Number);
const OPS = Object.keys(SCALE_OPS);
const UNCHECKPOINTED = ["up", "destroy"];
const ROLES = 10;
const PROJECTS = 10;
/** @typedef {import("./benchReport.mjs").ScaleSize} ScaleSize */
/** @typedef {import("./benchReport.mjs").Growth} Growth */
/** @typedef {import("./benchReport.mjs").ByOp} ByOp */
/**
 * @type {Omit<import("./benchReport.mjs").Scale, "growth"> & {
 *   growth?: Growth[], linearOrBetter?: Record<string, boolean>,
 * }}
 */
const results = {
  date: new Date().toISOString(),
  machine: machine(),
  spread: `AWS over ${ROLES} roles, GCP over ${PROJECTS} projects, Azure five per identity, in turn; one Airflow 3`,
  sizes: [],
};

const { endpoints, aws, airflow, google, app, env, close } = await benchWorld();

async function azureCalls() {
  const response = await fetch(`${endpoints.azure.fakeUrl}/_fake/calls`);
  const counts = /** @type {Record<string, number>} */ (await response.json());
  await fetch(`${endpoints.azure.fakeUrl}/_fake/calls/reset`, { method: "POST" });
  return Object.values(counts).reduce((a, b) => a + b, 0);
}
async function callsSoFar() {
  const n = aws.requests.length + google.requests.length + airflow.requests.length + (await azureCalls());
  aws.requests.length = google.requests.length = airflow.requests.length = 0;
  return n;
}

try {
  const basePolicy = {
    Version: "2012-10-17",
    Statement: [{ Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" }],
  };
  const max = Math.max(...COUNTS);
  /** @type {string[]} */
  const roles = [];
  for (let i = 0; i < ROLES; i++) {
    roles.push(await createRole(endpoints.moto.url, `scale-${randomBytes(3).toString("hex")}`, basePolicy));
  }
  /** @type {string[]} */
  const projects = [];
  for (let i = 0; i < PROJECTS; i++) {
    const projectId = `scale-${randomBytes(3).toString("hex")}`;
    await fetch(`${endpoints.gcp.fakeUrl}/_fake/projects`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ projectId }),
    });
    projects.push(projectId);
  }
  /** @type {string[]} */
  const identities = [];
  for (let i = 0; i < Math.ceil(max / 3 / 5) + 1; i++) {
    const response = await fetch(`${endpoints.azure.fakeUrl}/_fake/identities`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        subscriptionId: "5ca1ab1e-0000-4000-8000-00000000be9c",
        resourceGroup: "scale",
        name: `scale-${randomBytes(3).toString("hex")}`,
      }),
    });
    identities.push(/** @type {{ id: string }} */ (await response.json()).id);
  }

  for (const count of COUNTS) {
    const stack = project(
      app,
      "scale.js",
      `scale${count}`,
      {
        "scale:count": { value: String(count) },
        "scale:roles": { value: JSON.stringify(roles) },
        "scale:projects": { value: JSON.stringify(projects) },
        "scale:identities": { value: JSON.stringify(identities) },
        ...airflowConfig("scale", { airflow, endpoints }),
      },
      env,
    );
    /** @type {Omit<ScaleSize, "state"> & { state?: ScaleSize["state"] }} */
    const size = { count, ms: {}, providerPeakMiB: {}, callsPerResource: {} };
    await callsSoFar();
    for (const [op, args] of Object.entries(SCALE_OPS)) {
      if (op === "destroy") size.state = stateBreakdown(await stack.run("stack", "export"));
      const { ms, providerPeakMiB } = await timedWithProviderMemory(() => stack.run(...args));
      size.ms[op] = ms;
      size.providerPeakMiB[op] = providerPeakMiB;
      size.callsPerResource[op] = round2((await callsSoFar()) / count);
      console.log(`[scale] ${count}: ${op} ${ms} ms, provider peak ${providerPeakMiB} MiB`);
    }
    // The same up and destroy with the engine's intermediate checkpoints off: the file backend
    // otherwise rewrites the whole state after every step, which grows with the square of the count.
    /** @type {ByOp} */
    const withoutCheckpoints = {};
    size.msWithoutCheckpoints = withoutCheckpoints;
    for (const op of UNCHECKPOINTED) {
      const args = SCALE_OPS[op] ?? [];
      withoutCheckpoints[op] = await timed(() => stack.runWith({ PULUMI_SKIP_CHECKPOINTS: "true" }, ...args));
      await callsSoFar();
      console.log(`[scale] ${count}: ${op} without checkpoints ${withoutCheckpoints[op]} ms`);
    }
    const state = size.state;
    if (!state) throw new Error(`no state read before destroy at ${count}`);
    delete state.minifiedBytesByPart;

    // The engine's floor at this size: as many trivial components over trivial dynamic resources,
    // timed in the same run, so the ratio says what this package adds and machine drift cancels.
    const floor = project(
      app,
      "trivialComponents.js",
      `floor${count}`,
      { "many:count": { value: String(count) } },
      env,
    );
    /** @type {ByOp} */
    const floorMs = {};
    size.floorMs = floorMs;
    for (const [op, args] of Object.entries(SCALE_OPS)) {
      floorMs[op] = await timed(() => floor.run(...args));
      console.log(`[scale] ${count}: floor ${op} ${floorMs[op]} ms`);
    }
    size.ratioToFloor = Object.fromEntries(
      Object.keys(floorMs).map((op) => [op, round2(Number(size.ms[op]) / Number(floorMs[op]))]),
    );
    floor.dispose();
    results.sizes.push({ ...size, state });
    stack.dispose();
  }
} finally {
  await close();
}

// Growth: the time per added resource from one size to the next, against the time per resource at
// the first size. At or under 1.1 is linear (or better); over it, the step grows faster than the count.
/**
 * @param {string[]} ops
 * @param {(size: ScaleSize) => ByOp | undefined} msOf
 * @returns {Growth[]}
 */
const growthOf = (ops, msOf) =>
  results.sizes.slice(1).flatMap((size, i) => {
    const [prev, first] = [results.sizes[i], results.sizes[0]];
    if (!prev || !first) return [];
    const ms = (/** @type {ScaleSize} */ z, /** @type {string} */ op) => Number(msOf(z)?.[op]);
    const perAdded = (/** @type {string} */ op) => (ms(size, op) - ms(prev, op)) / (size.count - prev.count);
    return [
      {
        from: prev.count,
        to: size.count,
        ...Object.fromEntries(ops.map((op) => [op, round2(perAdded(op) / (ms(first, op) / first.count))])),
      },
    ];
  });
const growth = growthOf(OPS, (z) => z.ms);
results.growth = growth;
results.linearOrBetter = Object.fromEntries(OPS.map((op) => [op, growth.every((g) => Number(g[op]) <= 1.1)]));
results.growthWithoutCheckpoints = growthOf(UNCHECKPOINTED, (z) => z.msWithoutCheckpoints);
results.floorGrowth = growthOf(OPS, (z) => z.floorMs);

table("Scale: wall time (ms), provider peak memory (MiB), remote calls and state per resource", [
  ["size", ...OPS.map((op) => `${op} ms`), "peak MiB (up)", "calls/res (up / refresh)", "state bytes/res (min.)"],
  ...results.sizes.map((s) => [
    s.count,
    ...OPS.map((op) => s.ms[op]),
    s.providerPeakMiB.up,
    `${s.callsPerResource.up} / ${s.callsPerResource.refresh}`,
    `${s.state.bytesPerResource} (${s.state.minifiedBytesPerResource})`,
  ]),
]);
table("Growth: ms per added resource over ms per resource at the first size (≤ 1.1: linear or better)", [
  ["step", ...OPS],
  ...results.growth.map((g) => [`${g.from} → ${g.to}`, ...OPS.map((op) => g[op])]),
  ["linear or better", ...OPS.map((op) => (results.linearOrBetter?.[op] ? "yes" : "no"))],
]);
table("The engine's floor at each size (trivial components over trivial dynamic resources): ms, and ratio to it", [
  ["size", ...OPS.map((op) => `${op} ms (ratio)`)],
  ...results.sizes.map((s) => [s.count, ...OPS.map((op) => `${s.floorMs?.[op]} (${s.ratioToFloor?.[op]})`)]),
  ...results.floorGrowth.map((g) => [`floor growth ${g.from} → ${g.to}`, ...OPS.map((op) => g[op])]),
]);
table("Without the engine's intermediate checkpoints (PULUMI_SKIP_CHECKPOINTS): ms, and growth as above", [
  ["size", ...UNCHECKPOINTED.map((op) => `${op} ms`)],
  ...results.sizes.map((s) => [s.count, ...UNCHECKPOINTED.map((op) => s.msWithoutCheckpoints?.[op])]),
  ...results.growthWithoutCheckpoints.map((g) => [`${g.from} → ${g.to}`, ...UNCHECKPOINTED.map((op) => g[op])]),
]);
const dir = path.join(repoRoot, "bench", "results");
mkdirSync(dir, { recursive: true });
writeFileSync(path.join(dir, "scale.json"), JSON.stringify(results, null, 2) + "\n");
writeFileSync(path.join(dir, "scale.svg"), scaleSvg(results));
console.log("\nwritten to bench/results/scale.json and bench/results/scale.svg");
