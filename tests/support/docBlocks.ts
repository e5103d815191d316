import MarkdownIt from "markdown-it";
import { readFileSync, readdirSync } from "node:fs";
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
