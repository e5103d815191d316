// An internal portal for "give Deployment X access to role Y": request, preview, approve, revoke.
// Each team's authorizations live in one Pulumi stack; the helper runs the stacks.
import Fastify, { FastifyInstance } from "fastify";
import { randomBytes } from "node:crypto";
import {
  AuthorizationRunError,
  DeploymentAuthorizationArgs,
  NamedReview,
  StackTarget,
  applyAuthorizations,
  previewAuthorizations,
} from "pulumi-deployment-authorization/automation";

export interface AccessRequest {
  id: string;
  team: string;
  organizationId: string;
  deploymentId: string;
  roleArn: string;
  /** The connection's region_name. */
  region: string;
  connectionId: string;
  status: "pending" | "approved" | "revoked" | "failed";
  /** The change the approval would make (from the preview), then the change it made. */
  changes: NamedReview[];
  outputs?: unknown;
  error?: { code: string; message: string };
}

export interface PortalOptions {
  /** Where a team's stack lives and how it runs (backend, secrets, credentials). */
  stackFor(team: string): StackTarget;
  /** The region written to connections when a request names none. */
  defaultRegion: string;
  logger?: boolean;
}

const TEAM = /^[a-z][a-z0-9-]{1,40}$/;
const ASTRO_ID = /^[a-z0-9]{20,40}$/;
const ROLE_ARN = /^arn:aws:iam::\d{12}:role\/[\w+=,.@/-]+$/;
const CONNECTION_ID = /^[\w.-]{1,200}$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;

/** The portal's HTTP API and its one page; requests are kept in memory (a real portal has a database). */
export function buildPortal(options: PortalOptions): FastifyInstance {
  const app = Fastify({ logger: options.logger ?? false });
  const requests = new Map<string, AccessRequest>();
  // The review page's Approve button posts a form.
  app.addContentTypeParser("application/x-www-form-urlencoded", { parseAs: "string" }, (_req, body, done) =>
    done(null, Object.fromEntries(new URLSearchParams(String(body)))),
  );

  /** What a team's stack should hold: its approved requests, read when the run starts. */
  const approvedOf = (team: string) => () =>
    Object.fromEntries(
      [...requests.values()]
        .filter((r) => r.team === team && r.status === "approved")
        .map((r) => [`request-${r.id}`, argsOf(r)]),
    );

  app.post<{ Body: Partial<AccessRequest> }>("/requests", async (req, reply) => {
    const body = req.body ?? {};
    const problems = [
      !TEAM.test(String(body.team)) && "team: a lower-case name such as data-platform",
      !ASTRO_ID.test(String(body.organizationId)) && "organizationId: an Astro organization id",
      !ASTRO_ID.test(String(body.deploymentId)) && "deploymentId: an Astro Deployment id",
      !ROLE_ARN.test(String(body.roleArn)) && "roleArn: an IAM role ARN such as arn:aws:iam::123456789012:role/reader",
      body.connectionId !== undefined &&
        !CONNECTION_ID.test(body.connectionId) &&
        "connectionId: letters, digits, _ . -",
      body.region !== undefined && !REGION.test(body.region) && "region: an AWS region such as eu-west-1",
    ].filter(Boolean);
    if (problems.length) return reply.code(400).send({ error: "INVALID_INPUT", problems });
    const request: AccessRequest = {
      id: randomBytes(4).toString("hex"),
      team: body.team!,
      organizationId: body.organizationId!,
      deploymentId: body.deploymentId!,
      roleArn: body.roleArn!,
      region: body.region ?? options.defaultRegion,
      connectionId: body.connectionId ?? "aws_default",
      status: "pending",
      changes: [],
    };
    // The preview shows the team's approved set plus this request: exactly what approving would do.
    const withThis = async () => ({ ...approvedOf(request.team)(), [`request-${request.id}`]: argsOf(request) });
    try {
      const preview = await previewAuthorizations(options.stackFor(request.team), { authorizations: withThis });
      request.changes = preview.changes;
    } catch (error) {
      return reply.code(statusOf(error)).send({ error: codeOf(error), message: (error as Error).message });
    }
    requests.set(request.id, request);
    return reply.code(201).send(request);
  });

  app.get<{ Params: { id: string } }>("/requests/:id", async (req, reply) => {
    const request = requests.get(req.params.id);
    return request ? request : reply.code(404).send({ error: "NOT_FOUND" });
  });

  app.post<{ Params: { id: string } }>("/requests/:id/approve", async (req, reply) => {
    const request = requests.get(req.params.id);
    if (!request) return reply.code(404).send({ error: "NOT_FOUND" });
    if (request.status !== "pending") return reply.code(409).send({ error: "NOT_PENDING", status: request.status });
    request.status = "approved";
    const result = await run(request, reply);
    // From the page (a form), back to the page, which now shows the outcome.
    if (req.headers.accept?.includes("text/html")) return reply.redirect(`/requests/${request.id}/review`, 303);
    return result;
  });

  app.post<{ Params: { id: string } }>("/requests/:id/revoke", async (req, reply) => {
    const request = requests.get(req.params.id);
    if (!request) return reply.code(404).send({ error: "NOT_FOUND" });
    if (request.status !== "approved") return reply.code(409).send({ error: "NOT_APPROVED", status: request.status });
    request.status = "revoked";
    return run(request, reply);
  });

  /** Converges the request's team stack to its approved set; the result is the request. */
  async function run(request: AccessRequest, reply: { code(n: number): { send(b: unknown): unknown } }) {
    try {
      const result = await applyAuthorizations(options.stackFor(request.team), {
        authorizations: approvedOf(request.team),
      });
      request.changes = result.changes.filter((c) => c.name === `request-${request.id}`);
      request.outputs = (result.outputs as Record<string, unknown>)[`request-${request.id}`];
      return request;
    } catch (error) {
      request.error = { code: codeOf(error), message: (error as Error).message };
      if (request.status === "approved") request.status = "failed";
      return reply.code(statusOf(error)).send(request);
    }
  }

  app.get<{ Params: { id: string } }>("/requests/:id/review", async (req, reply) => {
    const request = requests.get(req.params.id);
    if (!request) return reply.code(404).type("text/html").send("<h1>No such request</h1>");
    return reply.type("text/html; charset=utf-8").send(reviewPage(request));
  });

  return app;
}

function argsOf(r: AccessRequest): DeploymentAuthorizationArgs {
  return {
    deployment: { organizationId: r.organizationId, deploymentId: r.deploymentId },
    aws: { targetRole: r.roleArn, region: r.region },
    connection: { connectionId: r.connectionId, target: "astro" },
  };
}

const codeOf = (error: unknown) => (error instanceof AuthorizationRunError ? error.code : "FAILED");

function statusOf(error: unknown): number {
  const code = codeOf(error);
  if (code === "INVALID_INPUT") return 400;
  if (code === "TARGET_MISSING") return 404;
  if (code === "CONFLICT" || code === "CONNECTION_EXISTS" || code === "STACK_LOCKED") return 409;
  return 502;
}

const escape = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);

/** Where the grant lives; both places when the change moves it (another role). */
const where = (c: NamedReview) =>
  c.grant.from !== undefined && c.grant.to !== undefined && c.grant.from !== c.grant.to
    ? `${c.grant.from} → ${c.grant.to}`
    : c.target;

/** The approver's page: what the request grants, the connection it creates, the risks. */
export function reviewPage(request: AccessRequest): string {
  const sections = request.changes.map((c) => {
    const risks = c.risks.map((r) => `<li class="risk">${escape(r)}</li>`).join("");
    const added = c.grant.added.map((e) => `<li class="added">${escape(e)}</li>`).join("");
    const removed = c.grant.removed.map((e) => `<li class="removed">${escape(e)}</li>`).join("");
    const fields = c.connection.changes
      .map(
        (f) =>
          `<tr><td><code>${escape(f.field)}</code></td><td>${escape(JSON.stringify(f.before) ?? "")}</td><td>${escape(JSON.stringify(f.after) ?? "")}</td></tr>`,
      )
      .join("");
    return `<section>
  <h2>${escape(c.operation)}: ${escape(where(c))}</h2>
  ${risks ? `<ul class="risks">${risks}</ul>` : ""}
  <h3>Access</h3><ul>${added}${removed}</ul>
  <p class="untouched">Everything else on the role is not touched.</p>
  <h3>Connection <code>${escape(c.connection.connectionId)}</code> (${escape(c.connection.location)})</h3>
  <table><thead><tr><th>field</th><th>before</th><th>after</th></tr></thead><tbody>${fields}</tbody></table>
</section>`;
  });
  const approve =
    request.status === "pending"
      ? `<form method="post" action="/requests/${escape(request.id)}/approve"><button type="submit">Approve</button></form>`
      : "";
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Access request ${escape(request.id)}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2rem; max-width: 60rem; }
.added { color: #116329; } .removed { color: #a40e26; } .risk { color: #9a6700; font-weight: 600; }
table { border-collapse: collapse; } td, th { border: 1px solid #d0d7de; padding: 0.3rem 0.6rem; text-align: left; }
.status { display: inline-block; padding: 0.1rem 0.5rem; border-radius: 1rem; background: #ddf4ff; }
</style></head>
<body>
<h1>Access request <code>${escape(request.id)}</code> <span class="status">${escape(request.status)}</span></h1>
<p>Team <strong>${escape(request.team)}</strong> asks that Deployment <code>${escape(request.deploymentId)}</code>
may assume <code>${escape(request.roleArn)}</code>.</p>
${request.error ? `<p class="risk">${escape(request.error.code)}: ${escape(request.error.message)}</p>` : ""}
${sections.join("\n") || "<p>No change.</p>"}
${approve}
</body></html>`;
}
