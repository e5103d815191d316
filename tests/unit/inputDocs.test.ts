import path from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { authorizationInputsSchema } from "../../provider/inputs";
import { schemaFields } from "../support/schemaFields";

const repoRoot = path.resolve(__dirname, "../..");

/**
 * Every schema whose fields users (or the package's schema for other languages) see. A schema
 * added here is walked like the others: each of its fields needs a description.
 */
const DOCUMENTED_SCHEMAS: ReadonlyArray<[name: string, schema: z.core.$ZodType]> = [
  ["inputs", authorizationInputsSchema],
];

const undocumented = (schema: z.core.$ZodType) =>
  schemaFields(schema)
    .filter((field) => !field.description?.trim())
    .map((field) => field.path);

describe("input documentation", () => {
  it.each(DOCUMENTED_SCHEMAS)("every field of %s has a description", (_name, schema) => {
    expect(schemaFields(schema).length).toBeGreaterThan(0);
    expect(undocumented(schema)).toEqual([]);
  });

  it("the walk finds fields without a description at any depth, in every variant", () => {
    const schema = z.object({
      a: z.string().describe("A."),
      b: z.object({ c: z.number().optional() }).optional().describe("B."),
      d: z.discriminatedUnion("kind", [
        z.object({ kind: z.literal("one").describe("One."), e: z.boolean() }),
        z.object({ kind: z.literal("two") }),
      ]),
      f: z.array(z.object({ g: z.string() })).describe("F."),
    });
    expect(undocumented(schema)).toEqual(["b.c", "d", "d<one>.e", "d<two>.kind", "f[].g"]);
  });

  // The source, as an editor in this repository reads it; the declaration files, as a user's editor
  // reads the published package (they keep JSDoc only where a type is written out by name).
  it.each(["sdk/args.ts", "its declaration file"] as const)(
    "the SDK's argument types carry each field's description as JSDoc: %s",
    (from) => {
      const descriptions = new Map<string, Set<string>>();
      for (const [, schema] of DOCUMENTED_SCHEMAS) {
        for (const { path: at, description } of schemaFields(schema)) {
          const key = at.replace(/<[^>]*>/g, "");
          if (description) descriptions.set(key, (descriptions.get(key) ?? new Set()).add(normalized(description)));
        }
      }
      const docs = sdkArgumentDocs(from === "sdk/args.ts" ? "source" : "declarations");
      // The walk reaches the nested argument types (a guard against a walk that finds nothing).
      expect(docs.map((d) => d.path)).toEqual(
        expect.arrayContaining(["aws.trust.issuerUrl", "connection.airflow.auth.username", "azure.identity.name"]),
      );
      const wrong = docs.flatMap(({ path: at, doc }) => {
        const expected = descriptions.get(at);
        if (!doc) return [`${at}: no JSDoc`];
        if (expected && !expected.has(doc)) return [`${at}: JSDoc "${doc}" is not the schema's "${[...expected][0]}"`];
        return [];
      });
      expect(wrong).toEqual([]);
    },
    120_000,
  );
});

const normalized = (text: string) => text.replace(/\s+/g, " ").trim();

/**
 * The documentation an editor shows for each property of `DeploymentAuthorizationArgs`, at every
 * depth (through Pulumi inputs, unions and arrays), read with the TypeScript compiler from sdk/args.ts.
 */
function sdkArgumentDocs(from: "source" | "declarations"): Array<{ path: string; doc: string }> {
  const file = path.join(repoRoot, "sdk", "args.ts");
  const config = ts.readConfigFile(path.join(repoRoot, "tsconfig.json"), ts.sys.readFile);
  const { options } = ts.parseJsonConfigFileContent(config.config, ts.sys, repoRoot);
  let program = ts.createProgram([file], { ...options, noEmit: true });
  let root = file;
  if (from === "declarations") {
    // Declarations emitted in memory, then read back as the only sources (node_modules from disk).
    const outDir = path.join(repoRoot, ".declarations");
    const emitted = new Map<string, string>();
    const emitting = ts.createProgram([file], {
      ...options,
      noEmit: false,
      declaration: true,
      emitDeclarationOnly: true,
      sourceMap: false,
      declarationMap: false,
      outDir,
    });
    emitting.emit(undefined, (name, text) => emitted.set(path.resolve(name), text));
    root = path.join(outDir, "sdk", "args.d.ts");
    const host = ts.createCompilerHost(options);
    const { fileExists, readFile, directoryExists } = host;
    host.fileExists = (name) => emitted.has(path.resolve(name)) || fileExists.call(host, name);
    host.readFile = (name) => emitted.get(path.resolve(name)) ?? readFile.call(host, name);
    host.directoryExists = (name) =>
      [...emitted.keys()].some((emittedFile) => emittedFile.startsWith(`${path.resolve(name)}${path.sep}`)) ||
      (directoryExists?.call(host, name) ?? false);
    program = ts.createProgram([root], { ...options, noEmit: true, paths: undefined }, host);
    const unresolved = ts.getPreEmitDiagnostics(program, program.getSourceFile(root));
    if (unresolved.length > 0) {
      throw new Error(unresolved.map((d) => ts.flattenDiagnosticMessageText(d.messageText, " ")).join("\n"));
    }
  }
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(root);
  const module = source && checker.getSymbolAtLocation(source);
  const args = module && checker.getExportsOfModule(module).find((s) => s.name === "DeploymentAuthorizationArgs");
  if (!args) throw new Error(`DeploymentAuthorizationArgs not found in ${root}`);

  const found = new Map<string, string>();
  const seen = new Set<ts.Type>();
  const objectsIn = (type: ts.Type): ts.Type[] => {
    const parts = type.isUnion() ? type.types : [type];
    return parts.flatMap((part) => {
      const name = part.getSymbol()?.getName() ?? "";
      if (["Promise", "OutputInstance", "Output", "Array", "ReadonlyArray"].includes(name)) {
        return checker.isArrayType(part) ? checker.getTypeArguments(part as ts.TypeReference).flatMap(objectsIn) : [];
      }
      if (part.flags & ts.TypeFlags.Object) return [part];
      if (part.isIntersection()) return [part];
      return [];
    });
  };
  const walk = (type: ts.Type, prefix: string) => {
    for (const object of objectsIn(type)) {
      if (seen.has(object)) continue;
      seen.add(object);
      for (const property of checker.getPropertiesOfType(object)) {
        const propertyType = checker.getTypeOfSymbol(property);
        // `gcp?: undefined` beside `aws`: a marker that only one cloud is given, not an argument.
        if (checker.getNonNullableType(propertyType).flags & ts.TypeFlags.Never) continue;
        const at = prefix ? `${prefix}.${property.name}` : property.name;
        const doc = normalized(ts.displayPartsToString(property.getDocumentationComment(checker)));
        if (!found.get(at)) found.set(at, doc);
        walk(checker.getNonNullableType(propertyType), at);
      }
    }
  };
  walk(checker.getDeclaredTypeOfSymbol(args), "");
  return [...found].map(([at, doc]) => ({ path: at, doc }));
}
