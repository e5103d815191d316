import type { Discovery, FoundAuthorization } from "./match";

/** Pure rendering of a discovery: the Pulumi TypeScript program, and the report of what it leaves out. */

export type AirflowAuth = { kind: "password"; username: string } | { kind: "token" };

export function renderProgram(discovery: Discovery, airflowAuth: AirflowAuth): string {
  const lines = [
    "// The authorizations a manual setup made, found by `deployment-authorization discover`, as",
    "// DeploymentAuthorization resources. Review it, then `pulumi preview --diff` and `pulumi up`.",
    "// Connections marked adoptExisting are taken over as they are; see the report for what was left out.",
    'import { DeploymentAuthorization } from "pulumi-deployment-authorization";',
    "",
  ];
  const needsAirflow = discovery.authorizations.some((a) => !a.deployment.astro);
  if (needsAirflow) {
    lines.push(
      airflowAuth.kind === "password"
        ? "// The Airflow API's password: pulumi config set --secret deployment-authorization:airflowPassword <password>"
        : "// The Airflow API's token: pulumi config set --secret deployment-authorization:airflowToken <token>",
      `const airflowAuth = ${literal(airflowAuth, "")} as const;`,
      "",
    );
  }
  if (discovery.authorizations.some((a) => a.deployment.astro)) {
    lines.push(
      "// Astro Deployments are read at program time: pulumi config set --secret deployment-authorization:astroToken <token>",
      "",
    );
  }
  for (const a of discovery.authorizations) {
    for (const note of a.notes) lines.push(...comment(note.charAt(0).toUpperCase() + note.slice(1)));
    lines.push(`new DeploymentAuthorization(${JSON.stringify(a.name)}, ${literal(argsOf(a), "", true)});`, "");
  }
  if (discovery.authorizations.length === 0) lines.push("// Nothing was found to declare: see the report.", "");
  return lines.join("\n");
}

/** The component's arguments; the Airflow's auth is the shared `airflowAuth` constant. */
function argsOf(a: FoundAuthorization): Record<string, unknown> {
  const { connectionId, adopted, description, extra } = a.connection;
  const connection: Record<string, unknown> = {
    connectionId,
    ...(adopted ? { adoptExisting: true } : {}),
    ...(description !== undefined ? { description } : {}),
    ...(extra ? { extra } : {}),
    ...(a.deployment.astro ? {} : { airflow: { url: a.deployment.airflowUrl, auth: AIRFLOW_AUTH } }),
  };
  return {
    ...(a.deployment.astro ? { deployment: a.deployment.astro } : {}),
    ...(a.workloadIdentity ? { workloadIdentity: a.workloadIdentity } : {}),
    [a.cloud]: a.grant,
    connection,
  };
}

const AIRFLOW_AUTH = Symbol("airflowAuth");

function comment(text: string): string[] {
  const words = text.split(" ");
  const out: string[] = [];
  let line = "//";
  for (const word of words) {
    if (line.length + word.length + 1 > 100 && line !== "//") {
      out.push(line);
      line = "//";
    }
    line += ` ${word}`;
  }
  out.push(line);
  return out;
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/** A TypeScript literal of plain data, two-space indented, keys unquoted where they can be. */
function literal(value: unknown, indent: string, multiline = false): string {
  if (value === AIRFLOW_AUTH) return "airflowAuth";
  if (Array.isArray(value)) {
    const items = value.map((v) => literal(v, indent));
    const flat = `[${items.join(", ")}]`;
    return flat.length <= 80 ? flat : `[\n${items.map((i) => `${indent}  ${i},`).join("\n")}\n${indent}]`;
  }
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    const inner = indent + "  ";
    const parts = entries.map(([k, v]) => `${IDENTIFIER.test(k) ? k : JSON.stringify(k)}: ${literal(v, inner)}`);
    const flat = `{ ${parts.join(", ")} }`;
    if (!multiline && flat.length <= 80 && !flat.includes("\n")) return entries.length === 0 ? "{}" : flat;
    return `{\n${entries
      .map(([k, v]) => `${inner}${IDENTIFIER.test(k) ? k : JSON.stringify(k)}: ${literal(v, inner)},`)
      .join("\n")}\n${indent}}`;
  }
  return JSON.stringify(value);
}

/** What was found and not declared, and what the program does to what exists: for a person to read. */
export function renderReport(discovery: Discovery): string {
  const lines = [`Found ${discovery.authorizations.length} authorization(s) to declare.`];
  for (const a of discovery.authorizations) {
    lines.push(
      `- ${a.name} (${a.deployment.name}, ${a.cloud}): connection ${a.connection.connectionId}${a.connection.adopted ? " (existing, taken over)" : " (new)"}`,
    );
  }
  if (discovery.alreadyManaged.length > 0) {
    lines.push("", "Already managed by a DeploymentAuthorization (left out, never taken over):");
    for (const m of discovery.alreadyManaged) lines.push(`- ${m}`);
  }
  if (discovery.unmatched.length > 0) {
    lines.push("", "Not matched or left out, each with the reason (left as they are):");
    for (const u of discovery.unmatched) lines.push(`- ${u.where}: ${u.what}`);
  }
  return lines.join("\n");
}
