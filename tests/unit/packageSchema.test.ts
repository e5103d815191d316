import { readFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { describe, expect, it } from "vitest";
import { cloudSchemaPieces } from "../../sdk/plugin/clouds";
import { labGrantOutputSchema } from "../support/fakeCloud/outputSchema";
import { packageSchema } from "../../sdk/plugin/schema";

const root = path.resolve(__dirname, "..", "..");
const { version } = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")) as { version: string };
const generated = async () => packageSchema(await cloudSchemaPieces(), version);
const typeOf = (schema: Awaited<ReturnType<typeof generated>>, name: string) =>
  schema.types[`deployment-authorization:index:${name}`] as {
    properties: Record<string, { description?: string; secret?: boolean; const?: unknown; $ref?: string }>;
    required?: string[];
    enum?: Array<{ value: string }>;
  };

describe("the package schema", () => {
  it("on disk is what the input schemas generate (run `npm run schema` after changing an input)", async () => {
    const onDisk = JSON.parse(readFileSync(path.join(root, "schema.json"), "utf8")) as unknown;
    expect(onDisk).toEqual(await generated());
  });

  it("has the component under the package's token, at package.json's version, with every cloud", async () => {
    const schema = await generated();
    expect(schema.name).toBe("deployment-authorization");
    expect(schema.version).toBe(version);
    const component = schema.resources["deployment-authorization:index:DeploymentAuthorization"]!;
    expect(component.isComponent).toBe(true);
    expect(Object.keys(component.inputProperties).sort()).toEqual(
      ["aws", "azure", "connection", "deployment", "gcp", "workloadIdentity"].sort(),
    );
  });

  it("turns each `kind` union into a discriminated oneOf whose variants pin their kind", async () => {
    const schema = await generated();
    const trust = typeOf(schema, "AwsGrant").properties.trust as unknown as {
      oneOf: unknown[];
      discriminator: { propertyName: string; mapping: Record<string, string> };
    };
    expect(trust.discriminator.propertyName).toBe("kind");
    expect(Object.keys(trust.discriminator.mapping).sort()).toEqual(["clusterRole", "deploymentRole", "webIdentity"]);
    expect(typeOf(schema, "AwsGrantTrustWebIdentity").properties.kind!.const).toBe("webIdentity");
    expect(typeOf(schema, "ServiceAccountComponent").enum!.map((e) => e.value)).toContain("scheduler");
  });

  it("marks every token and password secret, and leaves out the engine's placeholder for unknowns", async () => {
    const schema = await generated();
    expect(typeOf(schema, "ConnectionAirflowAuthToken").properties.token!.secret).toBe(true);
    expect(typeOf(schema, "ConnectionAirflowAuthPassword").properties.password!.secret).toBe(true);
    expect(typeOf(schema, "ConnectionAstro").properties.token!.secret).toBe(true);
    expect(typeOf(schema, "Deployment").properties.token!.secret).toBe(true);
    expect(JSON.stringify(schema)).not.toContain("04da6b54-80e4-46f7-96ec-b56ff0331ba9");
  });

  it("leaves out of `required` what the component fills in (region, project, issuer, namespace)", async () => {
    const schema = await generated();
    expect(typeOf(schema, "AwsGrant").required).toEqual(["targetRole"]);
    expect(typeOf(schema, "AwsGrantTrustWebIdentity").required).toEqual(["kind"]);
  });

  it("carries a field's zod description into the schema", async () => {
    const described = (await cloudSchemaPieces()).map((piece) =>
      piece.cloud === "aws"
        ? { ...piece, schema: (piece.schema as z.ZodObject).extend({ region: z.string().describe("Where.") }) }
        : piece,
    );
    const aws = packageSchema(described, version).types["deployment-authorization:index:AwsGrant"] as {
      properties: Record<string, { description?: string }>;
    };
    expect(aws.properties.region!.description).toBe("Where.");
  });

  it("types the `grant` output as one object: `cloud`, then every cloud's described fields, set when the grant is in it", async () => {
    const schema = await generated();
    const component = schema.resources["deployment-authorization:index:DeploymentAuthorization"]!;
    expect(component.properties.grant.$ref).toBe("#/types/deployment-authorization:index:Grant");
    const grant = typeOf(schema, "Grant");
    expect(grant.required).toEqual(["cloud"]);
    const pieces = await cloudSchemaPieces();
    const fields = pieces.flatMap((p) => Object.keys((p.output as z.ZodObject).shape)).filter((k) => k !== "cloud");
    expect(Object.keys(grant.properties).sort()).toEqual(["cloud", ...new Set(fields)].sort());
    expect(grant.properties.roleArn!.description).toBe("Set when `cloud` is `aws`: the role's ARN, as AWS reports it.");
    expect(grant.properties.members!.description).toBe("Set when `cloud` is `gcp`: the members this resource grants.");
    expect(grant.properties.credentials).toMatchObject({
      type: "array",
      items: { $ref: "#/types/deployment-authorization:index:GrantCredentials" },
    });
    expect(typeOf(schema, "GrantCredentials").properties.subject!.description).toMatch(/service account/);
    expect(grant.properties.mode!.$ref).toBe("#/types/deployment-authorization:index:GrantMode");
    // The statement is IAM's own JSON: any value.
    expect(grant.properties.statement!.$ref).toBe("pulumi.json#/Any");
  });

  it("merges a field two clouds share when its type is the same, and refuses one whose type differs", async () => {
    const pieces = await cloudSchemaPieces();
    const lab = { cloud: "lab", schema: z.object({}), output: labGrantOutputSchema };
    const grant = (packageSchema([...pieces, lab], version).types["deployment-authorization:index:Grant"] ?? {}) as {
      properties: Record<string, { description?: string }>;
    };
    expect(grant.properties.members!.description).toBe(
      "Set when `cloud` is `gcp` or `lab`: the members this resource grants.",
    );
    expect(grant.properties.realmId!.description).toBe("Set when `cloud` is `lab`: the realm's id, as apply read it.");
    const clash = { ...lab, output: labGrantOutputSchema.extend({ role: z.number().describe("A number.") }) };
    expect(() => packageSchema([...pieces, clash], version)).toThrow(
      'the grant outputs of gcp and lab both have "role", of different types: give one of them another name',
    );
  });
});
