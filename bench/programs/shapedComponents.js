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

class Shaped extends pulumi.ComponentResource {
  constructor(name, index) {
    super("bench:index:Shaped", name, {});
    const resource = new pulumi.dynamic.Resource(
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
    );
    this.grant = pulumi.all([resource.grant, resource.resolved]).apply(([grant, resolved]) => ({ ...grant, resolved }));
    this.connection = pulumi
      .all([resource.connection, resource.resolved])
      .apply(([connection, resolved]) => ({ connectionId: connection.connectionId, apiVersion: resolved.apiVersion }));
    this.registerOutputs({});
  }
}

for (let i = 0; i < count; i++) new Shaped(`deployment-${i}`, i);
