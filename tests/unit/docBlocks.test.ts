import path from "node:path";
import { describe, expect, it } from "vitest";
import { codeBlocks, typeCheckBlocks, typeScriptBlocks, userDocs } from "../support/docBlocks";

describe("the code in README.md and docs/", () => {
  it("every TypeScript block type-checks under --strict against the package (a ```ts fragment block is left out)", () => {
    const blocks = userDocs().flatMap((file) => typeScriptBlocks(codeBlocks(file)));
    // README.md has one example per cloud; each cloud's page has its own.
    expect(blocks.filter((b) => b.file === "README.md").length).toBeGreaterThanOrEqual(3);
    expect(typeCheckBlocks(blocks)).toEqual([]);
  }, 120_000);

  it("a block that does not compile is reported at its file and line", () => {
    const markdown = [
      "# Page",
      "",
      "```ts",
      'import { DeploymentAuthorization } from "pulumi-deployment-authorization";',
      "",
      'new DeploymentAuthorization("x", { connection: { connectionId: 1 } });',
      "```",
      "",
      "```ts fragment",
      "undeclared.call();",
      "```",
      "",
      "```sh",
      "not typescript",
      "```",
    ].join("\n");
    const blocks = typeScriptBlocks(codeBlocks(path.join("docs", "page.md"), markdown));
    expect(blocks.map((b) => b.line)).toEqual([4]);
    const problems = typeCheckBlocks(blocks);
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.every((p) => p.startsWith("docs/page.md:6: "))).toBe(true);
  }, 120_000);
});
