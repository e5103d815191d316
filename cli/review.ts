import { reviewAuthorization, type AuthorizationReview, type FieldChange } from "../provider/core/review";
import type { AuthorizationState, ExtraValue, PlannedAuthorization } from "../provider/core/types";
import { UNKNOWN } from "../provider/core/unknown";
import { cloudModules } from "../provider/grants";

/** The planners of the clouds known when the review runs. */
const planners = () => new Map(cloudModules().map((c) => [c.cloud, c.planner]));

/** One authorization's review, named as the program names it. */
export interface NamedReview extends AuthorizationReview {
  /** The component's name (the last part of `owner`). */
  name: string;
  urn: string;
}

interface PreviewStep {
  op: string;
  urn: string;
  oldState?: { inputs?: Record<string, unknown>; outputs?: Record<string, unknown>; pendingReplacement?: boolean };
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
    const review =
      step.op === "replace" && newAuth && reviewAuthorization(planners(), oldAuth, newAuth).operation !== "replace"
        ? replacementByTheEngine(newAuth, step.oldState?.pendingReplacement === true)
        : reviewAuthorization(planners(), oldAuth, newAuth);
    const owner = (newAuth ?? oldAuth)!.owner;
    reviews.push({ name: owner.split("/").at(-1) ?? owner, urn: step.urn, ...review });
  }
  return reviews;
}

/**
 * A replacement the engine makes although the inputs ask for none: it finishes an earlier one whose
 * delete went through and whose create failed (`pendingReplacement` in state), so nothing of the old
 * resource is live and everything of the new one is created.
 */
function replacementByTheEngine(news: PlannedAuthorization, pending: boolean): AuthorizationReview {
  const created = reviewAuthorization(planners(), undefined, news);
  const why = pending
    ? "an earlier update deleted this resource to replace it and the create failed (pending replacement in state)"
    : "the engine replaces this resource although its inputs ask for no replacement";
  return {
    ...created,
    operation: "replace",
    risks: [
      `${why}: the Deployment has had no access through it since then; this update creates the grant and the connection again`,
      ...created.risks,
    ],
  };
}

/**
 * A pull-request comment: per authorization, the access taken from where and granted where, what
 * happens to the connection, the risks. Every block (paragraph, list, table, quote) stands after a
 * blank line: renderers that let no table or list interrupt a paragraph read the same blocks.
 */
export function renderMarkdown(reviews: NamedReview[]): string {
  if (reviews.length === 0) return "### Deployment authorizations\n\nNo authorization changes.\n";
  const risky = reviews.filter((r) => r.risks.length > 0).length;
  const blocks = [
    `### Deployment authorizations: ${count(reviews.length, "change")}${risky ? `, ${count(risky, "to look at twice", "to look at twice")}` : ""}`,
    ...reviews.flatMap(reviewBlocks),
  ];
  return `${blocks.join("\n\n")}\n`;
}

function reviewBlocks(r: NamedReview): string[] {
  const blocks = [`#### \`${r.name}\`: ${r.operation} (${r.cloud})`];
  if (r.risks.length) blocks.push(r.risks.map((risk) => `> **Risk:** ${show(risk)}`).join("\n>\n"));
  if (r.operation === "replace") {
    blocks.push(
      `Replaced because ${r.replaces.map((p) => `\`${p}\``).join(", ")} changed: the old resource is deleted first, ` +
        `as \`pulumi destroy\` deletes it, and the new one is created after.`,
    );
  }
  blocks.push(...grantBlocks(r), ...connectionBlocks(r));
  if (r.deploymentSettings.length) blocks.push("**Deployment settings**", fieldTable(r.deploymentSettings));
  return blocks;
}

function grantBlocks(r: NamedReview): string[] {
  const { from, to, added, removed, unchanged } = r.grant;
  const untouched = "(statements, members or credentials this resource did not add) is not touched";
  if (from !== undefined && to !== undefined && (from !== to || r.operation === "replace")) {
    // The entries are taken from one place and written to another (or to the same, after a delete):
    // each list says where, and both are named even when one is empty.
    const moves = from !== to;
    const removal = entryList(`removed from ${show(from)}`, removed);
    const addition = entryList(`${moves ? "added to" : "added again to"} ${show(to)}`, added);
    const title = moves
      ? `**Grant**: moves from ${show(from)} to ${show(to)}`
      : `**Grant** on ${show(to)}: removed, then added again (the replacement deletes first)`;
    // A replacement deletes first: its removals come before its additions; an update adds first.
    const items = r.operation === "replace" ? [...removal, ...addition] : [...addition, ...removal];
    return [title, [...items, `- everything else on ${moves ? "both" : "it"} ${untouched}`].join("\n")];
  }
  const items = [...added.map((e) => `- added: ${show(e)}`), ...removed.map((e) => `- removed: ${show(e)}`)];
  if (items.length === 0) items.push(`- no change: ${kept(unchanged)}`);
  else if (unchanged) items.push(`- ${kept(unchanged)}`);
  return [`**Grant** on ${show((to ?? from)!)}`, [...items, `- everything else on it ${untouched}`].join("\n")];
}

function entryList(lead: string, entries: string[]): string[] {
  return entries.length ? [`- ${lead}:`, ...entries.map((e) => `  - ${show(e)}`)] : [`- ${lead}: nothing`];
}

function kept(n: number): string {
  return n === 0 ? "it grants nothing" : `${n} ${n === 1 ? "is" : "are"} kept as before`;
}

function connectionBlocks(r: NamedReview): string[] {
  const c = r.connection;
  const id = `\`${c.connectionId}\``;
  const where = show(c.location);
  const previous = c.previous;
  const title =
    c.action === "create"
      ? `**Connection** ${id}: created in ${where}`
      : c.action === "delete"
        ? `**Connection** ${id}: deleted from ${where}`
        : c.action === "replace" && previous
          ? previous.connectionId === c.connectionId && previous.location === c.location
            ? `**Connection** ${id}: deleted from ${where}, then created there again`
            : `**Connection**: \`${previous.connectionId}\` deleted from ${show(previous.location)}, then ${id} created in ${where}`
          : c.action === "update"
            ? `**Connection** ${id} in ${where}: updated in place`
            : `**Connection** ${id} in ${where}: no change`;
  return c.changes.length ? [title, fieldTable(c.changes)] : [title];
}

function fieldTable(changes: FieldChange[]): string {
  return [
    "| field | before | after |",
    "| --- | --- | --- |",
    ...changes.map((c) => `| \`${c.field}\` | ${cell(c.before)} | ${cell(c.after)} |`),
  ].join("\n");
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
