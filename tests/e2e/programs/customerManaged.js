// Customer-managed identity in one pass: the Deployment's namespace is an output of the resource
// that creates the Deployment, unknown at preview, and the authorization takes it as it comes.
const pulumi = require("@pulumi/pulumi");
const { DeploymentAuthorization } = require("pulumi-deployment-authorization");

const config = new pulumi.Config("cm");

/** Stands for the Astro Deployment resource: its namespace exists only once it is created. */
class Deployment extends pulumi.dynamic.Resource {
  /**
   * @param {string} name
   * @param {{ name: string }} args
   * @param {import("@pulumi/pulumi").CustomResourceOptions} [opts]
   */
  constructor(name, args, opts) {
    /** @type {import("@pulumi/pulumi").dynamic.ResourceProvider} */
    const provider = {
      async create(inputs) {
        const suffix = Math.random().toString(36).slice(2, 8);
        return { id: `dep-${suffix}`, outs: { ...inputs, namespace: `astronomer-${inputs.name}-${suffix}` } };
      },
    };
    super(provider, name, { namespace: undefined, ...args }, opts);
  }
}

// The engine sets the output property `namespace`; declared here for the type checker alone.
const deployment = /** @type {Deployment & { namespace: import("@pulumi/pulumi").Output<string> }} */ (
  new Deployment("analytics", { name: "analytics" })
);

const auth = new DeploymentAuthorization("analytics-s3", {
  aws: {
    targetRole: config.require("targetRole"),
    region: "us-east-1",
    trust: { kind: "webIdentity", issuerUrl: config.require("issuerUrl"), namespace: deployment.namespace },
  },
  connection: {
    connectionId: "aws_customer_managed",
    airflow: {
      url: config.require("airflowUrl"),
      auth: { kind: "password", username: config.require("airflowUsername") },
    },
  },
});

exports.namespace = deployment.namespace;
exports.grant = auth.grant;
exports.connection = auth.connection;
