// The portal's pages: plain HTML forms, readable without colour (every added or removed line says
// so in words and with a sign), every control labelled and reachable by keyboard.
import type { NamedReview } from "pulumi-deployment-authorization/automation";
import type { Caller } from "./identity";
import type { AccessRequest, AppliedOutputs, RequestEvent, StackApply } from "./store";

export const escape = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);

/** A message for the top of a page: what happened, or what went wrong and what to do. */
export interface Notice {
  kind: "success" | "error";
  title: string;
  text?: string;
}

const STYLE = `
body { font-family: system-ui, sans-serif; margin: 0; color: #1f2328; background: #fff; line-height: 1.5; }
header { background: #24292f; color: #fff; padding: 0.6rem 2rem; display: flex; gap: 1.5rem; align-items: center; }
header a { color: #fff; } header .who { margin-left: auto; }
main { margin: 1.5rem 2rem; max-width: 62rem; }
a { color: #0550ae; }
:focus-visible { outline: 3px solid #0969da; outline-offset: 2px; }
.skip { position: absolute; left: -999px; } .skip:focus { left: 1rem; top: 0.5rem; background: #fff; color: #0550ae; padding: 0.3rem; }
.added { color: #116329; } .removed { color: #a40e26; }
.sign { font-weight: 700; display: inline-block; width: 1.2em; }
.risk { color: #6f4400; background: #fff8c5; padding: 0.1rem 0.3rem; }
table { border-collapse: collapse; margin: 0.5rem 0; } td, th { border: 1px solid #8c959f; padding: 0.3rem 0.6rem; text-align: left; vertical-align: top; }
.status { display: inline-block; padding: 0.1rem 0.6rem; border-radius: 1rem; border: 1px solid #1f2328; font-size: 0.9em; }
.notice { border: 2px solid; padding: 0.6rem 1rem; margin: 1rem 0; }
.notice.success { border-color: #116329; background: #dafbe1; } .notice.error { border-color: #a40e26; background: #ffebe9; }
.notice pre { white-space: pre-wrap; margin: 0.3rem 0 0; }
form.stacked label { display: block; font-weight: 600; margin-top: 0.9rem; }
form.stacked input { font: inherit; padding: 0.3rem; width: 30rem; max-width: 100%; border: 1px solid #57606a; }
.hint { color: #57606a; font-size: 0.9em; margin: 0.1rem 0; }
.field-error { color: #a40e26; font-weight: 600; margin: 0.2rem 0; }
input[aria-invalid="true"] { border: 2px solid #a40e26; }
button { font: inherit; padding: 0.4rem 1rem; margin: 0.8rem 0.6rem 0 0; border: 1px solid #1f2328; border-radius: 0.3rem; cursor: pointer; }
button.approve { background: #116329; color: #fff; } button.revoke, button.decline { background: #a40e26; color: #fff; }
.actions form { display: inline; }
`;

export function layout(title: string, caller: Caller | undefined, body: string, notice?: Notice): string {
  const who = caller
    ? `Signed in as <strong>${escape(caller.id)}</strong> (${[...caller.roles].join(", ") || "no role"})`
    : "Not signed in";
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(title)} · Access portal</title><style>${STYLE}</style></head>
<body>
<a class="skip" href="#content">Skip to content</a>
<header><strong>Access portal</strong>
<nav aria-label="Portal"><a href="/">Requests</a> · <a href="/requests/new">New request</a> · <a href="/reconcile">Reconcile</a></nav>
<span class="who">${who}</span></header>
<main id="content">
${notice ? noticeHtml(notice) : ""}
${body}
</main></body></html>`;
}

function noticeHtml(notice: Notice): string {
  return `<div class="notice ${notice.kind}" role="${notice.kind === "error" ? "alert" : "status"}">
<strong>${notice.kind === "error" ? "Refused or failed: " : "Done: "}${escape(notice.title)}</strong>
${notice.text ? `<pre>${escape(notice.text)}</pre>` : ""}</div>`;
}

export function messagePage(title: string, caller: Caller | undefined, notice: Notice): string {
  return layout(title, caller, `<h1>${escape(title)}</h1>`, notice);
}

export function homePage(caller: Caller, requests: AccessRequest[]): string {
  const rows = requests
    .map(
      (r) => `<tr><td><a href="/requests/${escape(r.id)}/review">${escape(r.id)}</a></td><td>${escape(r.team)}</td>
<td><code>${escape(r.deploymentId)}</code></td><td><code>${escape(r.roleArn)}</code></td>
<td><span class="status">${escape(r.status)}</span></td><td>${escape(r.requestedBy)}</td><td>${time(r.requestedAt)}</td></tr>`,
    )
    .join("\n");
  return layout(
    "Requests",
    caller,
    `<h1>Access requests</h1>
<p><a href="/requests/new">Ask for access</a></p>
${
  rows
    ? `<table><caption class="hint">Newest first</caption><thead><tr><th scope="col">Request</th><th scope="col">Team</th><th scope="col">Deployment</th><th scope="col">Role</th><th scope="col">Status</th><th scope="col">Asked by</th><th scope="col">When</th></tr></thead><tbody>${rows}</tbody></table>`
    : "<p>No requests yet.</p>"
}`,
  );
}

export interface FormField {
  name: string;
  label: string;
  hint: string;
  required: boolean;
}

export const REQUEST_FIELDS: FormField[] = [
  {
    name: "team",
    label: "Team",
    hint: "Lower-case, such as data-platform: the team's stack holds its access.",
    required: true,
  },
  {
    name: "organizationId",
    label: "Astro organization id",
    hint: "From the Astro UI: Organization settings.",
    required: true,
  },
  {
    name: "deploymentId",
    label: "Astro Deployment id",
    hint: "The Deployment whose workload identity gets access.",
    required: true,
  },
  { name: "roleArn", label: "IAM role ARN", hint: "Such as arn:aws:iam::123456789012:role/reader.", required: true },
  {
    name: "region",
    label: "Region (optional)",
    hint: "The connection's region_name; the portal's default when empty.",
    required: false,
  },
  { name: "connectionId", label: "Connection id (optional)", hint: "aws_default when empty.", required: false },
];

export function requestFormPage(
  caller: Caller,
  values: Record<string, string>,
  errors: Record<string, string>,
  notice?: Notice,
): string {
  const fields = REQUEST_FIELDS.map((f) => {
    const error = errors[f.name];
    const described = [`${f.name}-hint`, ...(error ? [`${f.name}-error`] : [])].join(" ");
    return `<label for="${f.name}">${escape(f.label)}</label>
<p class="hint" id="${f.name}-hint">${escape(f.hint)}</p>
<input id="${f.name}" name="${f.name}" value="${escape(values[f.name] ?? "")}"${f.required ? " required" : ""} aria-describedby="${described}"${error ? ' aria-invalid="true"' : ""}>
${error ? `<p class="field-error" id="${f.name}-error">${escape(error)}</p>` : ""}`;
  }).join("\n");
  const summary = Object.keys(errors).length
    ? { kind: "error" as const, title: "the request has problems; each is shown beside its field." }
    : notice;
  return layout(
    "New request",
    caller,
    `<h1>Ask for access</h1>
<p>Asks that an Astro Deployment may assume an IAM role, with an Airflow connection that uses it. An approver reviews the change before anything is made.</p>
<form class="stacked" method="post" action="/requests" novalidate>
${fields}
<div><button type="submit">Preview and request</button></div>
</form>`,
    summary,
  );
}

const time = (at: Date) =>
  `<time datetime="${at.toISOString()}">${escape(at.toISOString().replace("T", " ").slice(0, 19))} UTC</time>`;

/** Where the grant lives; both places when the change moves it (another role). */
const where = (c: NamedReview) =>
  c.grant.from !== undefined && c.grant.to !== undefined && c.grant.from !== c.grant.to
    ? `${c.grant.from} → ${c.grant.to}`
    : c.target;

/** The review of a change: risks first, then access added and removed, then the connection's fields. */
export function reviewHtml(changes: NamedReview[]): string {
  if (!changes.length) return "<p>No change: the stack already holds this.</p>";
  return changes
    .map((c) => {
      const risks = c.risks
        .map((r) => `<li class="risk"><span class="sign" aria-hidden="true">⚠</span>Risk: ${escape(r)}</li>`)
        .join("");
      const added = c.grant.added
        .map((e) => `<li class="added"><span class="sign" aria-hidden="true">+</span>Added: ${escape(e)}</li>`)
        .join("");
      const removed = c.grant.removed
        .map((e) => `<li class="removed"><span class="sign" aria-hidden="true">−</span>Removed: ${escape(e)}</li>`)
        .join("");
      const fields = c.connection.changes
        .map(
          (f) =>
            `<tr><td><code>${escape(f.field)}</code></td><td>${escape(JSON.stringify(f.before) ?? "(none)")}</td><td>${escape(JSON.stringify(f.after) ?? "(none)")}</td></tr>`,
        )
        .join("");
      return `<section aria-label="${escape(c.name)}">
<h3>${escape(c.operation)}: ${escape(where(c))}</h3>
<h4>Risks</h4>
${risks ? `<ul class="risks">${risks}</ul>` : "<p>No risk found.</p>"}
<h4>Access</h4>
${added || removed ? `<ul class="access">${added}${removed}</ul>` : "<p>Access unchanged.</p>"}
<p>Everything else on the role is not touched.</p>
<h4>Connection <code>${escape(c.connection.connectionId)}</code> (${escape(c.connection.location)})</h4>
${fields ? `<table><thead><tr><th scope="col">Field</th><th scope="col">Before</th><th scope="col">After</th></tr></thead><tbody>${fields}</tbody></table>` : "<p>Connection unchanged.</p>"}
</section>`;
    })
    .join("\n");
}

function outputsHtml(outputs: AppliedOutputs): string {
  const rows = (value: Record<string, unknown> | undefined) =>
    Object.entries(value ?? {})
      .filter(([, v]) => v !== undefined && v !== null && v !== "")
      .map(
        ([k, v]) =>
          `<tr><th scope="row">${escape(k)}</th><td><code>${escape(typeof v === "string" ? v : JSON.stringify(v))}</code></td></tr>`,
      )
      .join("");
  return `<h3>Trust entry (grant)</h3><table class="made-grant"><tbody>${rows(outputs.grant)}</tbody></table>
<h3>Connection</h3><table class="made-connection"><tbody>${rows(outputs.connection)}</tbody></table>`;
}

function historyHtml(history: RequestEvent[]): string {
  const items = history.map((e) => {
    const error = e.detail.error as { code?: string; message?: string } | undefined;
    const reviewed = Array.isArray(e.detail.review) ? (e.detail.review as NamedReview[]) : undefined;
    const saw = reviewed
      ? ` — the review showed: ${escape(
          reviewed
            .map((c) =>
              [
                ...c.grant.added.map((a) => `+ ${a}`),
                ...c.grant.removed.map((r) => `− ${r}`),
                ...c.risks.map((r) => `risk: ${r}`),
              ].join("; "),
            )
            .join("; ") || "no change",
        )}`
      : "";
    const failed = error ? ` — ${escape(error.code ?? "")}: ${escape(error.message ?? "")}` : "";
    return `<li>${time(new Date(e.at))} <strong>${escape(e.action)}</strong> by ${escape(e.actor)}${saw}${failed}</li>`;
  });
  return `<ol class="history">${items.join("\n")}</ol>`;
}

export interface ReviewPageInput {
  request: AccessRequest;
  history: RequestEvent[];
  caller: Caller;
  notice?: Notice;
}

export function reviewPage({ request, history, caller, notice }: ReviewPageInput): string {
  const own = request.requestedBy === caller.id;
  const approver = caller.roles.has("approver");
  const actions: string[] = [];
  const button = (action: string, label: string) =>
    `<form method="post" action="/requests/${escape(request.id)}/${action}"><button type="submit" class="${action}">${label}</button></form>`;
  if (request.status === "pending") {
    if (approver && !own) actions.push(button("approve", "Approve"), button("decline", "Decline"));
    else if (own) actions.push(button("decline", "Withdraw"));
  }
  if (request.status === "approved" && (approver || own)) actions.push(button("revoke", "Revoke"));
  const whoMay =
    request.status === "pending" && own
      ? "<p>You made this request: another approver must approve it.</p>"
      : request.status === "pending" && !approver
        ? "<p>Only an approver may approve this request.</p>"
        : "";
  return layout(
    `Access request ${request.id}`,
    caller,
    `<h1>Access request <code>${escape(request.id)}</code> <span class="status">${escape(request.status)}</span></h1>
<table><tbody>
<tr><th scope="row">Team</th><td>${escape(request.team)}</td></tr>
<tr><th scope="row">Deployment</th><td><code>${escape(request.deploymentId)}</code> (organization <code>${escape(request.organizationId)}</code>)</td></tr>
<tr><th scope="row">May assume</th><td><code>${escape(request.roleArn)}</code></td></tr>
<tr><th scope="row">Connection</th><td><code>${escape(request.connectionId)}</code>, region ${escape(request.region)}</td></tr>
<tr><th scope="row">Asked by</th><td>${escape(request.requestedBy)}, ${time(request.requestedAt)}</td></tr>
</tbody></table>
${request.error ? `<div class="notice error" role="alert"><strong>The last apply failed: ${escape(request.error.code)}</strong><pre>${escape(request.error.message)}</pre></div>` : ""}
${request.outputs && request.status === "approved" ? `<h2>What was made</h2>${outputsHtml(request.outputs)}` : ""}
<h2>${request.status === "pending" ? "Review: what approving does" : "Review, as shown when it was asked for"}</h2>
${reviewHtml(request.review)}
${whoMay}
<div class="actions">${actions.join("\n")}</div>
<h2>History</h2>
${historyHtml(history)}`,
    notice,
  );
}

/** One team's comparison of the database's view with its stack. */
export interface TeamReconciliation {
  team: string;
  approved: string[];
  lastApply?: StackApply;
  /** What an apply would change now, after reading the cloud and Airflow (drift included). */
  differences: NamedReview[];
  failed: AccessRequest[];
  error?: { code: string; message: string };
}

export function reconcilePage(caller: Caller, teams: TeamReconciliation[]): string {
  const sections = teams.map((t) => {
    const last = t.lastApply
      ? `<p>Last apply: ${escape(t.lastApply.outcome)} at ${time(new Date(t.lastApply.finishedAt))} by ${escape(t.lastApply.startedBy)}${
          t.lastApply.error ? ` — ${escape(t.lastApply.error.code)}: ${escape(t.lastApply.error.message)}` : ""
        }</p>`
      : "<p>Never applied.</p>";
    const verdict = t.error
      ? `<div class="notice error" role="alert"><strong>Could not compare: ${escape(t.error.code)}</strong><pre>${escape(t.error.message)}</pre></div>`
      : t.differences.length
        ? `<p class="differs"><strong>Differs:</strong> the stack does not hold what the portal approved. An apply would make these changes:</p>${reviewHtml(t.differences)}`
        : `<p class="in-sync"><strong>In sync:</strong> the stack, the cloud and Airflow hold exactly the approved requests.</p>`;
    const failed = t.failed.length
      ? `<p>Failed requests (not in the stack's desired set): ${t.failed.map((r) => `<a href="/requests/${escape(r.id)}/review">${escape(r.id)}</a>`).join(", ")}</p>`
      : "";
    return `<section aria-label="Team ${escape(t.team)}"><h2>Team ${escape(t.team)}</h2>
<p>Approved in the portal: ${t.approved.length ? t.approved.map(escape).join(", ") : "none"}</p>
${last}${failed}${verdict}
${caller.roles.has("approver") && !t.error ? `<form method="post" action="/teams/${escape(t.team)}/apply"><button type="submit">Apply the approved set again</button></form>` : ""}
</section>`;
  });
  return layout(
    "Reconcile",
    caller,
    `<h1>Reconcile: the portal's database against each team's stack</h1>
<p>Each team's stack is previewed with a refresh against its approved requests: a failed apply, or access or a connection changed by hand, shows as a difference.</p>
${sections.join("\n") || "<p>No team has decided requests yet.</p>"}`,
  );
}
