import { describe, expect, it } from "vitest";
import { AuthorizationError, RemoteError } from "../../provider/core/errors";
import {
  HTTP_CLASSIFIER,
  HttpTryFailure,
  REMOTE_DEFAULTS,
  Remote,
  RemoteSpec,
  fetchTry,
  unavailable,
} from "../../provider/core/remoteCall";
import { RetriesExhaustedError } from "../../provider/core/retry";

const noSleep = async () => {};

class Refused extends Error {
  constructor(readonly status: number) {
    super(`answered ${status}`);
  }
}
class NotSent extends Error {}

function remote(overrides: Partial<RemoteSpec> = {}) {
  return new Remote({
    defaults: { attempts: 3, baseDelayMs: 1, maxDelayMs: 1, timeoutMs: 1000 },
    tuning: { sleep: noSleep },
    classify: {
      retryable: (e) => e instanceof Refused && e.status >= 500,
      mayHaveLanded: (e) => e instanceof Refused && e.status !== 503,
      notSent: (e) => e instanceof NotSent,
    },
    explain: ({ error, what, target, secrets }) =>
      error instanceof RetriesExhaustedError
        ? unavailable(error, `check ${target}.`, secrets)
        : new RemoteError(`${what} failed: ${(error as Error).message}`),
    ...overrides,
  });
}

describe("one way to call a remote", () => {
  it("counts every try under each of its keys, retries what the remote calls retryable, and explains the end", async () => {
    const r = remote();
    const tries = { mayHaveLanded: false };
    const error = await r
      .call(
        { what: "PUT /x with s3cret", count: ["requests", "writes"], tries, target: "x", secrets: ["s3cret"] },
        () => Promise.reject(new Refused(500)),
      )
      .catch((e: unknown) => e);
    expect(r.calls).toEqual({ requests: 3, writes: 3 });
    expect(tries.mayHaveLanded).toBe(true);
    expect(error).toBeInstanceOf(RemoteError);
    expect((error as AuthorizationError).code).toBe("REMOTE_UNAVAILABLE");
    expect((error as Error).message).toBe(
      "PUT /x with [secret] failed after 3 tries; the last error was: answered 500. check x.",
    );
  });

  it("gives up at once on what is not retryable, and a throttled try has not landed", async () => {
    const r = remote();
    const tries = { mayHaveLanded: false };
    await expect(
      r.call({ what: "GET /y", count: "GetY", tries }, () => Promise.reject(new Refused(404))),
    ).rejects.toThrow("GET /y failed: answered 404");
    expect(r.calls.GetY).toBe(1);
    let attempt = 0;
    const answer = await r.call({ what: "GET /y", count: "GetY", tries }, async () => {
      if (attempt++ === 0) throw new Refused(503);
      return "ok";
    });
    expect(answer).toBe("ok");
    expect(r.calls.GetY).toBe(3);
    expect(tries.mayHaveLanded).toBe(false);
  });

  it("passes a try that was never sent on untouched, and does not count it", async () => {
    const r = remote();
    const notSent = new NotSent("too old");
    await expect(r.call({ what: "w", count: "Write" }, () => Promise.reject(notSent))).rejects.toBe(notSent);
    expect(r.calls.Write).toBe(0);
  });

  it("makes one try where the client makes its own, unless the call brings its own rule", async () => {
    const r = remote({ clientRetries: true });
    await expect(r.call({ what: "GET", count: "Get" }, () => Promise.reject(new Refused(500)))).rejects.toThrow(
      "GET failed: answered 500",
    );
    expect(r.calls.Get).toBe(1);
    const conflict = await r
      .call(
        {
          what: "PUT",
          count: "Put",
          retry: {
            attempts: 4,
            baseDelayMs: 1,
            maxDelayMs: 1,
            retryable: (e) => e instanceof Refused && e.status === 409,
            exhausted: (e) => new AuthorizationError("CONFLICT", e.message),
          },
        },
        () => Promise.reject(new Refused(409)),
      )
      .catch((e: unknown) => e);
    expect(r.calls.Put).toBe(4);
    expect(conflict).toMatchObject({ code: "CONFLICT" });
  });

  it("takes one set of tuning names over each remote's defaults", () => {
    const r = new Remote({
      defaults: REMOTE_DEFAULTS.airflow,
      tuning: { attempts: 2, timeoutMs: 50 },
      classify: HTTP_CLASSIFIER,
      explain: ({ error }) => error,
    });
    expect(r.settings).toMatchObject({ attempts: 2, baseDelayMs: 250, maxDelayMs: 5000, timeoutMs: 50 });
  });

  it("over fetch: 429 and 5xx are worth another try, a refused connection never landed, other answers are returned", async () => {
    const answering = (status: number) => (async () => new Response("{}", { status })) as typeof fetch;
    const refusedConnection = (async () => {
      throw Object.assign(new TypeError("fetch failed"), { cause: { code: "ECONNREFUSED" } });
    }) as typeof fetch;
    const failureOf = (f: typeof fetch) =>
      fetchTry(f, "http://h/x", { method: "POST", headers: {} }, 100).catch((e: unknown) => e);
    const throttled = await failureOf(answering(429));
    const failed = await failureOf(answering(502));
    const unreachable = await failureOf(refusedConnection);
    for (const e of [throttled, failed, unreachable]) expect(HTTP_CLASSIFIER.retryable(e)).toBe(true);
    expect(HTTP_CLASSIFIER.mayHaveLanded(throttled)).toBe(false);
    expect(HTTP_CLASSIFIER.mayHaveLanded(failed)).toBe(true);
    expect(HTTP_CLASSIFIER.mayHaveLanded(unreachable)).toBe(false);
    expect((unreachable as HttpTryFailure).message).toBe("cannot reach http://h/x (ECONNREFUSED)");
    const conflict = await fetchTry(answering(409), "http://h/x", { method: "POST", headers: {} }, 100);
    expect(conflict.status).toBe(409);
  });
});
