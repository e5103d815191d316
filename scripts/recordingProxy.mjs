import http from "node:http";

/** @typedef {number | [least: number, most: number] | undefined} Latency ms added to a request */
/** @typedef {{ method: string, url: string, body: string, forwardedAt?: number }} RecordedRequest */

/**
 * A loopback HTTP proxy in front of a server that records every request it forwards.
 *
 * `latencyMs`: [least, most] ms added to every request, drawn uniformly for each one (a number adds
 * exactly that), split between the way there (held before it is forwarded) and the way back (held
 * before its answer is passed on). `split: "random"` (the default) splits each request at a random
 * point, so nothing that reads and writes through the proxy can count on how a call's latency
 * splits, as nothing can against a real remote. `split: "worst"` puts a read's latency on the way
 * back (the server reads the document as soon as it is asked) and a write's on the way there (it
 * lands as late as it can): the split that lets a write based on an old read land latest. A read
 * is a GET, or an AWS query whose Action starts with Get or List. `requests[i].forwardedAt` is when the server got it (by this clock);
 * `setLatency` changes the latency for the requests that follow.
 * @param {string} target the server's base URL
 * @param {{ latencyMs?: Latency, split?: "random" | "worst" }} [options]
 */
export async function startRecordingProxy(target, { latencyMs, split = "random" } = {}) {
  /** @type {RecordedRequest[]} */
  const requests = [];
  const upstream = new URL(target);
  let least = 0;
  let most = 0;
  const setLatency = (/** @type {Latency} */ ms) => ([least, most] = Array.isArray(ms) ? ms : [ms ?? 0, ms ?? 0]);
  setLatency(latencyMs);
  const hold = (/** @type {number} */ ms) =>
    ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
  const server = http.createServer((req, res) => {
    /** @type {Buffer[]} */
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", async () => {
      const body = Buffer.concat(chunks);
      /** @type {RecordedRequest} */
      const recorded = { method: req.method ?? "", url: req.url ?? "", body: body.toString("utf8") };
      requests.push(recorded);
      const added = least + Math.random() * (most - least);
      const action = new URLSearchParams(recorded.body).get("Action") ?? "";
      const read = recorded.method === "GET" || /^(Get|List)/.test(action);
      const there = split === "worst" ? (read ? 0 : added) : added * Math.random();
      await hold(there);
      recorded.forwardedAt = Date.now();
      const forward = http.request(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: req.url,
          headers: { ...req.headers, host: upstream.host },
        },
        (answer) => {
          /** @type {Buffer[]} */
          const answerChunks = [];
          answer.on("data", (c) => answerChunks.push(c));
          answer.on("end", async () => {
            await hold(added - there);
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            res.end(Buffer.concat(answerChunks));
          });
        },
      );
      forward.on("error", () => res.writeHead(502).end());
      forward.end(body);
    });
  });
  // Keep-alive sockets of clients that are done would hold close() open.
  /** @type {Set<import("node:net").Socket>} */
  const sockets = new Set();
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(undefined)));
  const { port } = /** @type {import("node:net").AddressInfo} */ (server.address());
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    /** Changes the latency added to the requests that come from now on. */
    setLatency,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve(undefined));
        for (const socket of sockets) socket.destroy();
      }),
  };
}
