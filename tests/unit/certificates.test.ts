import https from "node:https";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AstroApi } from "../../provider/astro/api";
import { AirflowConnectionsDriver } from "../../provider/connections/airflow";
import { certificateError } from "../../provider/core/diagnosis";
import { AuthorizationError } from "../../provider/core/errors";
import { withRetries } from "../../provider/core/retry";
import { AwsIamTrustDriver } from "../../provider/grants/aws/driver";
import { AzureFederationDriver } from "../../provider/grants/azure/driver";
import { GcpIamPolicyDriver } from "../../provider/grants/gcp/driver";
import { iamClient } from "../support/aws";
import { KeyPair, ThrowawayTls, httpsServer, makeThrowawayTls } from "../support/throwawayTls";

/**
 * Every remote call path against a real https server whose certificate this process does not
 * trust, as behind a proxy that inspects TLS: refused once, never retried as throttling, and
 * explained with Node's code, the host and the fix.
 */

let tls: ThrowawayTls;
beforeAll(() => {
  tls = makeThrowawayTls();
});
afterAll(() => tls?.remove());

const noSleep = async () => {};
const IDENTITY =
  "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/airflow-id";

/** One read through each client, at `url`; `tries` counts the calls it made (each try is one). */
const clients: Record<string, (url: string) => { call: () => Promise<unknown>; tries: () => number }> = {
  "AWS IAM": (url) => {
    const driver = new AwsIamTrustDriver({
      client: iamClient(url),
      attempts: 4,
      sleep: noSleep,
    });
    return { call: () => driver.trustPolicy("data-reader"), tries: () => driver.calls.GetRole ?? 0 };
  },
  "Google Cloud IAM": (url) => {
    const driver = new GcpIamPolicyDriver({ rootUrl: url, accessToken: "ya29.example", attempts: 4, sleep: noSleep });
    return {
      call: () => driver.policy("projects/customer-data"),
      tries: () => driver.calls["projects.getIamPolicy"] ?? 0,
    };
  },
  "Azure Resource Manager": (url) => {
    const driver = new AzureFederationDriver({
      endpoint: url,
      accessToken: "example",
      callAttempts: 4,
      callRetryDelayMs: 1,
      sleep: noSleep,
    });
    return {
      call: () => driver.inspect(IDENTITY),
      tries: () => Object.values(driver.calls).reduce((a, b) => a + b, 0),
    };
  },
  "Airflow REST API": (url) => {
    const driver = new AirflowConnectionsDriver({ attempts: 4, sleep: noSleep });
    const target = { url, apiVersion: "v2" as const, auth: { kind: "token" as const }, credentials: { token: "tok" } };
    return { call: () => driver.read(target, "aws_data"), tries: () => driver.calls.requests };
  },
  "Astro API": (url) => {
    const api = new AstroApi({ baseUrl: `${url}/v1`, attempts: 4, sleep: noSleep });
    return {
      call: () => api.call("astro-token", "GET", `${url}/v1/organizations/o1`),
      tries: () => api.calls.requests,
    };
  },
};

const refusals: Array<[string, (t: ThrowawayTls) => { pair: KeyPair; chain?: string }, string]> = [
  ["a certificate signed by an unknown CA", (t) => ({ pair: t.signed }), "UNABLE_TO_VERIFY_LEAF_SIGNATURE"],
  ["an unknown CA sent along", (t) => ({ pair: t.signed, chain: t.ca }), "SELF_SIGNED_CERT_IN_CHAIN"],
  ["a self-signed certificate", (t) => ({ pair: t.selfSigned }), "DEPTH_ZERO_SELF_SIGNED_CERT"],
];

async function failureOf(call: () => Promise<unknown>): Promise<AuthorizationError> {
  const error = await call().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AuthorizationError);
  return error as AuthorizationError;
}

describe.each(Object.entries(clients))("%s refuses an untrusted certificate", (_name, client) => {
  it.each(refusals)("%s: once, named, with the fix", async (_case, shape, nodeCode) => {
    const { pair, chain } = shape(tls);
    const server = await httpsServer(pair, chain ? { chain } : {});
    try {
      const { call, tries } = client(server.url);
      const error = await failureOf(call);
      expect(error.code).toBe("CERTIFICATE_REJECTED");
      expect(error.message).toContain(nodeCode);
      expect(error.message).toContain(new URL(server.url).host);
      expect(error.message).toContain("NODE_EXTRA_CA_CERTS=<");
      expect(error.message).not.toMatch(/throttling|run pulumi up again later|Check that Airflow is up/);
      // Refused on the first try: one handshake per call made, no retry.
      expect(tries()).toBeGreaterThan(0);
      expect(server.connections()).toBe(tries());
    } finally {
      await server.close();
    }
  });
});

describe("a certificate from a trusted CA that is still refused", () => {
  /** The AWS driver over a client that trusts the throwaway CA, as NODE_EXTRA_CA_CERTS would make it. */
  const trustingAws = (url: string) => {
    const driver = new AwsIamTrustDriver({
      client: iamClient(url, { requestHandler: { httpsAgent: new https.Agent({ ca: tls.ca }) } }),
      attempts: 4,
      sleep: noSleep,
    });
    return driver;
  };

  it("expired: says so, and that the certificate must be renewed (not NODE_EXTRA_CA_CERTS)", async () => {
    const server = await httpsServer(tls.expired);
    try {
      const driver = trustingAws(server.url);
      const error = await failureOf(() => driver.trustPolicy("data-reader"));
      expect(error.code).toBe("CERTIFICATE_REJECTED");
      expect(error.message).toContain("CERT_HAS_EXPIRED");
      expect(error.message).toContain(new URL(server.url).host);
      expect(error.message).toMatch(/renewed/);
      expect(error.message).not.toContain("NODE_EXTRA_CA_CERTS");
      expect(server.connections()).toBe(1);
    } finally {
      await server.close();
    }
  });

  it("for another name: names the host called and the mismatch", async () => {
    const server = await httpsServer(tls.otherName);
    try {
      const driver = trustingAws(server.url);
      const error = await failureOf(() => driver.trustPolicy("data-reader"));
      expect(error.code).toBe("CERTIFICATE_REJECTED");
      expect(error.message).toContain("ERR_TLS_CERT_ALTNAME_INVALID");
      expect(error.message).toContain(new URL(server.url).host);
      expect(error.message).toMatch(/not valid for the name called/);
      expect(server.connections()).toBe(1);
    } finally {
      await server.close();
    }
  });
});

describe("the one shared classification", () => {
  it("withRetries never retries a refused certificate, whatever the caller's rule says", async () => {
    const server = await httpsServer(tls.selfSigned);
    try {
      let tries = 0;
      const error = await withRetries(
        { attempts: 5, baseDelayMs: 1, maxDelayMs: 1, retryable: () => true, what: "GET /", sleep: noSleep },
        () =>
          new Promise((resolve, reject) => {
            tries++;
            https.get(server.url, resolve).on("error", reject);
          }),
      ).catch((e: unknown) => e);
      expect(tries).toBe(1);
      expect(error).toMatchObject({ code: "DEPTH_ZERO_SELF_SIGNED_CERT" });
      expect(server.connections()).toBe(1);
    } finally {
      await server.close();
    }
  });

  it("the shared helper reads Node's own errors, and leaves other failures alone", async () => {
    const server = await httpsServer(tls.expired);
    try {
      const nodeError = await new Promise<unknown>((resolve) => {
        https.get(server.url, { ca: tls.ca }, () => resolve(undefined)).on("error", resolve);
      });
      expect(certificateError(nodeError, { what: "GET /", url: server.url })?.message).toContain(
        `certificate of ${new URL(server.url).host} (CERT_HAS_EXPIRED`,
      );
      const refused = Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
      expect(certificateError(refused, { what: "GET /", url: server.url })).toBeUndefined();
    } finally {
      await server.close();
    }
  });
});
