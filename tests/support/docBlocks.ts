import MarkdownIt from "markdown-it";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import ts from "typescript";

export const repoRoot = path.resolve(__dirname, "..", "..");

/** One fenced code block of a Markdown file. */
export interface CodeBlock {
  /** The Markdown file, relative to the repository. */
  file: string;
  /** The 1-based line of the block's first line of code. */
  line: number;
  /** The fence's info string: its language, then any words (`ts fragment`). */
  info: string;
  code: string;
}

/** The user-facing Markdown whose code is checked: README.md and every page under docs/. */
export function userDocs(): string[] {
  const docs = readdirSync(path.join(repoRoot, "docs"))
    .filter((f) => f.endsWith(".md"))
    .map((f) => path.join("docs", f));
  return ["README.md", ...docs.sort()];
}

export function codeBlocks(file: string, text = readFileSync(path.join(repoRoot, file), "utf8")): CodeBlock[] {
  return new MarkdownIt()
    .parse(text, {})
    .filter((t) => t.type === "fence" && t.map)
    .map((t) => ({ file, line: t.map![0] + 2, info: t.info.trim(), code: t.content }));
}

const TYPESCRIPT = new Set(["ts", "typescript"]);

/**
 * The TypeScript blocks to type-check: every ```ts block, except one marked deliberately partial
 * (```ts fragment).
 */
export function typeScriptBlocks(blocks: CodeBlock[]): CodeBlock[] {
  return blocks.filter((b) => {
    const [language, ...words] = b.info.split(/\s+/);
    return TYPESCRIPT.has(language ?? "") && !words.includes("fragment");
  });
}

/**
 * Type-checks each block as a module of its own under the repository's tsconfig.json (strict), as
 * if it were a file of this package: `pulumi-deployment-authorization` and its subpaths resolve to
 * the package's own sources. Returns one `file:line: message` per problem, at the Markdown line.
 */
export function typeCheckBlocks(blocks: CodeBlock[]): string[] {
  const config = ts.getParsedCommandLineOfConfigFile(
    path.join(repoRoot, "tsconfig.json"),
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, "\n"));
      },
    },
  );
  if (!config) throw new Error("tsconfig.json could not be read");
  const options: ts.CompilerOptions = { ...config.options, noEmit: true, sourceMap: false, declaration: false };
  const virtual = new Map<string, CodeBlock>();
  for (const block of blocks) {
    const name = `${block.file.replace(/[^A-Za-z0-9]/g, "_")}_line_${block.line}.ts`;
    virtual.set(path.join(repoRoot, ".doc-blocks", name), block);
  }
  // `export {}` makes every block a module of its own, so blocks never see each other's names.
  const textOf = (file: string) => {
    const block = virtual.get(file);
    return block === undefined ? undefined : `${block.code}\nexport {};\n`;
  };
  const host = ts.createCompilerHost(options);
  const { getSourceFile, fileExists, readFile } = host;
  host.getSourceFile = (file, language, onError, create) => {
    const text = textOf(path.resolve(file));
    return text === undefined
      ? getSourceFile.call(host, file, language, onError, create)
      : ts.createSourceFile(file, text, language);
  };
  host.fileExists = (file) => virtual.has(path.resolve(file)) || fileExists.call(host, file);
  host.readFile = (file) => textOf(path.resolve(file)) ?? readFile.call(host, file);

  const program = ts.createProgram([...virtual.keys()], options, host);
  const problems: string[] = [];
  for (const [file, block] of virtual) {
    const source = program.getSourceFile(file)!;
    const diagnostics = [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)];
    for (const d of diagnostics) {
      const at = d.start === undefined ? 0 : source.getLineAndCharacterOfPosition(d.start).line;
      problems.push(`${block.file}:${block.line + at}: ${ts.flattenDiagnosticMessageText(d.messageText, " ")}`);
    }
  }
  return problems;
}

const PYTHON = new Set(["python", "py"]);

/** The Python blocks to type-check: every ```python block, except one marked ```python fragment. */
export function pythonBlocks(blocks: CodeBlock[]): CodeBlock[] {
  return blocks.filter((b) => {
    const [language, ...words] = b.info.split(/\s+/);
    return PYTHON.has(language ?? "") && !words.includes("fragment");
  });
}

/** The Python example programs (examples/python-<cloud>/__main__.py), each as one block at line 1. */
export function pythonExamplePrograms(): CodeBlock[] {
  return readdirSync(path.join(repoRoot, "examples"))
    .filter((d) => d.startsWith("python-"))
    .sort()
    .map((d) => {
      const file = path.join("examples", d, "__main__.py");
      return { file, line: 1, info: "python", code: readFileSync(path.join(repoRoot, file), "utf8") };
    });
}

/** What mypy checks Python blocks against. */
export interface PythonTypeCheckEnv {
  /** The mypy executable (sandbox/requirements/mypy.txt). */
  mypy: string;
  /** The Python whose installed packages the blocks import: the `pulumi` SDK's venv. */
  python: string;
  /** A folder this package's Python SDK is installed in (pip install --target), put on its path. */
  site: string;
}

/**
 * Type-checks each block as a module of its own with mypy --strict, imports resolved as a user's
 * program resolves them: `pulumi` and `pulumi_deployment_authorization` as installed packages, which
 * mypy reads only when they are marked typed (PEP 561 `py.typed`). Returns one `file:line: message`
 * per problem, at the Markdown line.
 */
export function typeCheckPythonBlocks(blocks: CodeBlock[], env: PythonTypeCheckEnv): string[] {
  if (blocks.length === 0) return [];
  const dir = mkdtempSync(path.join(os.tmpdir(), "da-python-blocks-"));
  try {
    const byModule = new Map<string, CodeBlock>();
    blocks.forEach((block, i) => {
      const name = `block_${i}_${block.file.replace(/[^A-Za-z0-9]/g, "_")}_line_${block.line}.py`;
      writeFileSync(path.join(dir, name), block.code);
      byModule.set(name, block);
    });
    const run = spawnSync(
      env.mypy,
      [
        "--strict",
        "--no-incremental",
        "--no-error-summary",
        "--show-error-codes",
        "--python-executable",
        env.python,
        ...byModule.keys(),
      ],
      // mypy asks the Python executable for its import path, PYTHONPATH included.
      { cwd: dir, encoding: "utf8", env: { ...process.env, PYTHONPATH: env.site, MYPYPATH: "" } },
    );
    if (run.error) throw run.error;
    const found: { order: number; line: number; text: string }[] = [];
    const unplaced: string[] = [];
    for (const text of run.stdout.split("\n").filter((l) => l.trim() !== "")) {
      const match = /^([^:]+):(\d+): (error|note): (.*)$/.exec(text);
      if (match?.[3] === "note") continue;
      const block = match ? byModule.get(match[1]!) : undefined;
      if (!match || !block) {
        unplaced.push(text);
        continue;
      }
      const line = block.line + Number(match[2]) - 1;
      found.push({ order: blocks.indexOf(block), line, text: `${block.file}:${line}: ${match[4]}` });
    }
    // In the blocks' order, whatever order mypy checked the modules in.
    const problems = found.sort((a, b) => a.order - b.order || a.line - b.line).map((p) => p.text);
    // Exit 1 is "type errors found"; anything else (or output that names no block) is mypy failing.
    if ((run.status !== 0 && run.status !== 1) || unplaced.length > 0 || (run.status === 1 && problems.length === 0)) {
      throw new Error(`mypy failed (exit ${run.status}):\n${[...unplaced, run.stderr].join("\n")}`);
    }
    return problems;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
