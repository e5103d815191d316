import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { GRANT_PLUGINS, loadInputParser, parseInputs } from "../../provider/inputs";
import { rawInputs } from "../support/fixtures";
import { BUILT_IN_CLOUDS, GRANT_PLANNERS, cloudModules } from "../../provider/grants";

const root = path.resolve(__dirname, "..", "..");

/**
 * Every module a Pulumi program loads when it imports the package: the relative value imports
 * reachable from `sdk/index.ts` (type-only imports are erased, a `require()` inside a function is
 * not loaded until called), and the packages they name.
 */
function loadedByProgram(entry: string): { modules: string[]; packages: string[] } {
  const modules = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string): void => {
    if (modules.has(file)) return;
    modules.add(file);
    const source = readFileSync(file, "utf8");
    for (const m of source.matchAll(/^(?:import|export)\s+(type\s+)?[^;]*?\sfrom\s+"([^"]+)";/gms)) {
      if (m[1]) continue;
      const specifier = m[2]!;
      if (!specifier.startsWith(".")) {
        packages.add(specifier);
        continue;
      }
      const base = path.resolve(path.dirname(file), specifier);
      const next = [`${base}.ts`, path.join(base, "index.ts")].find((f) => existsSync(f));
      if (!next) throw new Error(`${path.relative(root, file)}: cannot resolve ${specifier}`);
      visit(next);
    }
  };
  visit(entry);
  return { modules: [...modules].map((f) => path.relative(root, f)).sort(), packages: [...packages].sort() };
}

describe("what a Pulumi program loads", () => {
  it("knows the output of every cloud the provider can grant in, in the plug-ins' order", () => {
    expect(BUILT_IN_CLOUDS.map((c) => c.cloud)).toEqual(GRANT_PLUGINS.map((p) => p.cloud));
  });

  it("is the component and its outputs: no schema, no zod, no cloud SDK (those load in the provider)", () => {
    const { modules, packages } = loadedByProgram(path.join(root, "sdk", "index.ts"));
    expect(packages.filter((p) => !p.startsWith("node:"))).toEqual(["@pulumi/pulumi"]);
    // Each cloud's module comes whole (its planner and outputs are plain code); its schema, driver and SDK do not.
    expect(modules.filter((m) => /schema|inputs|driver|runtime|core\/plan/.test(m))).toEqual([]);
    expect(modules).toEqual(
      expect.arrayContaining(BUILT_IN_CLOUDS.map((c) => `provider/grants/${c.cloud}/outputs.ts`)),
    );
  });
});

describe("what the provider loads before its first check", () => {
  it("plans for every cloud that can be checked, in the same order", () => {
    expect(GRANT_PLANNERS.map((p) => p.cloud)).toEqual(GRANT_PLUGINS.map((p) => p.cloud));
  });

  it("is the planners: no schema and no zod, which a refresh or a destroy (no check) never needs", () => {
    const { modules, packages } = loadedByProgram(path.join(root, "provider", "runtime.ts"));
    expect(packages.filter((p) => !p.startsWith("node:"))).toEqual([]);
    expect(modules.filter((m) => /schema|inputs|driver/.test(m))).toEqual([]);
    expect(modules).toEqual(expect.arrayContaining(GRANT_PLANNERS.map((p) => `provider/grants/${p.cloud}/planner.ts`)));
  });
});

describe("what the first check loads", () => {
  it("is each cloud's inputs, through its module: the parser answers as parseInputs does", async () => {
    const parse = await loadInputParser(cloudModules());
    const given = [
      rawInputs(),
      rawInputs({ aws: { targetRole: "data-reader", region: "eu-central-1", trust: { kind: "clusterRole" } } }),
      rawInputs({ gcp: { project: "p", grant: { kind: "projectRole", role: "roles/viewer" } } }),
      rawInputs({ aws: undefined, azure: { identity: 42 } }),
      { owner: "" },
    ];
    for (const raw of given) expect(parse(raw)).toEqual(parseInputs(raw));
    expect(given.map((raw) => parse(raw).ok)).toEqual([true, false, false, false, false]);
  });
});
