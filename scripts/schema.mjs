// `npm run schema`: writes schema.json, the package schema the provider plugin serves and the SDKs of
// every language are generated from, from the compiled input schemas (dist/). A unit test fails
// when the file differs from what the inputs generate.
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { repoRoot } from "./toolchain.mjs";

const require = createRequire(import.meta.url);
const { packageSchema } = require(path.join(repoRoot, "dist/sdk/plugin/schema.js"));
const { cloudSchemaPieces } = require(path.join(repoRoot, "dist/sdk/plugin/clouds.js"));
const { version } = JSON.parse(readFileSync(path.join(repoRoot, "package.json"), "utf8"));
writeFileSync(
  path.join(repoRoot, "schema.json"),
  `${JSON.stringify(packageSchema(await cloudSchemaPieces(), version), null, 2)}\n`,
);
process.stderr.write(`schema: wrote schema.json (${version})\n`);
