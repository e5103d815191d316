import { reviewAuthorization, type AuthorizationReview, type FieldChange } from "../provider/core/review";
import type { AuthorizationState, ExtraValue, PlannedAuthorization } from "../provider/core/types";
import { UNKNOWN } from "../provider/core/unknown";
import { GRANT_PLUGINS } from "../provider/grants";

const PLUGINS = new Map(GRANT_PLUGINS.map((p) => [p.cloud, p]));

/** One authorization's review, named as the program names it. */
export interface NamedReview extends AuthorizationReview {
  /** The component's name (the last part of `owner`). */
  name: string;
  urn: string;
}

interface PreviewStep {
  op: string;
  urn: string;
  oldState?: { inputs?: Record<string, unknown>; outputs?: Record<string, unknown> };
  newState?: { inputs?: Record<string, unknown> };
}

const REVIEWED_OPS = new Set(["create", "update", "replace", "delete"]);

/** Whether a resource's inputs are an authorization's plan (the shape `check` returns). */
function isAuthorization(value: Record<string, unknown> | undefined): boolean {
  const grant = value?.grant as { cloud?: unknown } | undefined;
  const connection = value?.connection as { connectionId?: unknown } | undefined;
  return typeof value?.owner === "string" && typeof grant?.cloud === "string" && connection?.connectionId !== undefined;
}

/**
 * The reviews of every authorization a `pulumi preview --json` changes, with the same function the
 * provider's `diff` uses. Other resources and unchanged authorizations are left out.
 */
export function reviewPreview(preview: unknown): NamedReview[] {
  const steps = (preview as { steps?: PreviewStep[] } | null)?.steps;
  if (!Array.isArray(steps)) {
    throw new Error(
      "not the output of pulumi preview --json: it has no steps (run pulumi preview --json > preview.json)",
    );
  }
  const reviews: NamedReview[] = [];
  for (const step of steps) {
    if (!REVIEWED_OPS.has(step.op)) continue;
    const olds = step.oldState?.outputs ?? step.oldState?.inputs;
    const news = step.newState?.inputs;
    const oldAuth = step.op !== "create" && isAuthorization(olds) ? (olds as unknown as AuthorizationState) : undefined;
    const newAuth =
      step.op !== "delete" && isAuthorization(news) ? (news as unknown as PlannedAuthorization) : undefined;
    if (!oldAuth && !newAuth) continue;
    const review = reviewAuthorization(PLUGINS, oldAuth, newAuth);
    const owner = (newAuth ?? oldAuth)!.owner;
    reviews.push({ name: owner.split("/").at(-1) ?? owner, urn: step.urn, ...review });
  }
  return reviews;
}

/**
 * A pull-request comment: per authorization, the access granted or taken, the connection's changes,
 * the risks. Every block (paragraph, list, table, quote) stands after a blank line: renderers that
 * let no table or list interrupt a paragraph read the same blocks.
 */
export function renderMarkdown(reviews: NamedReview[]): string {
  if (reviews.length === 0) return "### Deployment authorizations\n\nNo authorization changes.\n";
  const risky = reviews.filter((r) => r.risks.length > 0).length;
  const lines = [
    `### Deployment authorizations: ${count(reviews.length, "change")}${risky ? `, ${count(risky, "to look at twice", "to look at twice")}` : ""}`,
    "",
  ];
  for (const r of reviews) {
    lines.push(`#### \`${r.name}\`: ${r.operation} (${r.cloud})`, "");
    if (r.risks.length) lines.push(r.risks.map((risk) => `> **Risk:** ${show(risk)}`).join("\n>\n"), "");
    lines.push(`**Grant** on ${show(r.target)}`, "");
    for (const entry of r.grant.added) lines.push(`- added: ${show(entry)}`);
    for (const entry of r.grant.removed) lines.push(`- removed: ${show(entry)}`);
    if (!r.grant.added.length && !r.grant.removed.length)
      lines.push(`- no change (${count(r.grant.unchanged, "entry", "entries")})`);
    lines.push(
      `- everything else on it (statements, members or credentials this resource did not add) is not touched`,
      "",
    );
    lines.push(`**Connection** \`${r.connection.connectionId}\` (${show(r.connection.location)})`, "");
    lines.push(...fieldTable(r.connection.changes), "");
    if (r.deploymentSettings.length) {
      lines.push("**Deployment settings**", "", ...fieldTable(r.deploymentSettings), "");
    }
    if (r.replaces.length) {
      lines.push(
        `Replaced because ${r.replaces.map((p) => `\`${p}\``).join(", ")} changed; the old one is deleted first.`,
        "",
      );
    }
  }
  return `${lines.join("\n").trimEnd()}\n`;
}

function fieldTable(changes: FieldChange[]): string[] {
  if (changes.length === 0) return ["- no change"];
  return [
    "| field | before | after |",
    "| --- | --- | --- |",
    ...changes.map((c) => `| \`${c.field}\` | ${cell(c.before)} | ${cell(c.after)} |`),
  ];
}

function cell(value: ExtraValue | undefined): string {
  if (value === undefined) return "";
  return `\`${show(JSON.stringify(value)).replace(/\|/g, "\\|")}\``;
}

/** Values not known until apply read as such, not as the engine's marker. */
function show(text: string): string {
  return text.split(UNKNOWN).join("(known after apply)");
}

function count(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
