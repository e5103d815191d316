import MarkdownIt from "markdown-it";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../support/docBlocks";

const read = (file: string) => readFileSync(path.join(repoRoot, file), "utf8");
const pages = () =>
  readdirSync(path.join(repoRoot, "docs"))
    .filter((f) => f.endsWith(".md"))
    .map((f) => `docs/${f}`)
    .sort();

/** The local Markdown files a page links to (relative links, anchors dropped), relative to the repository. */
function linkedFiles(file: string): string[] {
  const hrefs: string[] = [];
  const walk = (tokens: ReturnType<InstanceType<typeof MarkdownIt>["parse"]>) => {
    for (const t of tokens) {
      const href = t.type === "link_open" ? String(t.attrGet("href") ?? "") : "";
      if (href && !/^[a-z]+:/i.test(href) && !href.startsWith("#")) hrefs.push(href.split("#")[0]!);
      if (t.children) walk(t.children);
    }
  };
  walk(new MarkdownIt().parse(read(file), {}));
  return hrefs.map((h) => path.relative(repoRoot, path.resolve(repoRoot, path.dirname(file), h)));
}

describe("the user docs", () => {
  it("README.md stays under 200 lines, with no line over 400 characters", () => {
    const lines = read("README.md").split("\n");
    expect(lines.length).toBeLessThan(200);
    expect(lines.filter((l) => l.length > 400)).toEqual([]);
  });

  it("every page under docs/ is linked from README.md or another page, and every local link of README.md and docs/ resolves", () => {
    const sources = ["README.md", "CONTRIBUTING.md", ...pages()];
    const links = new Map(sources.map((s) => [s, linkedFiles(s)]));
    const broken = [...links]
      .filter(([s]) => s !== "CONTRIBUTING.md")
      .flatMap(([s, targets]) => targets.filter((t) => !existsSync(path.join(repoRoot, t))).map((t) => `${s} → ${t}`));
    expect(broken).toEqual([]);
    const unlinked = pages().filter((p) => ![...links].some(([s, targets]) => s !== p && targets.includes(p)));
    expect(unlinked).toEqual([]);
  });

  it("docs/errors.md explains every error code the provider and the Automation helper give", () => {
    const codes = (file: string, type: string) => {
      const source = read(file);
      const union = source.slice(source.indexOf(`export type ${type} =`));
      return [...union.slice(0, union.indexOf(";")).matchAll(/"([A-Z_]+)"/g)].map((m) => m[1]!);
    };
    const all = [...codes("provider/core/errors.ts", "ErrorCode"), ...codes("sdk/automation.ts", "RunErrorCode")];
    expect(all).toContain("TARGET_MISSING");
    expect(all).toContain("STACK_LOCKED");
    const errors = read("docs/errors.md");
    expect(all.filter((code) => !new RegExp(`(### \`${code}\`|^- \`${code}\`:)`, "m").test(errors))).toEqual([]);
  });
});
