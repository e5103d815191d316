import { randomUUID } from "node:crypto";
import http from "node:http";
import https from "node:https";
import type { AddressInfo, Socket } from "node:net";

/**
 * A loopback proxy in front of one upstream that answers chosen requests with a fault instead of,
 * or after, forwarding them, by a deterministic schedule: the nth request matching a rule's method,
 * path (and, for the AWS query API, whose action is in the body, body) gets the rule's fault.
 */

/**
 * throttle: the service's own throttling answer; error500 / error503: its server errors, before the
 * request reaches the server; resetBeforeForward: the connection drops and the server never sees the
 * request; resetAfterAnswer: the server applied the request, and its answer is lost; slowAnswer: the
 * server applied it, and its answer comes after `slowAnswerMs`, past the client's timeout.
 */
export type FaultKind = "throttle" | "error500" | "error503" | "resetBeforeForward" | "resetAfterAnswer" | "slowAnswer";

/** Whose error shapes the injected answers take. */
export type Dialect = "awsQuery" | "airflow" | "google" | "azureArm" | "astro";

export interface FaultRule {
  /** An HTTP method, or "*". */
  method: string;
  /** Tested against the path with its query string. */
  path: RegExp;
  /** Tested against the request body (the AWS query API names its action there). */
  body?: RegExp;
  fault: FaultKind;
  /** The first matching request (1-based) that gets the fault; default 1. */
  nth?: number;
  /** How many matching requests in a row get it, from the nth; default 1, Infinity for all. */
  times?: number;
}

export interface RecordedRequest {
  seq: number;
  method: string;
  path: string;
  /** The AWS query API's Action, when the body names one. */
  action?: string;
  fault?: FaultKind;
  /** The status the client got: upstream's or the injected one; undefined when the connection dropped. */
  status?: number;
}

export interface FaultProxyOptions {
  upstream: string;
  dialect: Dialect;
  /** Serve https with this certificate (the Azure SDKs send bearer tokens over https only). */
  tls?: { cert: Buffer | string; key: Buffer | string };
  /** CA to trust for an https upstream (default: Node's trust store, NODE_EXTRA_CA_CERTS included). */
  upstreamCa?: Buffer | string;
  /** How long a slowAnswer holds the upstream's answer back; default 2000 ms. */
  slowAnswerMs?: number;
  /** The Retry-After an injected throttling answer carries, in seconds; default 0. */
  retryAfterSeconds?: number;
}

export interface FaultProxy {
  url: string;
  /** Every request, in arrival order, with the fault it got. */
  readonly requests: readonly RecordedRequest[];
  /** Replaces the schedule and starts counting occurrences afresh. */
  schedule(rules: readonly FaultRule[]): void;
  /** Requests that got a fault since the proxy started. */
  faultsInjected(): number;
  /** Requests that got a fault since the last call to `schedule`. */
  faultsSinceSchedule(): RecordedRequest[];
  close(): Promise<void>;
}

interface Injected {
  status: number;
  headers: Record<string, string>;
  body: string;
}

const HOP_BY_HOP = new Set(["connection", "keep-alive", "transfer-encoding", "upgrade", "proxy-connection", "te"]);

export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const upstream = new URL(options.upstream);
  const secureUpstream = upstream.protocol === "https:";
  const agent = secureUpstream
    ? new https.Agent({ keepAlive: true, ...(options.upstreamCa ? { ca: options.upstreamCa } : {}) })
    : new http.Agent({ keepAlive: true });
  const requests: RecordedRequest[] = [];
  let rules: Array<{ rule: FaultRule; seen: number }> = [];
  let scheduledAt = 0;
  const sockets = new Set<Socket>();
  const pendingTimers = new Set<NodeJS.Timeout>();

  const faultFor = (method: string, path: string, body: string): FaultKind | undefined => {
    let chosen: FaultKind | undefined;
    for (const entry of rules) {
      const { rule } = entry;
      if (rule.method !== "*" && rule.method.toUpperCase() !== method) continue;
      if (!rule.path.test(path) || (rule.body && !rule.body.test(body))) continue;
      entry.seen++;
      const first = rule.nth ?? 1;
      const last = first + (rule.times ?? 1) - 1;
      // Every matching rule counts the request, so one rule's schedule does not shift another's.
      if (chosen === undefined && entry.seen >= first && entry.seen <= last) chosen = rule.fault;
    }
    return chosen;
  };

  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const method = (req.method ?? "GET").toUpperCase();
      const path = req.url ?? "/";
      const text = body.toString("utf8");
      const fault = faultFor(method, path, text);
      const action = /(?:^|&)Action=([A-Za-z]+)/.exec(text)?.[1];
      const record: RecordedRequest = {
        seq: requests.length + 1,
        method,
        path,
        ...(action ? { action } : {}),
        ...(fault ? { fault } : {}),
      };
      requests.push(record);

      if (fault === "resetBeforeForward") return reset(req.socket);
      if (fault === "throttle" || fault === "error500" || fault === "error503") {
        const answer = injectedAnswer(options.dialect, fault, options.retryAfterSeconds ?? 0);
        record.status = answer.status;
        res.writeHead(answer.status, { ...answer.headers, "content-length": Buffer.byteLength(answer.body) });
        res.end(answer.body);
        return;
      }

      const headers: http.OutgoingHttpHeaders = {};
      for (const [name, value] of Object.entries(req.headers)) {
        if (!HOP_BY_HOP.has(name) && value !== undefined) headers[name] = value;
      }
      const forward = (secureUpstream ? https : http).request(
        {
          host: upstream.hostname,
          port: upstream.port,
          method,
          path,
          // The client's Host is kept, so links the server builds (next pages) lead back through here.
          headers,
          agent,
        },
        (answer) => {
          const answerChunks: Buffer[] = [];
          answer.on("data", (c: Buffer) => answerChunks.push(c));
          answer.on("end", () => {
            if (fault === "resetAfterAnswer") return reset(req.socket);
            const send = () => {
              if (res.destroyed || req.socket.destroyed) return;
              const out: http.OutgoingHttpHeaders = {};
              for (const [name, value] of Object.entries(answer.headers)) {
                if (!HOP_BY_HOP.has(name) && value !== undefined) out[name] = value;
              }
              record.status = answer.statusCode ?? 502;
              res.writeHead(record.status, out);
              res.end(Buffer.concat(answerChunks));
            };
            if (fault !== "slowAnswer") return send();
            const timer = setTimeout(() => {
              pendingTimers.delete(timer);
              send();
            }, options.slowAnswerMs ?? 2000);
            pendingTimers.add(timer);
          });
        },
      );
      forward.on("error", (error) => {
        if (res.headersSent) return res.destroy(error);
        record.status = 502;
        res.writeHead(502, { "content-type": "text/plain" }).end(`fault proxy: upstream failed: ${error.message}`);
      });
      forward.end(body);
    });
  };

  const server = options.tls
    ? https.createServer({ cert: options.tls.cert, key: options.tls.key }, handler)
    : http.createServer(handler);
  server.on(options.tls ? "secureConnection" : "connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `${options.tls ? "https" : "http"}://127.0.0.1:${port}`,
    requests,
    schedule(next) {
      rules = next.map((rule) => ({ rule, seen: 0 }));
      scheduledAt = requests.length;
    },
    faultsInjected: () => requests.filter((r) => r.fault).length,
    faultsSinceSchedule: () => requests.slice(scheduledAt).filter((r) => r.fault),
    close: () =>
      new Promise<void>((resolve) => {
        for (const timer of pendingTimers) clearTimeout(timer);
        for (const socket of sockets) socket.destroy();
        agent.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A TCP reset, so the client sees ECONNRESET (a plain close could read as an empty answer). */
function reset(socket: Socket) {
  if (typeof socket.resetAndDestroy === "function" && !socket.destroyed) {
    try {
      socket.resetAndDestroy();
      return;
    } catch {
      // a TLS socket may refuse: a plain destroy still drops the connection
    }
  }
  socket.destroy();
}

function injectedAnswer(dialect: Dialect, fault: "throttle" | "error500" | "error503", retryAfter: number): Injected {
  const status = fault === "throttle" ? 429 : fault === "error500" ? 500 : 503;
  const json = (body: unknown, headers: Record<string, string> = {}): Injected => ({
    status,
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  switch (dialect) {
    case "awsQuery": {
      // IAM's query API throttles with a 400 and the code Throttling, not with a 429.
      const [awsStatus, type, code, message] =
        fault === "throttle"
          ? [400, "Sender", "Throttling", "Rate exceeded"]
          : fault === "error500"
            ? [500, "Receiver", "ServiceFailure", "The request processing has failed because of an unknown error."]
            : [503, "Receiver", "ServiceUnavailable", "Service is unable to handle request."];
      return {
        status: awsStatus,
        headers: { "content-type": "text/xml", "x-amzn-requestid": randomUUID() },
        body:
          `<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>${type}</Type>` +
          `<Code>${code}</Code><Message>${message}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`,
      };
    }
    case "airflow":
      // What an ingress in front of Airflow (Astro's, an nginx) answers; Airflow's own errors are problem JSON.
      return json({
        title:
          fault === "throttle"
            ? "Too Many Requests"
            : fault === "error500"
              ? "Internal Server Error"
              : "Service Unavailable",
        status,
        detail: null,
        type: "about:blank",
      });
    case "google": {
      const [code, message] =
        fault === "throttle"
          ? [
              "RESOURCE_EXHAUSTED",
              "Quota exceeded for quota metric 'Write requests' of service 'cloudresourcemanager.googleapis.com'.",
            ]
          : fault === "error500"
            ? ["INTERNAL", "Internal error encountered."]
            : ["UNAVAILABLE", "The service is currently unavailable."];
      return json({ error: { code: status, message, status: code } });
    }
    case "azureArm": {
      const [code, message] =
        fault === "throttle"
          ? [
              "SubscriptionRequestsThrottled",
              `Number of requests exceeded. Please try again after '${retryAfter}' seconds.`,
            ]
          : fault === "error500"
            ? ["InternalServerError", "Encountered internal server error."]
            : ["ServiceUnavailable", "The service is temporarily unavailable. Please try again later."];
      return json(
        { error: { code, message } },
        {
          "x-ms-request-id": randomUUID(),
          ...(fault === "throttle" ? { "retry-after": String(retryAfter) } : {}),
        },
      );
    }
    case "astro":
      return json(
        {
          message:
            fault === "throttle"
              ? "Too many requests, please retry later"
              : fault === "error500"
                ? "Internal server error"
                : "Service unavailable",
          requestId: randomUUID(),
          statusCode: status,
        },
        fault === "throttle" ? { "retry-after": String(retryAfter) } : {},
      );
  }
}
