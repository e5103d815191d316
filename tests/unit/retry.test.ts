import { describe, expect, it } from "vitest";
import { isRetryableAwsError } from "../../provider/grants/aws/driver";
import { withLock } from "../../provider/core/lock";
import { RetriesExhaustedError, withRetries } from "../../provider/core/retry";

function awsError(name: string, message = "x", status?: number) {
  return Object.assign(new Error(message), { name, $metadata: { httpStatusCode: status } });
}

describe("retries", () => {
  it("retries what is retryable up to the bound, and says how many tries and what failed", async () => {
    const delays: number[] = [];
    let tries = 0;
    const error = await withRetries(
      {
        attempts: 4,
        baseDelayMs: 100,
        maxDelayMs: 250,
        retryable: () => true,
        what: "GetRole r1",
        sleep: async (ms) => void delays.push(ms),
      },
      async () => {
        tries++;
        throw awsError("Throttling", "Rate exceeded", 400);
      },
    ).catch((e: unknown) => e);
    expect(tries).toBe(4);
    expect(error).toBeInstanceOf(RetriesExhaustedError);
    expect((error as Error).message).toBe("GetRole r1 failed after 4 tries; the last error was: Rate exceeded");
    expect(delays).toHaveLength(3);
    for (const [i, d] of delays.entries()) expect(d).toBeLessThanOrEqual(Math.min(250, 100 * 2 ** i));
  });

  it("gives up at once on what retrying cannot fix, and returns the first success", async () => {
    let tries = 0;
    await expect(
      withRetries({ attempts: 5, baseDelayMs: 1, maxDelayMs: 1, retryable: () => false, what: "x" }, async () => {
        tries++;
        throw new Error("MalformedPolicyDocument");
      }),
    ).rejects.toThrow("MalformedPolicyDocument");
    expect(tries).toBe(1);
    let calls = 0;
    expect(
      await withRetries({ attempts: 5, baseDelayMs: 1, maxDelayMs: 1, retryable: () => true, what: "x" }, async () =>
        ++calls < 3 ? Promise.reject(new Error("flaky")) : "ok",
      ),
    ).toBe("ok");
  });

  it("classifies AWS errors: throttling, 5xx and a just-created principal are transient", () => {
    expect(isRetryableAwsError(awsError("ThrottlingException", "Rate exceeded", 400))).toBe(true);
    expect(isRetryableAwsError(awsError("ServiceFailure", "boom", 500))).toBe(true);
    expect(isRetryableAwsError(awsError("Whatever", "bad gateway", 502))).toBe(true);
    expect(
      isRetryableAwsError(
        awsError("MalformedPolicyDocumentException", 'Invalid principal in policy: "AWS":"arn:…"', 400),
      ),
    ).toBe(true);
    expect(isRetryableAwsError(awsError("MalformedPolicyDocumentException", "Syntax errors in policy.", 400))).toBe(
      false,
    );
    expect(isRetryableAwsError(awsError("LimitExceededException", "Cannot exceed quota for ACLSizePerRole", 409))).toBe(
      false,
    );
    expect(isRetryableAwsError(awsError("NoSuchEntityException", "not found", 404))).toBe(false);
  });
});

describe("per-key lock", () => {
  it("runs work on one key one at a time, and other keys alongside", async () => {
    const log: string[] = [];
    const step = (key: string, name: string, ms: number) =>
      withLock(key, async () => {
        log.push(`${name}+`);
        await new Promise((r) => setTimeout(r, ms));
        log.push(`${name}-`);
      });
    await Promise.all([step("role-a", "a1", 20), step("role-a", "a2", 1), step("role-b", "b1", 5)]);
    expect(log.indexOf("a1-")).toBeLessThan(log.indexOf("a2+"));
    expect(log.indexOf("b1+")).toBeLessThan(log.indexOf("a1-"));
  });

  it("keeps its table on globalThis, shared by every copy of the module", async () => {
    await withLock("table-check", async () => undefined);
    const table = (globalThis as Record<symbol, unknown>)[Symbol.for("pulumi-deployment-authorization/locks")];
    expect(table).toBeInstanceOf(Map);
  });
});
