#!/usr/bin/env node
import { readFileSync, writeFileSync } from "node:fs";
import { renderMarkdown, reviewPreview } from "./review";
import type { DiscoverTargets } from "./discover/inventory";
import type { DeploymentRef } from "./discover/match";
import { cloudModules } from "../provider/grants";

/** The options that name where `discover` looks, of every cloud that can discover, in the list's order. */
function targetOptions() {
  return cloudModules().flatMap((c) => c.discovery?.targets ?? []);
}

const USAGE = `usage: deployment-authorization review [preview.json] [--json]
       deployment-authorization discover [targets] [deployments] [options]   (--help for more)

Reads the output of \`pulumi preview --json\` (from the file, or standard input) and prints, per
authorization, what it grants or takes away and where (both places when the grant moves), what
happens to the connection and which of its fields change, whether it replaces and which input made
it, and what is risky: Markdown for a pull-request comment, or JSON with --json.`;

const discoverUsage = () => `usage: deployment-authorization discover [targets] [deployments] [options]

Finds the authorizations a manual setup made (trust statements, IAM bindings and federated
credentials in the shapes the workload identity guides give, and the Airflow connections that use
them), and prints a Pulumi TypeScript program that declares them as DeploymentAuthorization
resources, taking existing connections over (adoptExisting). What it could not match is reported
on standard error (or standard output with --out). It reads only; it changes nothing.

Targets (each may be repeated):
${targetOptions()
  .map((t) => `  --${t.option} ${t.value}`.padEnd(35) + t.help)
  .join("\n")}
Deployments (each may be repeated):
  --deployment identity=<role ARN|service account e-mail>,airflow=<url>[,namespace=<ns>][,issuer=<url>][,name=<name>]
                                   a Deployment and its Airflow (namespace alone for web identity / Azure)
  --astro-deployment <organizationId>/<deploymentId>
                                   read from the Astro Platform API (ASTRO_API_TOKEN)
Options:
  --airflow-username <name>        Airflow API user, with AIRFLOW_API_PASSWORD; default a token (AIRFLOW_API_TOKEN)
  --take-over                      the program asks each resource to take the hand-made grant over:
                                   removed once its own is written and read back (AWS), and on destroy
                                   (AWS, GCP); without it hand-made grants stay, and survive destroy
  --region <region>                for AWS connections without region_name (default AWS_REGION or us-east-1)
  --out <file>                     write the program to the file instead of standard output
  --json                           print what was found as JSON instead of a program

Cloud credentials and endpoints are the provider's: the AWS SDK's, GOOGLE_OAUTH_ACCESS_TOKEN or
Application Default Credentials, Azure's DefaultAzureCredential.`;

type Io = { stdin: () => string; out: (text: string) => void; err: (text: string) => void };

/** The command line: `deployment-authorization review` or `discover`. Returns the exit code. */
export function main(
  argv: string[],
  io: Io = { stdin: () => readFileSync(0, "utf8"), out: console.log, err: console.error },
): number | Promise<number> {
  const [command, ...rest] = argv;
  if (command === "discover") return discoverCommand(rest, io);
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

/** Flags of `discover`, or the message that says which one is wrong. */
export function parseDiscoverArgs(
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): { targets: DiscoverTargets; takeOver: boolean; region: string; out?: string; json: boolean } | string {
  const options = targetOptions();
  const targets: DiscoverTargets = {
    clouds: {},
    deployments: [],
    astroDeployments: [],
    airflowAuth: { kind: "token" },
  };
  let takeOver = false;
  let json = false;
  let out: string | undefined;
  let region = env.AWS_REGION ?? "us-east-1";
  for (let i = 0; i < args.length; i++) {
    const flag = args[i]!;
    if (flag === "--take-over") takeOver = true;
    else if (flag === "--json") json = true;
    else {
      const value = args[++i];
      if (value === undefined || value.startsWith("--")) return `${flag} needs a value`;
      const option = flag.replace(/^--/, "");
      if (options.some((o) => o.option === option)) (targets.clouds[option] ??= []).push(value);
      else if (flag === "--airflow-username") targets.airflowAuth = { kind: "password", username: value };
      else if (flag === "--region") region = value;
      else if (flag === "--out") out = value;
      else if (flag === "--astro-deployment") {
        const [organizationId, deploymentId, extra] = value.split("/");
        if (!organizationId || !deploymentId || extra !== undefined) {
          return `--astro-deployment takes <organizationId>/<deploymentId>, not ${value}`;
        }
        targets.astroDeployments.push({ organizationId, deploymentId });
      } else if (flag === "--deployment") {
        const parsed = parseDeployment(value);
        if (typeof parsed === "string") return parsed;
        targets.deployments.push(parsed);
      } else return `unknown option ${flag}`;
    }
  }
  if (Object.keys(targets.clouds).length === 0) {
    const names = options.map((o) => `--${o.option}`);
    return `give at least one target: ${names.slice(0, -1).join(", ")} or ${names.at(-1)}`;
  }
  if (targets.deployments.length + targets.astroDeployments.length === 0) {
    return "give at least one Deployment: --deployment identity=...,airflow=... or --astro-deployment <org>/<id>";
  }
  return { targets, takeOver, region, json, ...(out ? { out } : {}) };
}

function parseDeployment(value: string): DeploymentRef | string {
  const fields: Record<string, string> = {};
  for (const part of value.split(",")) {
    const at = part.indexOf("=");
    const key = part.slice(0, at);
    if (at <= 0 || !["identity", "airflow", "namespace", "issuer", "name"].includes(key)) {
      return `--deployment takes identity=<arn|e-mail>,airflow=<url>[,namespace=<ns>][,issuer=<url>][,name=<name>]; "${part}" is not one of them`;
    }
    fields[key] = part.slice(at + 1);
  }
  if (!fields.identity && !fields.namespace) return `--deployment ${value}: give identity= or namespace=`;
  if (!fields.airflow)
    return `--deployment ${value}: give airflow=<url>, the Deployment's Airflow whose connections to match`;
  const identity = fields.identity;
  const name =
    fields.name ?? (identity ? identity.slice(identity.lastIndexOf("/") + 1).split("@")[0]! : fields.namespace!);
  return {
    name,
    airflowUrl: fields.airflow.replace(/\/+$/, ""),
    ...(identity ? { identity } : {}),
    ...(fields.namespace ? { namespace: fields.namespace } : {}),
    ...(fields.issuer ? { oidcIssuerUrl: fields.issuer } : {}),
  };
}

async function discoverCommand(args: string[], io: Io): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) {
    io.out(discoverUsage());
    return 0;
  }
  const parsed = parseDiscoverArgs(args);
  if (typeof parsed === "string") {
    io.err(`${parsed}\n\n${discoverUsage()}`);
    return 2;
  }
  // As in the provider: the AWS SDK's notice about future Node.js lines is not this command's output.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  // The clouds' SDKs load only for a discovery, not for review.
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { readInventory } = require("./discover/inventory") as typeof import("./discover/inventory");
  const { discover, loadDiscoverers } = require("./discover/match") as typeof import("./discover/match");
  const { renderProgram, renderReport } = require("./discover/program") as typeof import("./discover/program");
  /* eslint-enable @typescript-eslint/no-require-imports */
  try {
    const discoverers = await loadDiscoverers(cloudModules());
    const found = discover(
      await readInventory(parsed.targets, discoverers),
      { takeOver: parsed.takeOver, defaultRegion: parsed.region },
      discoverers,
    );
    if (parsed.json) {
      io.out(JSON.stringify(found, null, 2));
      return 0;
    }
    const program = renderProgram(found, parsed.targets.airflowAuth);
    if (parsed.out) {
      writeFileSync(parsed.out, program);
      io.out(renderReport(found));
    } else {
      io.out(program);
      io.err(renderReport(found));
    }
    return 0;
  } catch (error) {
    io.err(`discover failed: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
}

if (require.main === module) {
  void Promise.resolve(main(process.argv.slice(2))).then((code) => (process.exitCode = code));
}
