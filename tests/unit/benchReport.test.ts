import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { benchReadme } from "../../scripts/benchReport.mjs";

const repoRoot = path.resolve(__dirname, "..", "..");

describe("bench/README.md", () => {
  it("is what scripts/benchReport.mjs generates from bench/results/*.json (run node scripts/benchReport.mjs to regenerate it)", () => {
    const generated = (benchReadme as () => string)();
    expect(generated).toContain("| `up` of 50 (create)");
    expect(readFileSync(path.join(repoRoot, "bench", "README.md"), "utf8")).toBe(generated);
  });
});
