// A third baseline: N components shaped as DeploymentAuthorization (the same raw inputs, a secret,
// the same outputs taken the same way) over a provider that does no work (shapedProvider.js) but
// answers with this package's real state. What separates the package from it is the package's own
// work; what separates it from trivialComponents.js is the cost of the state's size and shape.
const pulumi = require("@pulumi/pulumi");
const provider = require("bench-shaped-provider");

const config = new pulumi.Config("many");
const count = config.requireNumber("count");
const project = pulumi.getProject();
const stack = pulumi.getStack();

/** A dynamic resource of the shaped provider (its base class is abstract to TypeScript alone). */
class ShapedResource extends pulumi.dynamic.Resource {}

/**
 * The outputs of a ShapedResource read here: those of this package's own resource.
 * @typedef {import("@pulumi/pulumi").Output<T>} Output
 * @template T
 */
/**
 * @typedef {{
 *   grant: Output<Record<string, unknown>>,
 *   connection: Output<{ connectionId: string }>,
 *   resolved: Output<{ apiVersion: string }>,
 * }} ShapedOutputs
 */

/**
 * `pulumi.all` of two outputs, typed as such: its record overload comes first and takes a
 * JavaScript array literal.
 * @type {<A, B>(values: [Output<A>, Output<B>]) => Output<[import("@pulumi/pulumi").Unwrap<A>, import("@pulumi/pulumi").Unwrap<B>]>}
 */
const allOfTwo = pulumi.all;

class Shaped extends pulumi.ComponentResource {
  /**
   * @param {string} name
   * @param {number} index
   */
  constructor(name, index) {
    super("bench:index:Shaped", name, {});
    const resource = /** @type {ShapedResource & ShapedOutputs} */ (
      new ShapedResource(
        provider,
        name,
        {
          grant: undefined,
          connection: {
            connectionId: `aws_${stack}_${index}`,
            airflow: { url: "http://127.0.0.1:1", auth: { kind: "password", username: "admin" } },
          },
          resolved: undefined,
          owner: `${project}/${stack}/${name}`,
          workloadIdentity: `arn:aws:iam::111122223333:role/astro-${stack}-${index}`,
          aws: { targetRole: config.require("targetRole"), region: "us-east-1" },
          credentials: pulumi.secret({ password: "bench" }),
        },
        { parent: this, additionalSecretOutputs: ["credentials"] },
      )
    );
    this.grant = allOfTwo([resource.grant, resource.resolved]).apply(([grant, resolved]) => ({ ...grant, resolved }));
    this.connection = allOfTwo([resource.connection, resource.resolved]).apply(([connection, resolved]) => ({
      connectionId: connection.connectionId,
      apiVersion: resolved.apiVersion,
    }));
    this.registerOutputs({});
  }
}

for (let i = 0; i < count; i++) new Shaped(`deployment-${i}`, i);
