import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { AzureFederationDriver } from "../../provider/grants/azure/driver";
import { httpsServer } from "../support/throwawayTls";

const IDENTITY =
  "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/airflow-id";

/** What a proxy in Azure's place answers: a long page, of which only the title says anything. */
const PROXY_PAGE = [
  "<!DOCTYPE html>",
  "<html><head><title>Blocked by Corporate Proxy</title></head><body>",
  "<h1>Access denied</h1>",
  ...Array.from({ length: 30 }, (_, i) => `<p>Policy line ${i + 1}</p>`),
  "</body></html>",
].join("\n");

describe("Azure Resource Manager answered by something else (over https, trusted as the sandbox's front is)", () => {
  let status = 403;
  let server: Awaited<ReturnType<typeof httpsServer>>;

  beforeAll(async () => {
    // The Azure SDKs send bearer tokens over https only: this server serves the sandbox front's certificate.
    const tls = path.dirname(inject("endpoints").azure.caFile);
    server = await httpsServer(
      {
        cert: readFileSync(path.join(tls, "server.pem"), "utf8"),
        key: readFileSync(path.join(tls, "server.key"), "utf8"),
      },
      {
        handler: (_request, response) => {
          response.writeHead(status, { "content-type": "text/html" });
          response.end(PROXY_PAGE);
        },
      },
    );
  });
  afterAll(() => server?.close());

  it.each([403, 400, 502])("%i: the page's title, not the page", async (answer) => {
    status = answer;
    const driver = new AzureFederationDriver({
      endpoint: server.url,
      accessToken: "sandbox-azure-token",
      callAttempts: 2,
      callRetryDelayMs: 1,
    });
    const message = await driver.inspect(IDENTITY).then(
      () => "no error",
      (e: Error) => e.message,
    );
    expect(message).toContain(`(${answer}: an HTML page: "Blocked by Corporate Proxy")`);
    expect(message).not.toMatch(/<[a-z!/]/i);
    expect(message).not.toContain("Policy line");
  });
});
