import { readFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { describe, expect, it } from "vitest";
import { cloudSchemaPieces } from "../../sdk/plugin/clouds";
import { packageSchema } from "../../sdk/plugin/schema";

const root = path.resolve(__dirname, "..", "..");
const { version } = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")) as { version: string };
const generated = () => packageSchema(cloudSchemaPieces(), version);
const typeOf = (schema: ReturnType<typeof generated>, name: string) =>
  schema.types[`deployment-authorization:index:${name}`] as {
    properties: Record<string, { description?: string; secret?: boolean; const?: unknown; $ref?: string }>;
    required?: string[];
    enum?: Array<{ value: string }>;
  };

describe("the package schema", () => {
  it("on disk is what the input schemas generate (run `npm run schema` after changing an input)", () => {
    const onDisk = JSON.parse(readFileSync(path.join(root, "schema.json"), "utf8")) as unknown;
    expect(onDisk).toEqual(generated());
  });

  it("has the component under the package's token, at package.json's version, with every cloud", () => {
    const schema = generated();
    expect(schema.name).toBe("deployment-authorization");
    expect(schema.version).toBe(version);
    const component = schema.resources["deployment-authorization:index:DeploymentAuthorization"]!;
    expect(component.isComponent).toBe(true);
    expect(Object.keys(component.inputProperties).sort()).toEqual(
      ["aws", "azure", "connection", "deployment", "gcp", "workloadIdentity"].sort(),
    );
  });

  it("turns each `kind` union into a discriminated oneOf whose variants pin their kind", () => {
    const schema = generated();
    const trust = typeOf(schema, "AwsGrant").properties.trust as unknown as {
      oneOf: unknown[];
      discriminator: { propertyName: string; mapping: Record<string, string> };
    };
    expect(trust.discriminator.propertyName).toBe("kind");
    expect(Object.keys(trust.discriminator.mapping).sort()).toEqual(["clusterRole", "deploymentRole", "webIdentity"]);
    expect(typeOf(schema, "AwsGrantTrustWebIdentity").properties.kind!.const).toBe("webIdentity");
    expect(typeOf(schema, "ServiceAccountComponent").enum!.map((e) => e.value)).toContain("scheduler");
  });

  it("marks every token and password secret, and leaves out the engine's placeholder for unknowns", () => {
    const schema = generated();
    expect(typeOf(schema, "ConnectionAirflowAuthToken").properties.token!.secret).toBe(true);
    expect(typeOf(schema, "ConnectionAirflowAuthPassword").properties.password!.secret).toBe(true);
    expect(typeOf(schema, "ConnectionAstro").properties.token!.secret).toBe(true);
    expect(typeOf(schema, "Deployment").properties.token!.secret).toBe(true);
    expect(JSON.stringify(schema)).not.toContain("04da6b54-80e4-46f7-96ec-b56ff0331ba9");
  });

  it("leaves out of `required` what the component fills in (region, project, issuer, namespace)", () => {
    const schema = generated();
    expect(typeOf(schema, "AwsGrant").required).toEqual(["targetRole"]);
    expect(typeOf(schema, "AwsGrantTrustWebIdentity").required).toEqual(["kind"]);
  });

  it("carries a field's zod description into the schema", () => {
    const described = cloudSchemaPieces().map((piece) =>
      piece.cloud === "aws"
        ? { ...piece, schema: (piece.schema as z.ZodObject).extend({ region: z.string().describe("Where.") }) }
        : piece,
    );
    const aws = packageSchema(described, version).types["deployment-authorization:index:AwsGrant"] as {
      properties: Record<string, { description?: string }>;
    };
    expect(aws.properties.region!.description).toBe("Where.");
  });
});
