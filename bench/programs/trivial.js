// N dynamic resources that do nothing remote: the baseline the benchmark compares with.
const pulumi = require("@pulumi/pulumi");

/** @type {import("@pulumi/pulumi").dynamic.ResourceProvider} */
const provider = {
  async create(inputs) {
    return { id: `trivial-${inputs.index}`, outs: inputs };
  },
};

/** A dynamic resource of `provider` (its base class is abstract to TypeScript alone). */
class Trivial extends pulumi.dynamic.Resource {}

const count = new pulumi.Config("many").requireNumber("count");
for (let i = 0; i < count; i++) {
  new Trivial(provider, `trivial-${i}`, { index: i });
}
