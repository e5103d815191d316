// `npm run bench`: the standard benchmark (50 resources per cloud, against two baselines);
// `npm run bench -- --scale`: the scale benchmark (50, 200 and 500 over several targets). Either
// way the README's figures table is regenerated from bench/results afterwards.
import { updateReadme } from "./benchReport.mjs";

await import(process.argv.includes("--scale") ? "./benchScale.mjs" : "./benchStandard.mjs");
updateReadme();
