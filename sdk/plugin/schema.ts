import { z } from "zod";
import { UNKNOWN } from "../../provider/core/unknown";
import { connectionInputSchema, deploymentInputSchema, inputsSchema } from "../../provider/core/schema";
import { COMPONENT_TYPE } from "./component";

/**
 * The Pulumi package schema of `deployment-authorization`, generated from the one input definition
 * (the zod schemas and their descriptions), from which every language's SDK is generated.
 * `schema.json` at the package root is its output (`npm run schema`); a unit test keeps them equal.
 */
export const PACKAGE = "deployment-authorization";

/**
 * The Go SDK's module path: `sdks/go` of the repository the package is published from. Go fetches a
 * module by this path, so it must name that repository before a release.
 */
export const GO_MODULE = "github.com/pulumi-deployment-authorization/pulumi-deployment-authorization/sdks/go";

/** One cloud's part of the package: its key, the schema of `inputs[cloud]` and of its `grant` output. */
export interface CloudSchemaPiece {
  readonly cloud: string;
  readonly schema: z.ZodType;
  readonly output: z.ZodType;
}

type JsonSchema = {
  type?: string | string[];
  description?: string;
  const?: unknown;
  enum?: unknown[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: JsonSchema | boolean;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
};

/** A property's type in Pulumi's schema language. */
export interface TypeSpec {
  type?: string;
  $ref?: string;
  items?: TypeSpec;
  additionalProperties?: TypeSpec;
  oneOf?: TypeSpec[];
  discriminator?: { propertyName: string; mapping: Record<string, string> };
}
export interface PropertySpec extends TypeSpec {
  description?: string;
  secret?: boolean;
  const?: unknown;
}
interface ObjectTypeSpec {
  type: "object";
  description?: string;
  properties: Record<string, PropertySpec>;
  required?: string[];
}
interface EnumTypeSpec {
  type: "string";
  description?: string;
  enum: Array<{ value: string }>;
}

/** Enum names where the property's path would name them poorly (one enum, used by several clouds). */
const ENUM_NAMES: Readonly<Record<string, string>> = { serviceAccounts: "ServiceAccountComponent" };

/** Fields the component fills in itself when left out (from stack config or the Astro Deployment). */
const FILLED_BY_COMPONENT = new Set(["region", "project", "issuerUrl", "namespace"]);

const nullable = (schema: JsonSchema): boolean =>
  (Array.isArray(schema.type) && schema.type.includes("null")) ||
  (schema.anyOf ?? schema.oneOf ?? []).some((b) => b.type === "null");

const pascal = (name: string) =>
  name.charAt(0).toUpperCase() + name.slice(1).replace(/[-_](\w)/g, (_, c: string) => c.toUpperCase());
const token = (name: string) => `${PACKAGE}:index:${name}`;
const ref = (name: string) => `#/types/${token(name)}`;

/** Turns zod's JSON Schema into Pulumi types, naming each object and enum after where it is. */
class TypeWriter {
  readonly types: Record<string, ObjectTypeSpec | EnumTypeSpec> = {};

  property(schema: JsonSchema, name: string, propertyName: string): PropertySpec {
    const spec: PropertySpec = { ...this.type(schema, name, propertyName) };
    if (schema.description) spec.description = schema.description;
    return spec;
  }

  private type(schema: JsonSchema, name: string, propertyName: string): PropertySpec {
    // A nullable scalar (`type: ["string", "null"]`): null is what leaving the field out says.
    if (Array.isArray(schema.type)) {
      const types = schema.type.filter((t) => t !== "null");
      return types.length === 1
        ? this.type({ ...schema, type: types[0] }, name, propertyName)
        : { $ref: "pulumi.json#/Any" };
    }
    const branches = (schema.anyOf ?? schema.oneOf)?.filter((b) => b.const !== UNKNOWN);
    if (branches) {
      if (branches.length === 1)
        return this.property(
          { ...branches[0], description: schema.description ?? branches[0]!.description },
          name,
          propertyName,
        );
      const kinds = branches.map((b) => b.properties?.kind?.const);
      if (kinds.every((k): k is string => typeof k === "string")) {
        const mapping: Record<string, string> = {};
        const oneOf = branches.map((b, i) => {
          const variant = `${name}${pascal(kinds[i]!)}`;
          this.object(b, variant);
          mapping[kinds[i]!] = ref(variant);
          return { $ref: ref(variant) };
        });
        return { oneOf, discriminator: { propertyName: "kind", mapping } };
      }
      // A scalar or an object (`true | {...}`); null, which the schema cannot say, is left out.
      const oneOf = branches.filter((b) => b.type !== "null").map((b) => this.type(b, name, propertyName));
      return oneOf.length === 1 ? oneOf[0]! : { oneOf };
    }
    if (schema.const !== undefined) {
      return propertyName === "kind" ? { type: "string", const: schema.const } : { type: typeof schema.const };
    }
    if (schema.enum) {
      const enumName = ENUM_NAMES[propertyName] ?? name;
      this.types[token(enumName)] ??= {
        type: "string",
        enum: schema.enum.map((value) => ({ value: String(value) })),
      };
      return { $ref: ref(enumName) };
    }
    switch (schema.type) {
      case "object":
        if (schema.properties) {
          this.object(schema, name);
          return { $ref: ref(name) };
        }
        return {
          type: "object",
          additionalProperties:
            typeof schema.additionalProperties === "object"
              ? this.type(schema.additionalProperties, `${name}Value`, propertyName)
              : { $ref: "pulumi.json#/Any" },
        };
      case "array":
        return { type: "array", items: this.type(schema.items ?? {}, name, propertyName) };
      case "string":
      case "number":
      case "integer":
      case "boolean":
        return { type: schema.type };
      default:
        return { $ref: "pulumi.json#/Any" };
    }
  }

  /** A named object type; returns its properties and required list for callers that extend it. */
  object(schema: JsonSchema, name: string): ObjectTypeSpec {
    const properties: Record<string, PropertySpec> = {};
    for (const [key, value] of Object.entries(schema.properties ?? {})) {
      const child = name.endsWith(pascal(key)) ? name : `${name}${pascal(key)}`;
      properties[key] = this.property(value, child, key);
    }
    // A field that may be null is not required: the schema has no null, a missing value says it.
    const required = (schema.required ?? []).filter(
      (key) => !FILLED_BY_COMPONENT.has(key) && !nullable(schema.properties?.[key] ?? {}),
    );
    const spec: ObjectTypeSpec = {
      type: "object",
      ...(schema.description ? { description: schema.description } : {}),
      properties,
      ...(required.length ? { required } : {}),
    };
    this.types[token(name)] = spec;
    return spec;
  }
}

const jsonSchema = (schema: z.ZodType) =>
  z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as unknown as JsonSchema;

/** A schema without its descriptions: what two clouds' fields of one name must agree on. */
const shape = (schema: JsonSchema): string =>
  JSON.stringify(schema, (key, value: unknown) => (key === "description" ? undefined : value));

const setWhen = (clouds: string[], description = "") =>
  `Set when \`cloud\` is ${clouds.map((c) => `\`${c}\``).join(" or ")}${description ? ": " : "."}${description.charAt(0).toLowerCase()}${description.slice(1)}`;

/**
 * The `grant` output of every cloud as one object: `cloud`, then each cloud's fields, set when the
 * grant is in that cloud. Pulumi's Python and Go generators type a `oneOf` output as Any, so a union
 * of the clouds' objects would type nothing there; one object types every field in every language.
 * A field two clouds share must have one type in both (else this throws: rename one of them).
 */
function grantOutputSchema(clouds: ReadonlyArray<CloudSchemaPiece>): JsonSchema {
  const fields = new Map<string, { schema: JsonSchema; clouds: string[]; description?: string }>();
  for (const { cloud, output } of clouds) {
    for (const [key, schema] of Object.entries(jsonSchema(output).properties ?? {})) {
      if (key === "cloud") continue;
      const field = fields.get(key);
      if (field && shape(field.schema) !== shape(schema)) {
        throw new Error(
          `the grant outputs of ${field.clouds.join(", ")} and ${cloud} both have "${key}", of different types: give one of them another name`,
        );
      }
      if (field) field.clouds.push(cloud);
      else
        fields.set(key, {
          schema,
          clouds: [cloud],
          ...(schema.description ? { description: schema.description } : {}),
        });
    }
  }
  const names = clouds.map((c) => `\`${c.cloud}\``);
  return {
    type: "object",
    description: [
      "What was granted, in the terms of the cloud the arguments name: `cloud` names that cloud, and its fields are set.",
      ...clouds.map(({ output }) => jsonSchema(output).description ?? ""),
    ]
      .filter((d) => d !== "")
      .join(" "),
    properties: {
      cloud: {
        type: "string",
        description: `The cloud the grant is in: ${names.slice(0, -1).join(", ")}${names.length > 1 ? " or " : ""}${names.at(-1) ?? ""}.`,
      },
      ...Object.fromEntries(
        [...fields].map(([key, f]) => [key, { ...f.schema, description: setWhen(f.clouds, f.description) }]),
      ),
    },
    required: ["cloud"],
  };
}

const SECRET = (description: string): PropertySpec => ({ type: "string", secret: true, description });

/** The whole package schema for this version, from the clouds' schema pieces and the common ones. */
export function packageSchema(clouds: ReadonlyArray<CloudSchemaPiece>, version: string) {
  const writer = new TypeWriter();
  const cloudProperties = Object.fromEntries(
    clouds.map((c) => [c.cloud, writer.property(jsonSchema(c.schema), `${pascal(c.cloud)}Grant`, c.cloud)]),
  );

  // The connection as the component takes it: the secrets beside what they authenticate.
  const connection = writer.object(jsonSchema(connectionInputSchema), "Connection");
  const auth = writer.types[token("ConnectionAirflowAuthToken")] as ObjectTypeSpec;
  auth.properties.token = SECRET(
    "The token. Default: stack config `deployment-authorization:airflowToken` (set it with `--secret`), then the environment variable `AIRFLOW_API_TOKEN`.",
  );
  const password = writer.types[token("ConnectionAirflowAuthPassword")] as ObjectTypeSpec;
  password.properties.password = SECRET(
    "The password. Default: stack config `deployment-authorization:airflowPassword` (set it with `--secret`), then the environment variable `AIRFLOW_API_PASSWORD`.",
  );
  const astro = writer.types[token("ConnectionAstro")] as ObjectTypeSpec;
  astro.properties.token = SECRET(
    "An Astro API token. Default: stack config `deployment-authorization:astroToken` (set it with `--secret`), then the environment variable `ASTRO_API_TOKEN`.",
  );
  delete astro.required; // with `deployment`, read from the Deployment

  const deploymentArgs = deploymentInputSchema
    .pick({ organizationId: true, deploymentId: true, customerManagedIdentity: true, secretsBackend: true })
    .describe(
      "An Astro Deployment, named by id: the component reads what the grant and connection need from it while the program runs.",
    );
  const deployment = writer.object(jsonSchema(deploymentArgs), "Deployment");
  deployment.properties.token = SECRET(
    "An Astro API token that may read the Deployment. Default: stack config `deployment-authorization:astroToken` (set it with `--secret`), then `ASTRO_API_TOKEN`.",
  );

  const grant = writer.object(grantOutputSchema(clouds), "Grant");

  const common = jsonSchema(inputsSchema([])).properties ?? {};
  const inputProperties: Record<string, PropertySpec> = {
    deployment: { $ref: ref("Deployment"), description: deployment.description },
    workloadIdentity: writer.property(
      common.workloadIdentity ?? { type: "string" },
      "WorkloadIdentity",
      "workloadIdentity",
    ),
    connection: { $ref: ref("Connection"), ...(connection.description ? { description: connection.description } : {}) },
    ...cloudProperties,
  };
  return {
    name: PACKAGE,
    displayName: "Deployment Authorization",
    version,
    description:
      "One resource that grants an Airflow Deployment's workload identity access in the cloud and creates the Airflow connection that uses it.",
    keywords: ["pulumi", "airflow", "astronomer", "iam", "category/cloud", "kind/component"],
    license: "Apache-2.0",
    config: {
      variables: Object.fromEntries(
        ["airflowToken", "airflowPassword", "astroToken"].map((key) => [
          key,
          { type: "string", secret: true, description: `The default \`${key}\` for every resource of the stack.` },
        ]),
      ),
    },
    types: Object.fromEntries(Object.entries(writer.types).sort(([a], [b]) => a.localeCompare(b))),
    resources: {
      [COMPONENT_TYPE]: {
        isComponent: true,
        description:
          "Authorizes an Airflow Deployment's workload identity in one cloud (an AWS role trust statement, a GCP IAM binding, or Azure federated credentials and a role assignment) and creates the Airflow connection that uses it, as one resource: created, refreshed, updated and deleted together. Give one of `aws`, `gcp` or `azure`.",
        inputProperties,
        requiredInputs: ["connection"],
        properties: {
          grant: { $ref: ref("Grant"), description: grant.description },
          connection: {
            $ref: "pulumi.json#/Any",
            description: "The connection as written: `connectionId`, `url`, `connType` and `extra`.",
          },
          deployment: {
            $ref: "pulumi.json#/Any",
            description: "What the component read from Astro (with `deployment`; null without).",
          },
        },
        required: ["grant", "connection"],
      },
    },
    language: {
      nodejs: { packageName: "pulumi-deployment-authorization", respectSchemaVersion: true },
      python: {
        packageName: "pulumi_deployment_authorization",
        respectSchemaVersion: true,
        pyproject: { enabled: true },
      },
      go: {
        importBasePath: `${GO_MODULE}/deploymentauthorization`,
        respectSchemaVersion: true,
        generateResourceContainerTypes: false,
      },
      csharp: { rootNamespace: "DeploymentAuthorization", respectSchemaVersion: true },
      java: { basePackage: "io.deploymentauthorization" },
    },
    // Each SDK is a package of its own (pyproject.toml, go.mod), versioned like this one.
    meta: { supportPack: true },
  };
}
