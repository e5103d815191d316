import { execFile } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../support/pulumiProgram";

const run = promisify(execFile);

/** Every file under `dir`, by its path relative to `dir`, with its text. */
function tree(dir: string): Record<string, string> {
  const files = readdirSync(dir, { recursive: true, withFileTypes: true }).filter((entry) => entry.isFile());
  return Object.fromEntries(
    files.map((entry) => {
      const file = path.join(entry.parentPath, entry.name);
      return [path.relative(dir, file), readFileSync(file, "utf8")];
    }),
  );
}

describe("the generated SDKs", () => {
  it("sdks/ is what scripts/sdks.sh generates from schema.json (run `npm run sdks` after changing an input)", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "da-sdks-"));
    try {
      await run("bash", [path.join(repoRoot, "scripts/sdks.sh"), "--out", dir], { maxBuffer: 16 * 1024 * 1024 });
      for (const language of ["python", "go", "dotnet"]) {
        expect(tree(path.join(repoRoot, "sdks", language)), language).toEqual(tree(path.join(dir, language)));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("the Go SDK's module builds a program that uses it, with the dependencies its go.sum records", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "da-go-"));
    try {
      const sdk = path.join(repoRoot, "sdks/go");
      const module = /^module (\S+)$/m.exec((await run("go", ["mod", "edit", "-print"], { cwd: sdk })).stdout)![1]!;
      writeFileSync(
        path.join(dir, "go.mod"),
        `module example.com/authorizations\n\ngo 1.26.6\n\nrequire ${module} v0.0.0\n\nreplace ${module} => ${sdk}\n`,
      );
      copyFileSync(path.join(sdk, "go.sum"), path.join(dir, "go.sum"));
      copyFileSync(path.join(repoRoot, "tests/e2e/programs/go/main.go"), path.join(dir, "main.go"));
      const env = { ...process.env, GOTOOLCHAIN: "local", GOWORK: "off", CGO_ENABLED: "0", GOFLAGS: "-mod=mod" };
      await run("go", ["build", "-trimpath", "-o", "program", "."], { cwd: dir, env, maxBuffer: 16 * 1024 * 1024 });
      expect(existsSync(path.join(dir, "program"))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
