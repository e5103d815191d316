import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { iamClient } from "../support/aws";
import { AstroApi } from "../../provider/astro/api";
import { AirflowConnectionsDriver } from "../../provider/connections/airflow";
import { summarizeBody } from "../../provider/core/diagnosis";
import type { ConnectionTarget } from "../../provider/core/types";
import { AwsIamTrustDriver } from "../../provider/grants/aws/driver";
import { GcpIamPolicyDriver } from "../../provider/grants/gcp/driver";

/** What a proxy in the way answers: a page of 40 lines, nothing a person needs but its title. */
const PROXY_PAGE = [
  "<!DOCTYPE html>",
  "<html>",
  "<head>",
  "  <title>403 Forbidden - Corporate Proxy</title>",
  "  <style>body { font-family: sans-serif; }</style>",
  "</head>",
  "<body>",
  "  <h1>Access denied</h1>",
  ...Array.from({ length: 30 }, (_, i) => `  <p>Policy line ${i + 1}: this site is blocked by your administrator.</p>`),
  "</body>",
  "</html>",
].join("\n");

/** Airflow 2's webserver, asked for a route it does not have (Airflow 3's /api/v2, /auth/token). */
const AIRFLOW_2_NOT_FOUND = `

<!DOCTYPE html>
<html lang="en">
  <head>
    <title>Airflow 404</title>
    <link rel="icon" type="image/png" href="/static/pin_32.png">
  </head>
  <body>
    <div style="font-family: verdana; text-align: center; margin-top: 200px;">
      <img src="/static/pin_100.png" width="50px" alt="pin-logo" />
      <h1>Airflow 404</h1>
      <p>Page cannot be found.</p>
      <a href="/">Return to the main page</a>
      <p></p>
    </div>
  </body>
</html>`;

type Route = (request: http.IncomingMessage) => { status: number; type: string; body: string };

const servers: http.Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

/** A local server that answers every request by `route`; each request is counted. */
async function serve(route: Route): Promise<{ url: string; requests: string[] }> {
  const requests: string[] = [];
  const server = http.createServer((request, response) => {
    requests.push(`${request.method} ${request.url}`);
    request.resume();
    const { status, type, body } = route(request);
    response.writeHead(status, { "content-type": type });
    response.end(body);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests };
}

async function messageOf(work: () => Promise<unknown>): Promise<string> {
  const error = await work().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(Error);
  return (error as Error).message;
}

/** A body is summarised, never dumped: no markup, no line breaks, short. */
function expectSummarised(message: string) {
  expect(message).not.toMatch(/<[a-z!/]/i);
  expect(message).not.toContain("\n");
  expect(message).not.toContain("Policy line 2");
  expect(message.length).toBeLessThan(700);
}

const noSleep = async () => {};

describe("the shared body summariser", () => {
  it("takes a JSON body's own words", () => {
    expect(
      summarizeBody(
        '{"detail":"The Connection with connection_id: `x` was not found","status":404,"title":"Connection not found","type":"about:blank"}',
        "application/problem+json",
      ),
    ).toBe("Connection not found: The Connection with connection_id: `x` was not found");
    expect(
      summarizeBody({
        error: { code: 403, status: "PERMISSION_DENIED", message: "The caller does not have permission" },
      }),
    ).toBe("PERMISSION_DENIED: The caller does not have permission");
    expect(summarizeBody('{"message":"invalid request","fieldErrors":["objectKey: must match ^[A-Za-z]"]}')).toBe(
      "invalid request: objectKey: must match ^[A-Za-z]",
    );
    expect(
      summarizeBody(
        '{"detail":[{"loc":["body","conn_type"],"msg":"Field required","type":"missing"}]}',
        "application/json",
      ),
    ).toBe("body.conn_type: Field required");
    expect(
      summarizeBody(
        '{"error":"/api/v1 has been removed in Airflow 3, please use its upgraded version /api/v2 instead."}',
      ),
    ).toBe("/api/v1 has been removed in Airflow 3, please use its upgraded version /api/v2 instead.");
  });

  it("gives an HTML page's title, or its first heading", () => {
    expect(summarizeBody(PROXY_PAGE, "text/html")).toBe('an HTML page: "403 Forbidden - Corporate Proxy"');
    expect(summarizeBody(AIRFLOW_2_NOT_FOUND, "")).toBe('an HTML page: "Airflow 404"');
    expect(summarizeBody("<html><body><h2>Bad &amp; gone</h2><p>x</p></body></html>", "text/html")).toBe(
      'an HTML page: "Bad & gone"',
    );
  });

  it("reads an XML error's code and message, and cuts anything else to about 200 characters", () => {
    expect(
      summarizeBody(
        '<?xml version="1.0"?><ErrorResponse><Error><Code>Throttling</Code><Message>Rate exceeded</Message></Error></ErrorResponse>',
        "text/xml",
      ),
    ).toBe("Throttling: Rate exceeded");
    const long = `upstream connect error or disconnect/reset before headers.\n${"x".repeat(1000)}`;
    const summary = summarizeBody(long, "text/plain");
    expect(summary.length).toBeLessThanOrEqual(200);
    expect(summary).toMatch(/^upstream connect error or disconnect\/reset before headers\. x+…$/);
    expect(summarizeBody("", "text/plain")).toBe("(no body)");
  });
});

describe("every client summarises a page that is not its API's answer", () => {
  const proxy: Route = () => ({ status: 403, type: "text/html; charset=utf-8", body: PROXY_PAGE });

  it("the Astro API", async () => {
    const { url } = await serve(proxy);
    const api = new AstroApi({ baseUrl: `${url}/v1`, sleep: noSleep });
    const message = await messageOf(() => api.call("astro-token", "GET", `${url}/v1/organizations/o1`));
    expectSummarised(message);
    expect(message).toContain('answered 403: an HTML page: "403 Forbidden - Corporate Proxy"');
  });

  it("Google Cloud, refused and failing", async () => {
    const { url } = await serve(proxy);
    const driver = new GcpIamPolicyDriver({ rootUrl: url, accessToken: "ya29.example", attempts: 2, sleep: noSleep });
    const refused = await messageOf(() =>
      driver.policy("projects/-/serviceAccounts/reader@p-123456.iam.gserviceaccount.com"),
    );
    expectSummarised(refused);
    expect(refused).toContain('(403: an HTML page: "403 Forbidden - Corporate Proxy")');

    const { url: failing } = await serve(() => ({ status: 502, type: "text/html", body: PROXY_PAGE }));
    const retried = new GcpIamPolicyDriver({
      rootUrl: failing,
      accessToken: "ya29.example",
      attempts: 2,
      sleep: noSleep,
    });
    const exhausted = await messageOf(() => retried.policy("projects/customer-data"));
    expectSummarised(exhausted);
    expect(exhausted).toContain(
      'failed after 2 tries; the last error was: an HTML page: "403 Forbidden - Corporate Proxy"',
    );
  });

  it("AWS IAM, whose SDK keeps only the status and type of such a body", async () => {
    const { url } = await serve(proxy);
    const driver = new AwsIamTrustDriver({
      client: iamClient(url),
      sleep: noSleep,
    });
    const message = await messageOf(() => driver.trustPolicy("data-reader"));
    expectSummarised(message);
    expect(message).toContain("the answer (403, text/html; charset=utf-8) is not an AWS error");
    expect(message).not.toContain("Unknown: Unknown");
  });

  it("the Airflow REST API", async () => {
    const { url } = await serve(proxy);
    const driver = new AirflowConnectionsDriver({ sleep: noSleep });
    const target = {
      url,
      apiVersion: "v2" as const,
      auth: { kind: "token" as const },
      credentials: { token: "tok-1234" },
    };
    const message = await messageOf(() => driver.read(target, "aws_data"));
    expectSummarised(message);
    expect(message).toContain('answered 403: an HTML page: "403 Forbidden - Corporate Proxy"');
  });
});

describe("an Airflow asked for the API version it does not serve", () => {
  /** Airflow 2's webserver: /api/v1 is its API; anything else under /api, and /auth/token, is its 404 page. */
  const airflow2: Route = (request) =>
    request.url?.startsWith("/api/v1/connections")
      ? {
          status: 404,
          type: "application/problem+json",
          body: JSON.stringify({
            detail: "The Connection with connection_id: `x` was not found",
            status: 404,
            title: "Connection not found",
            type: "about:blank",
          }),
        }
      : { status: 404, type: "text/html; charset=utf-8", body: AIRFLOW_2_NOT_FOUND };
  /** Airflow 3's API server on /api/v1. */
  const airflow3: Route = (request) =>
    request.url?.startsWith("/api/v1/")
      ? {
          status: 404,
          type: "application/json",
          body: '{"error":"/api/v1 has been removed in Airflow 3, please use its upgraded version /api/v2 instead."}',
        }
      : {
          status: 404,
          type: "application/json",
          body: '{"detail":"The Connection with connection_id: `x` was not found"}',
        };

  const payload = { conn_type: "aws", description: null, extra: { region_name: "us-east-1" } };
  const target = (url: string, overrides: Partial<ConnectionTarget> = {}): ConnectionTarget => ({
    url,
    apiVersion: "v2",
    auth: { kind: "token" },
    credentials: { token: "tok-1234" },
    ...overrides,
  });

  it("v2 on Airflow 2: every operation says so and suggests v1 or detect, without the page", async () => {
    const { url } = await serve(airflow2);
    const driver = new AirflowConnectionsDriver({ sleep: noSleep });
    const operations: Array<[string, () => Promise<unknown>]> = [
      ["read", () => driver.read(target(url), "aws_data")],
      // A create used to pass here, as if written: Airflow 2's 404 page is not a connection's answer.
      ["create", () => driver.create(target(url), "aws_data", payload)],
      ["update", () => driver.update(target(url), "aws_data", payload)],
      ["remove", () => driver.remove(target(url), "aws_data")],
      [
        "password",
        () =>
          driver.read(
            target(url, { auth: { kind: "password", username: "admin" }, credentials: { password: "pw-5678" } }),
            "aws_data",
          ),
      ],
    ];
    for (const [name, operation] of operations) {
      const message = await messageOf(operation);
      expectSummarised(message);
      expect(message, name).toContain(`the Airflow at ${url} does not serve API v2 (Airflow 3's REST API)`);
      expect(message, name).toContain('set connection.airflow.apiVersion: "v1", or "detect"');
      expect(message, name).toContain('an HTML page: "Airflow 404"');
    }
  });

  it("v1 on Airflow 3 says so and suggests v2 or detect; a connection that is not there is still just absent", async () => {
    const { url } = await serve(airflow3);
    const driver = new AirflowConnectionsDriver({ sleep: noSleep });
    const message = await messageOf(() => driver.read(target(url, { apiVersion: "v1" }), "aws_data"));
    expect(message).toContain("does not serve API v1 (Airflow 2's REST API)");
    expect(message).toContain('set connection.airflow.apiVersion: "v2", or "detect"');
    expect(message).toContain("/api/v1 has been removed in Airflow 3");
    expect(await driver.read(target(url), "aws_data")).toBeUndefined();
    const { url: v1 } = await serve(airflow2);
    expect(await driver.read(target(v1, { apiVersion: "v1" }), "aws_data")).toBeUndefined();
  });
});
