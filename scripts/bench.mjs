// `npm run bench`: the standard benchmark (50 resources per cloud, against three baselines);
// `npm run bench -- --scale`: the scale benchmark (50, 200 and 500 over several targets);
// `npm run bench -- --profile`: where the CPU of preview, no-op up and refresh goes, against the
// engine's floor. Either way the README's figures section is regenerated from bench/results afterwards.
import { updateReadme } from "./benchReport.mjs";

const which = process.argv.includes("--scale") ? "Scale" : process.argv.includes("--profile") ? "Profile" : "Standard";
await import(`./bench${which}.mjs`);
updateReadme();
