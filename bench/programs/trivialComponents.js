// The engine's floor for a resource shaped like ours: N components, each over one dynamic resource
// whose provider checks, diffs and creates without any remote call, with outputs registered.
const pulumi = require("@pulumi/pulumi");

/** @type {import("@pulumi/pulumi").dynamic.ResourceProvider} */
const provider = {
  async check(_olds, news) {
    return { inputs: news };
  },
  async diff(_id, olds, news) {
    return { changes: olds.index !== news.index };
  },
  async create(inputs) {
    return { id: `trivial-${inputs.index}`, outs: inputs };
  },
  async read(id, props) {
    return { id, props };
  },
};

/** A dynamic resource of `provider` (its base class is abstract to TypeScript alone). */
class TrivialResource extends pulumi.dynamic.Resource {}

class Trivial extends pulumi.ComponentResource {
  /**
   * @param {string} name
   * @param {number} index
   */
  constructor(name, index) {
    super("bench:index:Trivial", name, {});
    const resource = new TrivialResource(provider, name, { index }, { parent: this });
    this.index = resource.id.apply(() => index);
    this.registerOutputs({ index: this.index });
  }
}

const count = new pulumi.Config("many").requireNumber("count");
for (let i = 0; i < count; i++) new Trivial(`trivial-${i}`, i);
