// N dynamic resources that do nothing remote: the baseline the benchmark compares with.
const pulumi = require("@pulumi/pulumi");

const provider = {
  async create(inputs) {
    return { id: `trivial-${inputs.index}`, outs: inputs };
  },
};

const count = new pulumi.Config("many").requireNumber("count");
for (let i = 0; i < count; i++) {
  new pulumi.dynamic.Resource(provider, `trivial-${i}`, { index: i });
}
