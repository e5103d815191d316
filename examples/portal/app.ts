// An internal portal for "give Deployment X access to role Y": request, review, approve, revoke.
// Each team's authorizations live in one Pulumi stack; the helper runs the stacks. The database is
// the only source of what a stack should hold: every apply reads the team's approved requests from
// it while holding the stack's lock, so replicas and restarts lose nothing.
import Fastify, { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { randomBytes } from "node:crypto";
import {
  DeploymentAuthorizationArgs,
  StackTarget,
  applyAuthorizations,
  previewAuthorizations,
} from "pulumi-deployment-authorization/automation";
import { z } from "zod";
import { failedResourcesOf, failureOf, statusOf } from "./failures";
import { Caller, IdentityRefused, IdentityVerifier } from "./identity";
import { Notice, TeamReconciliation, homePage, messagePage, reconcilePage, requestFormPage, reviewPage } from "./pages";
import { AccessRequest, AppliedOutputs, PortalStore } from "./store";

export type { AccessRequest } from "./store";

export interface PortalOptions {
  /** Where a team's stack lives and how it runs (backend, secrets, credentials). */
  stackFor(team: string): StackTarget;
  /** The region written to connections when a request names none. */
  defaultRegion: string;
  store: PortalStore;
  /** Who is calling (the authenticating proxy's signed assertion). */
  identity: IdentityVerifier;
  logger?: boolean;
}

const blankIsMissing = (v: unknown) => (v === "" ? undefined : v);
/** A request for access, from the form or the JSON API. */
const RequestInput = z.object({
  team: z.string({ error: "required" }).regex(/^[a-z][a-z0-9-]{1,40}$/, "a lower-case name such as data-platform"),
  organizationId: z
    .string({ error: "required" })
    .regex(/^[a-z0-9]{20,40}$/, "an Astro organization id: 20 to 40 lower-case letters and digits"),
  deploymentId: z
    .string({ error: "required" })
    .regex(/^[a-z0-9]{20,40}$/, "an Astro Deployment id: 20 to 40 lower-case letters and digits"),
  roleArn: z
    .string({ error: "required" })
    .regex(/^arn:aws:iam::\d{12}:role\/[\w+=,.@/-]+$/, "an IAM role ARN such as arn:aws:iam::123456789012:role/reader"),
  region: z.preprocess(
    blankIsMissing,
    z
      .string()
      .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, "an AWS region such as eu-west-1")
      .optional(),
  ),
  connectionId: z.preprocess(
    blankIsMissing,
    z
      .string()
      .regex(/^[\w.-]{1,200}$/, "letters, digits, _ . - (at most 200)")
      .optional(),
  ),
});

type Outcome =
  | { ok: true; request: AccessRequest }
  | { ok: false; status: number; code: string; message: string; request?: AccessRequest };

const resourceName = (r: Pick<AccessRequest, "id">) => `request-${r.id}`;

export function buildPortal(options: PortalOptions): FastifyInstance {
  const { store } = options;
  const app = Fastify({ logger: options.logger ?? false });
  app.addContentTypeParser("application/x-www-form-urlencoded", { parseAs: "string" }, (_req, body, done) =>
    done(null, Object.fromEntries(new URLSearchParams(String(body)))),
  );
  const callers = new WeakMap<FastifyRequest, Caller>();
  const callerOf = (req: FastifyRequest) => callers.get(req)!;
  const wantsHtml = (req: FastifyRequest) => Boolean(req.headers.accept?.includes("text/html"));
  const html = (reply: FastifyReply, status: number, page: string) =>
    reply
      .code(status)
      .header(
        "content-security-policy",
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
      )
      .type("text/html; charset=utf-8")
      .send(page);
  /** A refusal or a failure: on a page for a browser, as JSON for the API. */
  const refuse = (req: FastifyRequest, reply: FastifyReply, status: number, code: string, message: string) =>
    wantsHtml(req)
      ? html(reply, status, messagePage("Not done", callers.get(req), { kind: "error", title: code, text: message }))
      : reply.code(status).send({ error: code, message });

  app.get("/healthz", async () => ({ ok: true, database: store.engine }));

  // Everyone but the health check is someone the proxy vouched for.
  app.addHook("preHandler", async (req, reply) => {
    if (req.url === "/healthz") return;
    // A form posted from another site carries the proxy's cookie too: only this portal's own pages may post.
    const site = req.headers["sec-fetch-site"];
    if (req.method === "POST" && site !== undefined && site !== "same-origin" && site !== "none") {
      return refuse(req, reply, 403, "CROSS_SITE", "forms are accepted from the portal's own pages only");
    }
    try {
      callers.set(req, await options.identity.callerOf(req.headers));
    } catch (error) {
      if (!(error instanceof IdentityRefused)) throw error;
      return refuse(req, reply, 401, "UNAUTHENTICATED", error.message);
    }
  });

  app.get("/", async (req, reply) => html(reply, 200, homePage(callerOf(req), await store.requests())));
  app.get("/requests/new", async (req, reply) => html(reply, 200, requestFormPage(callerOf(req), {}, {})));

  app.get("/requests", async () => store.requests());

  app.post<{ Body: Record<string, unknown> | undefined }>("/requests", async (req, reply) => {
    const caller = callerOf(req);
    const body = req.body ?? {};
    const values = Object.fromEntries(Object.entries(body).map(([k, v]) => [k, String(v ?? "")]));
    if (!caller.roles.has("requester")) {
      return refuse(req, reply, 403, "NOT_A_REQUESTER", `${caller.id} may not ask for access (not in the requesters)`);
    }
    const parsed = RequestInput.safeParse(body);
    if (!parsed.success) {
      const fields: Record<string, string> = {};
      for (const issue of parsed.error.issues) fields[String(issue.path[0])] ??= issue.message;
      if (wantsHtml(req)) return html(reply, 400, requestFormPage(caller, values, fields));
      return reply.code(400).send({
        error: "INVALID_INPUT",
        problems: Object.entries(fields).map(([field, message]) => `${field}: ${message}`),
      });
    }
    const input = parsed.data;
    const request = {
      id: randomBytes(6).toString("hex"),
      team: input.team,
      organizationId: input.organizationId,
      deploymentId: input.deploymentId,
      roleArn: input.roleArn,
      region: input.region ?? options.defaultRegion,
      connectionId: input.connectionId ?? "aws_default",
      requestedBy: caller.id,
    };
    try {
      // The team's approved set plus this request, read under the stack's lock: what approving would do.
      const preview = await previewAuthorizations(options.stackFor(request.team), {
        authorizations: async () => ({ ...(await desiredOf(request.team)), [resourceName(request)]: argsOf(request) }),
      });
      const review = preview.changes.filter((c) => c.name === resourceName(request));
      await store.createRequest({ ...request, review });
    } catch (error) {
      const failure = failureOf(error);
      if (wantsHtml(req)) {
        return html(
          reply,
          statusOf(failure.code),
          requestFormPage(
            caller,
            values,
            {},
            { kind: "error", title: `the preview failed: ${failure.code}`, text: failure.message },
          ),
        );
      }
      return reply.code(statusOf(failure.code)).send({ error: failure.code, message: failure.message });
    }
    if (wantsHtml(req)) return reply.redirect(`/requests/${request.id}/review?done=requested`, 303);
    return reply.code(201).send(await store.request(request.id));
  });

  app.get<{ Params: { id: string } }>("/requests/:id", async (req, reply) => {
    const request = await store.request(req.params.id);
    if (!request) return reply.code(404).send({ error: "NOT_FOUND" });
    return { ...request, history: await store.history(request.id) };
  });

  const DONE: Record<string, string> = {
    requested: "the request is recorded; an approver reviews it next.",
    approved: "approved and applied: the grant and the connection below were made.",
    revoked: "revoked and applied: the trust entry and the connection are gone.",
    declined: "declined: nothing was made.",
  };
  app.get<{ Params: { id: string }; Querystring: { done?: string } }>("/requests/:id/review", async (req, reply) => {
    const request = await store.request(req.params.id);
    if (!request) return refuse(req, reply, 404, "NOT_FOUND", `no request ${req.params.id}`);
    const done = req.query.done && DONE[req.query.done];
    const notice: Notice | undefined = done && !request.error ? { kind: "success", title: done } : undefined;
    return html(
      reply,
      200,
      reviewPage({ request, history: await store.history(request.id), caller: callerOf(req), notice }),
    );
  });

  /** After a decision: back to the request's page (or its JSON), the outcome or the refusal shown there. */
  /**
   * The request named in the path, when the caller may take it back (decline or revoke it):
   * approvers, and the one who asked for it.
   */
  async function takenBackBy(caller: Caller, id: string, verb: "decline" | "revoke"): Promise<Outcome> {
    const request = await store.request(id);
    if (!request) return failure(404, "NOT_FOUND", `no request ${id}`);
    if (!caller.roles.has("approver") && request.requestedBy !== caller.id) {
      return failure(403, "NOT_AN_APPROVER", `${caller.id} may not ${verb} this request`, request);
    }
    return { ok: true, request };
  }

  async function answer(req: FastifyRequest, reply: FastifyReply, outcome: Outcome, done: string) {
    if (outcome.ok) {
      if (wantsHtml(req)) return reply.redirect(`/requests/${outcome.request.id}/review?done=${done}`, 303);
      return { ...outcome.request, history: await store.history(outcome.request.id) };
    }
    if (!wantsHtml(req)) {
      return reply
        .code(outcome.status)
        .send({ error: outcome.code, message: outcome.message, request: outcome.request });
    }
    if (!outcome.request) return refuse(req, reply, outcome.status, outcome.code, outcome.message);
    const notice: Notice = { kind: "error", title: outcome.code, text: outcome.message };
    const page = reviewPage({
      request: outcome.request,
      history: await store.history(outcome.request.id),
      caller: callerOf(req),
      notice,
    });
    return html(reply, outcome.status, page);
  }

  app.post<{ Params: { id: string } }>("/requests/:id/approve", async (req, reply) => {
    const caller = callerOf(req);
    const request = await store.request(req.params.id);
    if (!request) return answer(req, reply, failure(404, "NOT_FOUND", `no request ${req.params.id}`), "");
    if (!caller.roles.has("approver"))
      return answer(req, reply, failure(403, "NOT_AN_APPROVER", `${caller.id} may not approve requests`, request), "");
    if (request.requestedBy === caller.id) {
      const message = "you made this request: another approver must approve it";
      return answer(req, reply, failure(403, "SELF_APPROVAL", message, request), "");
    }
    // The approver approved what the review showed: that review is what the history keeps.
    if (!(await store.decide(request.id, "pending", "approved", caller.id, "approved", { review: request.review }))) {
      return answer(req, reply, notPending(await store.request(request.id)), "");
    }
    return answer(req, reply, await applyTeam(request, caller.id, "approve"), "approved");
  });

  app.post<{ Params: { id: string } }>("/requests/:id/decline", async (req, reply) => {
    const caller = callerOf(req);
    const found = await takenBackBy(caller, req.params.id, "decline");
    if (!found.ok) return answer(req, reply, found, "");
    const { request } = found;
    if (!(await store.decide(request.id, "pending", "declined", caller.id, "declined", { review: request.review }))) {
      return answer(req, reply, notPending(await store.request(request.id)), "");
    }
    return answer(req, reply, { ok: true, request: (await store.request(request.id))! }, "declined");
  });

  app.post<{ Params: { id: string } }>("/requests/:id/revoke", async (req, reply) => {
    const caller = callerOf(req);
    const found = await takenBackBy(caller, req.params.id, "revoke");
    if (!found.ok) return answer(req, reply, found, "");
    const { request } = found;
    if (!(await store.decide(request.id, "approved", "revoked", caller.id, "revoked", { outputs: request.outputs }))) {
      const now = await store.request(request.id);
      return answer(req, reply, failure(409, "NOT_APPROVED", `the request is ${now?.status}, not approved`, now), "");
    }
    return answer(req, reply, await applyTeam(request, caller.id, "revoke"), "revoked");
  });

  app.post<{ Params: { team: string } }>("/teams/:team/apply", async (req, reply) => {
    const caller = callerOf(req);
    if (!caller.roles.has("approver"))
      return refuse(req, reply, 403, "NOT_AN_APPROVER", `${caller.id} may not apply stacks`);
    // After drift (a trust entry removed by hand), state still says it is there: read first, then put it back.
    const result = await runApply(req.params.team, caller.id, { refresh: true });
    if (wantsHtml(req)) return reply.redirect("/reconcile", 303);
    return result.error ? reply.code(statusOf(result.error.code)).send(result) : result;
  });

  app.get("/reconcile", async (req, reply) => {
    const teams = await Promise.all((await store.teams()).map(reconcile));
    return wantsHtml(req) ? html(reply, 200, reconcilePage(callerOf(req), teams)) : teams;
  });

  /** What the team's stack should hold, read from the database now. */
  async function desiredOf(team: string): Promise<Record<string, DeploymentAuthorizationArgs>> {
    return Object.fromEntries((await store.approved(team)).map((r) => [resourceName(r), argsOf(r)]));
  }

  /**
   * Applies the team's stack with its approved set as the database holds it once the stack's lock
   * is held (the helper calls the function from inside the program), records the run and the outputs.
   */
  async function runApply(team: string, actor: string, runOptions: { refresh?: boolean } = {}) {
    const startedAt = new Date();
    let held: AccessRequest[] = [];
    try {
      const result = await applyAuthorizations(
        options.stackFor(team),
        {
          authorizations: async () => {
            held = await store.approved(team);
            return Object.fromEntries(held.map((r) => [resourceName(r), argsOf(r)]));
          },
        },
        runOptions,
      );
      const outputs = Object.fromEntries(
        held.map((r) => [r.id, (result.outputs[resourceName(r)] ?? {}) as AppliedOutputs]),
      );
      await store.recordApply(
        {
          team,
          startedAt,
          startedBy: actor,
          applied: held.map((r) => r.id),
          outcome: "succeeded",
          summary: result.summary,
          error: null,
        },
        result.outputs,
      );
      return { held, outputs, summary: result.summary, error: undefined };
    } catch (error) {
      const failure = failureOf(error);
      await store.recordApply(
        {
          team,
          startedAt,
          startedBy: actor,
          applied: held.map((r) => r.id),
          outcome: "failed",
          summary: null,
          error: failure,
        },
        null,
      );
      return {
        held,
        outputs: undefined,
        summary: undefined,
        error: failure,
        failedResources: failedResourcesOf(error),
      };
    }
  }

  async function applyTeam(request: AccessRequest, actor: string, why: "approve" | "revoke"): Promise<Outcome> {
    const result = await runApply(request.team, actor);
    if (result.error) {
      // An approval whose own authorization failed leaves the desired set (it would fail every later
      // apply); a failure elsewhere (another request, the lock, the network) leaves it approved, and
      // the reconcile page shows the stack short of it.
      const ownFailure = why === "approve" && Boolean(result.failedResources?.has(resourceName(request)));
      await store.applyFailed(request.id, actor, result.error, ownFailure);
      return {
        ok: false,
        status: statusOf(result.error.code),
        ...result.error,
        request: await store.request(request.id),
      };
    }
    await store.applied(request.id, actor, result.outputs, result.summary);
    return { ok: true, request: (await store.request(request.id))! };
  }

  async function reconcile(team: string): Promise<TeamReconciliation> {
    const [approved, lastApply, all] = await Promise.all([
      store.approved(team),
      store.lastApply(team),
      store.requests(1000),
    ]);
    const failed = all.filter((r) => r.team === team && r.status === "failed");
    try {
      const preview = await previewAuthorizations(
        options.stackFor(team),
        { authorizations: () => desiredOf(team) },
        { refresh: true },
      );
      return { team, approved: approved.map((r) => r.id), lastApply, failed, differences: preview.changes };
    } catch (error) {
      return { team, approved: approved.map((r) => r.id), lastApply, failed, differences: [], error: failureOf(error) };
    }
  }

  return app;
}

function failure(status: number, code: string, message: string, request?: AccessRequest): Outcome {
  return { ok: false, status, code, message, ...(request ? { request } : {}) };
}

function notPending(request: AccessRequest | undefined): Outcome {
  return failure(
    409,
    "NOT_PENDING",
    `the request is ${request?.status ?? "gone"}: someone decided it already`,
    request,
  );
}

function argsOf(
  r: Pick<AccessRequest, "organizationId" | "deploymentId" | "roleArn" | "region" | "connectionId">,
): DeploymentAuthorizationArgs {
  return {
    deployment: { organizationId: r.organizationId, deploymentId: r.deploymentId },
    aws: { targetRole: r.roleArn, region: r.region },
    connection: { connectionId: r.connectionId, target: "astro" },
  };
}
