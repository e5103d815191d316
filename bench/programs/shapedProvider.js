// The provider of shapedComponents.js: no remote call and no validation; check and create answer with
// the inputs and outputs one AWS authorization of the same run holds in state (a template file named
// by stack config), so the engine and the SDK carry exactly this resource's state. Installed by the
// bench as a package, so `__provider` is a short `require()`, as this package's own is.
const { readFileSync } = require("node:fs");

/** @type {string} */
let templatePath;
/** @type {Record<string, { inputs: Record<string, unknown>, outputs: Record<string, unknown> }> | undefined} */
let template;
const entry = (/** @type {string} */ owner) => {
  const read = (template ??= JSON.parse(readFileSync(templatePath, "utf8")));
  const found = read[owner];
  if (!found) throw new Error(`no state in ${templatePath} for ${owner}`);
  return found;
};

/** @type {import("@pulumi/pulumi").dynamic.ResourceProvider} */
module.exports = {
  async configure(req) {
    templatePath = req.config.get("shaped:template") ?? "";
  },
  async check(_olds, news) {
    return { inputs: { ...entry(news.owner).inputs, credentials: news.credentials } };
  },
  async diff() {
    return { changes: false };
  },
  async create(inputs) {
    return { id: `shaped-${inputs.owner}`, outs: { ...entry(inputs.owner).outputs, credentials: inputs.credentials } };
  },
  async read(id, props) {
    return { id, props };
  },
};
