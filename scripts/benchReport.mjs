// What the benchmarks leave for readers: bench/README.md, generated from bench/results/*.json
// (latest.json, and scale.json, profile.json, latency.json, standard-aws.json and soak.json when
// present), and the scale curves as an SVG. `node scripts/benchReport.mjs` rewrites bench/README.md;
// `node scripts/benchReport.mjs --check` exits non-zero when it is not what the JSON generates.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const RESULTS = path.join(repoRoot, "bench", "results");
const BENCH_README = path.join(repoRoot, "bench", "README.md");

/**
 * The results files, as the benchmarks write them. A missing figure (an older file) shows as NaN.
 * @typedef {Record<string, number>} ByOp a figure per operation (up, up64, preview, noOpUp, refresh, destroy)
 * @typedef {{
 *   bytesPerResource: number, minifiedBytesPerResource: number, bytesPerEngineResource?: number,
 *   providerBytesPerResource: number, minifiedBytesByPart?: Record<string, number>,
 * }} StateSizes minifiedBytesByPart: in latest.json, not in scale.json
 * @typedef {{ ms: ByOp, ratio: ByOp, ratioToComponentFloor: ByOp, writes: ByOp, state: StateSizes }} CloudFigures
 * @typedef {{
 *   date: string, machine: string, count: number, rounds?: number, pairedRatios?: boolean,
 *   aws: CloudFigures, gcp: CloudFigures, azure: CloudFigures,
 *   trivialMs: ByOp, trivialComponentsMs: ByOp, shapedComponentsMs?: ByOp, shapedComponentsRatio?: ByOp,
 * }} Latest bench/results/latest.json
 * @typedef {{
 *   count: number, ms: ByOp, providerPeakMiB: ByOp, callsPerResource: ByOp, state: StateSizes,
 *   floorMs?: ByOp, ratioToFloor?: ByOp, msWithoutCheckpoints?: ByOp,
 * }} ScaleSize
 * @typedef {{ from: number, to: number } & ByOp} Growth
 * @typedef {{
 *   date: string, machine: string, spread: string, sizes: ScaleSize[], growth: Growth[],
 *   floorGrowth?: Growth[], growthWithoutCheckpoints?: Growth[],
 * }} Scale bench/results/scale.json
 * @typedef {{ processes: number, cpuMs: number, byCategory: Record<string, number> }} ProfileSide
 * @typedef {{ wallMs: number, treeCpuMs: number, program: ProfileSide, provider: ProfileSide }} ProfileRun
 * @typedef {{ preview: ProfileRun, noOpUp: ProfileRun, refresh: ProfileRun }} ProfileStack
 * @typedef {{ date: string, machine: string, count: number, rounds?: number, stacks: Record<string, ProfileStack> }} Profile
 *   bench/results/profile.json
 * @typedef {{
 *   date: string, machine: string, count: number, parallel: number, waves: number, trivialUpMs: number,
 *   idleRatioToTrivial: number, levels: import("./benchLatency.mjs").Level[],
 * }} Latency bench/results/latency.json
 */

const s = (/** @type {number | undefined} */ ms) => `${(Number(ms) / 1000).toFixed(1)} s`;

/** @param {unknown[][]} rows the header row, then the rows */
function markdownTable(rows) {
  const widths = (rows[0] ?? []).map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  const line = (/** @type {unknown[]} */ r) => `| ${r.map((c, i) => String(c).padEnd(widths[i] ?? 0)).join(" | ")} |`;
  return [line(rows[0] ?? []), `| ${widths.map((w) => "-".repeat(w)).join(" | ")} |`, ...rows.slice(1).map(line)].join(
    "\n",
  );
}

/**
 * Where the CPU of preview, no-op up and refresh goes (bench/results/profile.json), as a Markdown table.
 * @param {Profile} profile
 */
export function profileTable(profile) {
  const stacks = Object.entries(profile.stacks);
  const names = stacks.map(([name]) => name);
  /** @type {Array<[keyof ProfileStack, string]>} */
  const ops = [
    ["preview", "`preview`"],
    ["noOpUp", "no-op `up`"],
    ["refresh", "`refresh`"],
  ];
  /** @type {(op: keyof ProfileStack, f: (run: ProfileRun) => string) => string} */
  const cell = (op, f) => stacks.map(([, stack]) => f(stack[op])).join(" / ");
  const categories = Object.keys(stacks[0]?.[1].preview.program.byCategory ?? {});
  const rows = [
    ["", ...ops.map(([, label]) => `${label}: ${names.join(" / ")}`)],
    ["wall time", ...ops.map(([op]) => cell(op, (r) => s(r.wallMs)))],
    ["CPU of every process of the run", ...ops.map(([op]) => cell(op, (r) => s(r.treeCpuMs)))],
    .../** @type {const} */ (["program", "provider"]).flatMap((side) => {
      // A refresh runs no program: its cells there read "–"; a part no process spent time in is left out.
      /** @type {(r: ProfileRun, f: (part: ProfileSide) => number) => string} */
      const ms = (r, f) => (r[side].processes === 0 ? "–" : String(f(r[side])));
      const parts = categories.filter((c) =>
        ops.some(([op]) => stacks.some(([, stack]) => (stack[op][side].byCategory[c] ?? 0) > 0)),
      );
      return [
        [`${side} CPU`, ...ops.map(([op]) => cell(op, (r) => ms(r, (p) => p.cpuMs)))],
        ...parts.map((c) => [
          `${side}: ${c}`,
          ...ops.map(([op]) => cell(op, (r) => ms(r, (p) => p.byCategory[c] ?? 0))),
        ]),
      ];
    }),
  ];
  return markdownTable(rows);
}

/** @param {Profile} profile */
function profileLines(profile) {
  return [
    "",
    `Where the CPU goes (\`npm run bench -- --profile\`, ${profile.machine}, ${profile.date.slice(0, 10)}; ${profile.count} resources; wall time and the CPU of every process${profile.rounds ? `, medians of ${profile.rounds} runs` : ""}; CPU in ms of the program and the provider from one more run under \`--cpu-prof\`, which adds its own overhead; a refresh runs no program):`,
    "",
    profileTable(profile),
  ];
}

/**
 * The operations the scale benchmark times, and the CLI arguments of each.
 * @type {Record<string, string[]>}
 */
export const SCALE_OPS = {
  up: ["up", "--yes", "--skip-preview"],
  preview: ["preview"],
  refresh: ["refresh", "--yes", "--skip-preview"],
  destroy: ["destroy", "--yes", "--skip-preview"],
};
const OPS_SCALE = Object.keys(SCALE_OPS);

/**
 * The least `up` any writer that reads its writes back could take at this latency: the least
 * possible, plus for each wave how much longer than the run without added latency's 300 ms it must
 * wait before its read-back, for another writer's read (served before our write landed) and write
 * (sent within 200 ms of that read's answer) to land: 2 × L + 200 ms. Derived from the run's figures.
 * @param {Latency} latency
 * @param {import("./benchLatency.mjs").Level} level
 */
function verifiedFloor(latency, level) {
  const idle = latency.levels[0];
  if (!idle || idle.latencyMs !== 0) return "–";
  const extraWait = Math.max(0, 2 * level.latencyMs + 200 - 300);
  const floor = (level.leastUpMs ?? NaN) + latency.waves * extraWait;
  return `${s(floor)} (${(Math.round((level.upMs / floor) * 100) / 100).toString()}×)`;
}

/**
 * Up and destroy of one role's authorizations at each latency (bench/results/latency.json).
 * @param {Latency} latency
 */
function latencyLines(latency) {
  return [
    "",
    `Latency (\`npm run bench -- --latency\`, ${latency.machine}, ${latency.date.slice(0, 10)}; ${latency.count} authorizations on one role, \`--parallel ${latency.parallel}\` so ${latency.waves} waves; the latency added to every IAM call by the recording proxy in front of moto, split at random between the way there and back; least possible: the same run without added latency, plus one read, one write and one read-back at that latency for each wave; least with the read-back delay: that plus, for each wave, what the read-back delay grows by at that latency (2 × _L_ + 225 ms against 300 ms); least for a verified write: the least possible plus, for each wave, what any writer that reads its write back must wait beyond 300 ms for another writer's read and write to land (2 × _L_ + 200 ms: IAM has no version to check), derived from the same run; trivial dynamic resources' \`up\` ${s(latency.trivialUpMs)} in the same run, so the \`up\` without added latency took ${latency.idleRatioToTrivial}× that):`,
    "",
    markdownTable([
      [
        "ms per IAM call",
        "`up`",
        "least possible `up` (ratio)",
        "least with the read-back delay (ratio)",
        "least for a verified write (ratio)",
        "`destroy`",
        "least possible `destroy` (ratio)",
        "`GetRole` / create",
        "`UpdateAssumeRolePolicy` / create",
      ],
      ...latency.levels.map((l) => [
        String(l.latencyMs),
        s(l.upMs),
        `${s(l.leastUpMs)} (${l.ratioToLeast}×)`,
        l.leastWithReadBackDelayUpMs === undefined
          ? "–"
          : `${s(l.leastWithReadBackDelayUpMs)} (${l.ratioToLeastWithReadBackDelay}×)`,
        verifiedFloor(latency, l),
        s(l.destroyMs),
        `${s(l.leastDestroyMs)} (${l.destroyRatioToLeast}×)`,
        String(l.readsPerCreate),
        String(l.writesPerCreate),
      ]),
    ]),
  ];
}

/**
 * The README's figures section, between its markers.
 * @param {Latest} latest
 * @param {Scale} [scale]
 * @param {Profile} [profile]
 * @param {Latency} [latency]
 */
export function figuresSection(latest, scale, profile, latency) {
  const n = latest.count;
  /** @type {(c: "aws" | "gcp" | "azure", k: string) => string} */
  const op = (c, k) => `${s(latest[c].ms[k])} (${latest[c].ratio[k]}× / ${latest[c].ratioToComponentFloor[k]}×)`;
  const rows = [
    ["what", "AWS, one role", "GCP, one project", "Azure, 5 per identity"],
    .../** @type {Array<[op: string, label: string]>} */ ([
      ["up", `\`up\` of ${n} (create)`],
      ["up64", "`up --parallel 64`"],
      ["preview", "`preview`, no changes"],
      ["noOpUp", "no-op `up`"],
      ["refresh", "`refresh`"],
      ["destroy", "`destroy`"],
    ]).map(([k, label]) => [label, op("aws", k), op("gcp", k), op("azure", k)]),
    [
      "writes in a no-op `up` / a refresh",
      .../** @type {const} */ (["aws", "gcp", "azure"]).map(
        (c) => `${latest[c].writes.noOpUp} / ${latest[c].writes.refresh}`,
      ),
    ],
  ];
  const base = latest.trivialMs;
  const floor = latest.trivialComponentsMs;
  const shaped = latest.shapedComponentsMs;
  const BASELINE_OPS = ["up", "up64", "preview", "noOpUp", "refresh", "destroy"];
  const st = latest.aws.state;
  const lines = [
    `Measured by \`npm run bench\` on ${latest.machine}, ${latest.date.slice(0, 10)}, from a project that installs the packed package${latest.rounds ? `; each figure the median of ${latest.rounds} runs` : ""}. In brackets: the ratio to ${n} trivial dynamic resources doing the same, and to ${n} trivial components over one dynamic resource each (the engine's floor for this resource's shape)${latest.pairedRatios ? `, each the median of the ${latest.rounds} rounds' ratios (a round times every stack back to back)` : ""}.`,
    "",
    markdownTable(rows),
    "",
    markdownTable([
      ["baseline", "up", "up --parallel 64", "preview", "no-op up", "refresh", "destroy"],
      ["trivial dynamic resources", ...BASELINE_OPS.map((k) => s(base[k]))],
      ["trivial components", ...BASELINE_OPS.map((k) => s(floor[k]))],
      ...(shaped
        ? [
            [
              "shaped components (ratio to the first)",
              ...BASELINE_OPS.map((k) => `${s(shaped[k])} (${latest.shapedComponentsRatio?.[k]}×)`),
            ],
          ]
        : []),
    ]),
    ...(shaped
      ? [
          "",
          `Shaped components: ${n} components over one dynamic resource each that carry this resource's AWS state (its inputs, its outputs, a secret, the outputs taken the same way) through a provider that does no work, validates nothing and makes no remote call. Between them and trivial components is the cost, to the engine and the SDK, of the state's shape; between them and AWS, one role, is this package's own work.`,
        ]
      : []),
    "",
    `State per authorization: ${st.bytesPerResource.toLocaleString("en")} bytes in \`pulumi stack export\` as printed, ${st.minifiedBytesPerResource.toLocaleString("en")} minified${st.bytesPerEngineResource ? `; per resource the engine keeps (each authorization is two: the component and its dynamic resource) ${st.bytesPerEngineResource.toLocaleString("en")} bytes` : ""}; \`__provider\` ${st.providerBytesPerResource} bytes (it is stored in inputs and outputs). What each part costs, minified, per authorization: ${Object.entries(
      st.minifiedBytesByPart ?? {},
    )
      .map(([part, bytes]) => (part.includes(".") ? `\`${part}\` ${bytes}` : `${part} ${bytes}`))
      .join(", ")}.`,
  ];
  if (scale) {
    lines.push(
      "",
      `Scale (\`npm run bench -- --scale\`, ${scale.machine}, ${scale.date.slice(0, 10)}; ${scale.spread}):`,
      "",
      markdownTable([
        [
          "authorizations",
          "up",
          "preview",
          "refresh",
          "destroy",
          "provider peak (up)",
          "calls per resource (up)",
          "state per authorization (per engine resource)",
        ],
        ...scale.sizes.map((z) => [
          z.count,
          s(z.ms.up),
          s(z.ms.preview),
          s(z.ms.refresh),
          s(z.ms.destroy),
          `${z.providerPeakMiB.up} MiB`,
          z.callsPerResource.up,
          `${z.state.bytesPerResource.toLocaleString("en")} B${z.state.bytesPerEngineResource ? ` (${z.state.bytesPerEngineResource.toLocaleString("en")} B)` : ""}`,
        ]),
      ]),
      "",
      `Growth per added resource against the first size (1.0 is linear): ${scale.growth
        .map((g) => `${g.from}→${g.to}: up ${g.up}, preview ${g.preview}, refresh ${g.refresh}, destroy ${g.destroy}`)
        .join("; ")}. The curves: [results/scale.svg](results/scale.svg).`,
    );
    if (scale.sizes.every((z) => z.floorMs)) {
      lines.push(
        "",
        `The engine's floor at each size, timed in the same run (as many trivial components over trivial dynamic resources), and this package's ratio to it: ${scale.sizes
          .map(
            (z) =>
              `${z.count}: ${OPS_SCALE.map((op) => `${op} ${s(z.floorMs?.[op])} (${z.ratioToFloor?.[op]}×)`).join(", ")}`,
          )
          .join("; ")}.${
          scale.floorGrowth
            ? ` The floor's own growth, as above: ${scale.floorGrowth
                .map((g) => `${g.from}→${g.to}: ${OPS_SCALE.map((op) => `${op} ${g[op]}`).join(", ")}`)
                .join("; ")}.`
            : ""
        }`,
      );
    }
    if (scale.growthWithoutCheckpoints) {
      lines.push(
        "",
        `With the engine's intermediate checkpoints off (\`PULUMI_SKIP_CHECKPOINTS=true\`; the file backend otherwise rewrites the whole state after every step): ${scale.sizes
          .map((z) => `${z.count}: up ${s(z.msWithoutCheckpoints?.up)}, destroy ${s(z.msWithoutCheckpoints?.destroy)}`)
          .join("; ")}; growth ${scale.growthWithoutCheckpoints
          .map((g) => `${g.from}→${g.to}: up ${g.up}, destroy ${g.destroy}`)
          .join("; ")}.`,
      );
    }
  }
  if (profile) lines.push(...profileLines(profile));
  if (latency) lines.push(...latencyLines(latency));
  return lines.join("\n");
}

/**
 * Trust policy capacity: how many Deployments fit on one role at each quota (latest.json's `capacity`).
 * @param {Latest & { capacity?: Array<{ mode: string, packing: string, q2048: number, q4096: number }> }} latest
 */
function capacityLines(latest) {
  if (!latest.capacity) return [];
  return [
    "",
    "Deployments that fit on one role's trust policy at the default length quota (2,048 characters) and a raised one (4,096), by trust mode, with grants packed into one statement (what this package writes) and with one statement per Deployment:",
    "",
    markdownTable([
      ["trust mode", "packing", "at 2,048", "at 4,096"],
      ...latest.capacity.map((c) => [c.mode, c.packing, String(c.q2048), String(c.q4096)]),
    ]),
  ];
}

/**
 * The AWS-only run (`BENCH_ONLY=aws`, bench/results/standard-aws.json), when there is one.
 * @param {{ aws?: CloudFigures, machine: string, date: string, rounds?: number, count: number } | undefined} awsOnly
 */
function awsOnlyLines(awsOnly) {
  if (!awsOnly?.aws) return [];
  const r = awsOnly.aws;
  const ops = ["up", "preview", "noOpUp", "refresh", "destroy"].filter((k) => r.ms?.[k] !== undefined);
  return [
    "",
    `AWS only (\`BENCH_ONLY=aws npm run bench\`, ${awsOnly.machine}, ${awsOnly.date.slice(0, 10)}${awsOnly.rounds ? `, medians of ${awsOnly.rounds} rounds` : ""}; ${awsOnly.count} authorizations on one role; in brackets the ratio to trivial dynamic resources and to trivial components): ${ops
      .map(
        (k) =>
          `${k === "noOpUp" ? "no-op up" : k} ${s(r.ms[k])}${r.ratio?.[k] !== undefined ? ` (${r.ratio[k]}× / ${r.ratioToComponentFloor?.[k] ?? "–"}×)` : ""}`,
      )
      .join(", ")}.`,
  ];
}

/**
 * The last soak run (bench/results/soak.json), when there is one.
 * @param {Record<string, any> | undefined} soak
 */
function soakLines(soak) {
  if (!soak) return [];
  return [
    "",
    "## Soak",
    "",
    `\`npm run soak -- --minutes N\` (default 3): two stacks create and destroy authorizations on one role, cycle after cycle, while a writer with no read-back edits its own statements in the same trust policy; then one refresh and up of each stack, and a count of entries lost, principals twice, and the other writer's statements. It runs its own moto and Airflow 3 in \`.pulumi-state/soak-sandbox\` and exits non-zero on any loss.`,
    "",
    `Last run (${soak.minutes} min, ${soak.date.slice(0, 10)}, Node.js ${soak.node}): ${soak.cycles} cycles, ${soak.ups} ups (${soak.failedUps} failed), ${soak.entriesWritten} entries written, ${soak.lostBeforeRepair} lost before the final refresh and up, ${soak.lost} lost after, ${soak.duplicates} duplicates, ${soak.orphans} orphans; the other writer made ${soak.naiveWrites} writes (${soak.naiveOverwrittenSeen} of them undone by this package's writes, ${soak.naiveHeldReads} of its reads held past the read-back delay); its final statements ${soak.naiveIntact ? "intact" : "not intact"}, foreign statements ${soak.foreignIntact ? "intact" : "not intact"}.`,
  ];
}

const HOW_TO_RUN = [
  "# Benchmark",
  "",
  "<!-- generated by scripts/benchReport.mjs from bench/results/*.json; do not edit by hand: run `node scripts/benchReport.mjs` -->",
  "",
  "What `npm run bench` measures, and the figures of its last runs. None of it is part of `npm test`; a unit test checks that this page is what `bench/results/*.json` generates.",
  "",
  "## Running it",
  "",
  "- `npm run bench`: 50 authorizations per cloud (AWS on one role, GCP on one project, Azure five per identity) against three baselines (50 trivial dynamic resources, 50 trivial components over one dynamic resource each, and 50 components that carry this resource's state through a provider that does nothing), from a project that installs the packed package. Each operation is timed 3 times (`BENCH_ROUNDS`) after a warm-up, each round timing every stack back to back, so that each ratio compares runs made within the same few minutes; medians of the times and of each round's ratios are reported. Writes `bench/results/latest.json` (about 22 minutes). `BENCH_ONLY=aws npm run bench` times only the AWS stack against the first two baselines and writes `bench/results/standard-aws.json`.",
  "- `npm run bench -- --scale`: 50, 200 and 500 authorizations over 10 roles, 10 GCP projects and Azure identities (`BENCH_SCALE_COUNTS` to change), `up` and `destroy` also with `PULUMI_SKIP_CHECKPOINTS=true`; `bench/results/scale.json`, drawn in `bench/results/scale.svg` (about 30 minutes).",
  "- `npm run bench -- --profile`: `preview`, no-op `up` and `refresh` of 50 authorizations and of 50 trivial components, each timed 3 times with the CPU time of every process of the run, then once more with the program and the provider under Node.js's `--cpu-prof`, their CPU split by what it was spent in; `bench/results/profile.json` (about 8 minutes).",
  "- `npm run bench -- --latency`: `up` and `destroy` of 50 authorizations on one role with 0, 100, 300 and 500 ms added to every IAM call (`BENCH_LATENCIES` to change) by the recording proxy in front of moto; `bench/results/latency.json` (about 4 minutes).",
  "",
  "Each run regenerates this page; `node scripts/benchReport.mjs` does it alone.",
  "",
  "## Figures",
  "",
];

/** @param {string} name */
function readResult(name) {
  const file = path.join(RESULTS, `${name}.json`);
  return existsSync(file) ? JSON.parse(readFileSync(file, "utf8")) : undefined;
}

/** bench/README.md, as the results in bench/results generate it. */
export function benchReadme() {
  const latest = readResult("latest");
  if (!latest) throw new Error("bench/results/latest.json is missing: run npm run bench");
  return (
    [
      ...HOW_TO_RUN,
      figuresSection(latest, readResult("scale"), readResult("profile"), readResult("latency")),
      ...capacityLines(latest),
      ...awsOnlyLines(readResult("standard-aws")),
      ...soakLines(readResult("soak")),
    ].join("\n") + "\n"
  );
}

export function updateReadme() {
  writeFileSync(BENCH_README, benchReadme());
  console.log("bench/README.md regenerated from bench/results");
}

/**
 * Wall time against the number of authorizations, one line per operation.
 * @param {Pick<Scale, "machine" | "sizes">} results
 */
export function scaleSvg(results) {
  const [W, H, L, B, T, R] = [640, 400, 70, 50, 30, 150];
  /** @type {Array<[op: string, color: string]>} */
  const ops = [
    ["up", "#1f77b4"],
    ["preview", "#2ca02c"],
    ["refresh", "#ff7f0e"],
    ["destroy", "#d62728"],
  ];
  const xs = results.sizes.map((z) => z.count);
  const maxX = Math.max(...xs);
  const maxY = Math.max(...results.sizes.flatMap((z) => ops.map(([op]) => Number(z.ms[op])))) / 1000;
  const x = (/** @type {number} */ v) => L + (v / maxX) * (W - L - R);
  const y = (/** @type {number} */ v) => H - B - (v / maxY) * (H - B - T);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${L}" y="18" font-size="14">Wall time by number of authorizations (${results.machine})</text>`,
    `<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="black"/>`,
    `<line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="black"/>`,
    `<text x="${(L + W - R) / 2}" y="${H - 12}" text-anchor="middle">authorizations</text>`,
    `<text x="16" y="${(T + H - B) / 2}" transform="rotate(-90 16 ${(T + H - B) / 2})" text-anchor="middle">seconds</text>`,
  ];
  for (const v of xs) {
    parts.push(`<text x="${x(v)}" y="${H - B + 16}" text-anchor="middle">${v}</text>`);
  }
  for (let i = 0; i <= 4; i++) {
    const v = (maxY * i) / 4;
    parts.push(`<text x="${L - 6}" y="${y(v) + 4}" text-anchor="end">${v.toFixed(0)}</text>`);
    parts.push(`<line x1="${L}" y1="${y(v)}" x2="${W - R}" y2="${y(v)}" stroke="#ddd"/>`);
  }
  ops.forEach(([op, color], i) => {
    const points = results.sizes.map((z) => `${x(z.count)},${y(Number(z.ms[op]) / 1000)}`).join(" ");
    parts.push(`<polyline points="${points}" fill="none" stroke="${color}" stroke-width="2"/>`);
    if (results.sizes.every((z) => z.msWithoutCheckpoints?.[op] !== undefined)) {
      const flat = results.sizes
        .map((z) => `${x(z.count)},${y(Number(z.msWithoutCheckpoints?.[op]) / 1000)}`)
        .join(" ");
      parts.push(
        `<polyline points="${flat}" fill="none" stroke="${color}" stroke-width="1.5" stroke-dasharray="5,4"/>`,
      );
    }
    if (results.sizes.every((z) => z.floorMs?.[op] !== undefined)) {
      const floor = results.sizes.map((z) => `${x(z.count)},${y(Number(z.floorMs?.[op]) / 1000)}`).join(" ");
      parts.push(
        `<polyline points="${floor}" fill="none" stroke="${color}" stroke-width="1" stroke-dasharray="1,3" opacity="0.8"/>`,
      );
    }
    for (const z of results.sizes)
      parts.push(`<circle cx="${x(z.count)}" cy="${y(Number(z.ms[op]) / 1000)}" r="3" fill="${color}"/>`);
    parts.push(`<rect x="${W - R + 15}" y="${T + 10 + i * 20}" width="12" height="12" fill="${color}"/>`);
    parts.push(`<text x="${W - R + 32}" y="${T + 20 + i * 20}">${op}</text>`);
  });
  const notes = [
    ...(results.sizes.every((z) => z.msWithoutCheckpoints) ? ["dashed: without", "checkpoints"] : []),
    ...(results.sizes.every((z) => z.floorMs) ? ["dotted: the engine's", "floor (trivial", "components)"] : []),
  ];
  notes.forEach((note, i) =>
    parts.push(`<text x="${W - R + 15}" y="${T + 30 + ops.length * 20 + i * 14}" font-size="11">${note}</text>`),
  );
  parts.push("</svg>");
  return parts.join("\n") + "\n";
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv.includes("--check")) {
    const current = existsSync(BENCH_README) ? readFileSync(BENCH_README, "utf8") : "";
    if (current !== benchReadme()) {
      console.error("bench/README.md is not what bench/results generates: run node scripts/benchReport.mjs");
      process.exit(1);
    }
  } else updateReadme();
}
