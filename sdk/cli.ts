#!/usr/bin/env node
import { readFileSync } from "node:fs";
import { renderMarkdown, reviewPreview } from "./review";

const USAGE = `usage: deployment-authorization review [preview.json] [--json]

Reads the output of \`pulumi preview --json\` (from the file, or standard input) and prints, per
authorization, what it grants or takes away, the connection fields that change, whether it
replaces, and what is risky: Markdown for a pull-request comment, or JSON with --json.`;

/** The command line: `deployment-authorization review`. Returns the exit code. */
export function main(
  argv: string[],
  io = { stdin: () => readFileSync(0, "utf8"), out: console.log, err: console.error },
): number {
  const [command, ...rest] = argv;
  if (command !== "review" || rest.includes("--help") || rest.includes("-h")) {
    (command === "review" ? io.out : io.err)(USAGE);
    return command === "review" ? 0 : 2;
  }
  const json = rest.includes("--json");
  const files = rest.filter((a) => !a.startsWith("--"));
  let text: string;
  try {
    text = files[0] && files[0] !== "-" ? readFileSync(files[0], "utf8") : io.stdin();
  } catch (error) {
    io.err(`cannot read ${files[0] ?? "standard input"}: ${(error as Error).message}`);
    return 2;
  }
  let preview: unknown;
  try {
    preview = JSON.parse(text);
  } catch {
    io.err("the input is not JSON: give the output of pulumi preview --json");
    return 2;
  }
  try {
    const reviews = reviewPreview(preview);
    io.out(json ? JSON.stringify(reviews, null, 2) : renderMarkdown(reviews));
    return 0;
  } catch (error) {
    io.err((error as Error).message);
    return 2;
  }
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
