// `npm run bench`: the standard benchmark (50 resources per cloud, against three baselines);
// `npm run bench -- --scale`: the scale benchmark (50, 200 and 500 over several targets);
// `npm run bench -- --profile`: where the CPU of preview, no-op up and refresh goes, against the
// engine's floor; `npm run bench -- --latency`: up and destroy of 50 on one role with latency
// added to every IAM call. Either way bench/README.md is regenerated from bench/results afterwards.
// `node scripts/bench.mjs --help`: the modes, and every program the benchmarks copy (exit 1 if one is missing).
import { existsSync } from "node:fs";
import { benchPrograms } from "./benchLib.mjs";
import { updateReadme } from "./benchReport.mjs";

if (process.argv.includes("--help")) {
  console.log("usage: node scripts/bench.mjs [--scale | --profile | --latency]\n\nprograms:");
  const programs = benchPrograms();
  for (const program of programs) console.log(`  ${program}${existsSync(program) ? "" : "  (missing)"}`);
  process.exit(programs.every((program) => existsSync(program)) ? 0 : 1);
}

const flag = ["scale", "profile", "latency"].find((name) => process.argv.includes(`--${name}`));
const which = flag ? flag.charAt(0).toUpperCase() + flag.slice(1) : "Standard";
await import(`./bench${which}.mjs`);
updateReadme();
