import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

const root = path.resolve(__dirname, "..", "..");
const pkg = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")) as {
  name: string;
  exports: Record<string, unknown>;
  bin: Record<string, string>;
};

/** The entry points users are told about: the table in docs/installation-configuration.md. */
function documentedEntryPoints(): string[] {
  const page = readFileSync(path.join(root, "docs", "installation-configuration.md"), "utf8");
  const install = page.slice(
    page.indexOf("## What the package exports\n"),
    page.indexOf("## Credentials and configuration\n"),
  );
  return [...install.matchAll(/^\| `([^`]+)`/gm)].map((m) => m[1]!);
}

describe("the package's public surface", () => {
  it("exports exactly the entry points the docs list, and the command it names", () => {
    const modules = Object.keys(pkg.exports)
      .filter((k) => k !== "./package.json")
      .map((k) => (k === "." ? pkg.name : `${pkg.name}/${k.slice(2)}`));
    const documented = documentedEntryPoints();
    expect(documented.filter((d) => !d.startsWith("npx ")).sort()).toEqual(modules.sort());
    expect(documented.filter((d) => d.startsWith("npx ")).map((d) => d.split(" ")[1])).toEqual(Object.keys(pkg.bin));
  });
});
