import { describe, expect, it } from "vitest";
import { createProvider } from "../../provider/core/provider";
import { GRANT_PLANNERS } from "../../provider/grants";
import { parseInputs } from "../../provider/inputs";
import { azureInputs, gcpInputs, rawInputs } from "../support/fixtures";

/**
 * What `pulumi up` prints for bad inputs. The engine prints a failure as "property <p> value {<v>}
 * has a problem: <reason>", looking <p> up among the top-level inputs only: for a nested path it
 * found nothing and printed `value {<nil>}`. Each failure now reaches it as one line of its own
 * with the path, the value given (secrets masked) and what a valid value looks like.
 */

const provider = createProvider({
  planners: GRANT_PLANNERS,
  loadParser: () => parseInputs,
  makeDrivers: () => {
    throw new Error("check makes no remote call");
  },
  env: {},
});

async function linesOf(raw: Record<string, unknown>): Promise<string[]> {
  const { failures } = await provider.check({}, raw);
  expect(failures?.length).toBeGreaterThan(0);
  // No property for the engine to look up (and print as <nil>): the line says it all.
  expect(failures!.every((f) => f.property === "")).toBe(true);
  return failures!.map((f) => f.reason);
}

describe("check failures, as the engine prints them", () => {
  it("a deeply nested Azure roleAssignment field: its path, the bad value, and what a valid one looks like", async () => {
    const lines = await linesOf(
      azureInputs({ roleAssignment: { scope: "storage-account-x", role: 42 } }) as Record<string, unknown>,
    );
    expect(lines).toContainEqual(
      expect.stringMatching(
        /^azure\.roleAssignment\.scope = "storage-account-x": must be a resource id .*such as \/subscriptions\/<GUID>\/resourceGroups\/data\/providers\/Microsoft\.Storage\/storageAccounts\/lake$/,
      ),
    );
    expect(lines).toContain("azure.roleAssignment.role = 42: must be a role name or role definition id as a string");
  });

  it("a GCP grant kind, and an AWS trust field", async () => {
    const gcp = await linesOf(gcpInputs({ grant: { kind: "projectRol", role: "roles/bigquery.dataViewer" } }));
    expect(gcp).toEqual([
      'gcp.grant.kind = "projectRol": must be {kind: "projectRole", role}, {kind: "impersonation", serviceAccount} or ' +
        '{kind: "customerManagedIdentity", serviceAccount, workloadIdentityPool, namespace}',
    ]);
    const { workloadIdentity: _none, ...raw } = rawInputs();
    const aws = await linesOf({
      ...raw,
      aws: {
        targetRole: "arn:aws:iam::123456789012:role/data-reader",
        region: "us-east-1",
        trust: { kind: "webIdentity", issuerUrl: "http://oidc.example.com", namespace: "Not A Namespace" },
      },
    });
    expect(aws).toEqual([
      expect.stringMatching(
        /^aws\.trust\.issuerUrl = "http:\/\/oidc\.example\.com": must be an https URL .*such as https:\/\/oidc\.eks\.us-west-2\.amazonaws\.com\/id\/EXAMPLED539D4633E53DE1B71$/,
      ),
      expect.stringMatching(
        /^aws\.trust\.namespace = "Not A Namespace": must be a Kubernetes namespace name .*such as astronomer-celestial-galaxy-1234$/,
      ),
    ]);
  });

  it("a missing field says so, and the inputs as a whole are not echoed", async () => {
    const lines = await linesOf(rawInputs({ aws: { targetRole: "data-reader" }, extraThing: 1 }));
    expect(lines).toContain(
      "aws.region (not given): is required: pass aws.region or set the stack config aws:region (for example us-east-1)",
    );
    expect(lines).toContain("(inputs): unknown properties extraThing; remove them (check the spelling)");
  });

  it("never shows a secret: credentials, token and password fields, secret-bearing extra keys, a URL's password", async () => {
    const lines = await linesOf(
      rawInputs({
        credentials: { token: 12345678, password: "" },
        connection: {
          connectionId: "aws_data",
          extra: { password: "hunter2-extra", private_key: "-----BEGIN KEY-----", endpoint_url: ["not", "scalar"] },
          airflow: { url: "http://admin:hunter22-url@airflow:8080", auth: { kind: "token", token: "sekrit-token" } },
        },
        deployment: {
          organizationId: "o",
          deploymentId: "d",
          secretsBackend: { kwargs: { client_secret: "kw-secret-1" } },
        },
      }),
    );
    const all = lines.join("\n");
    for (const secret of ["12345678", "hunter2-extra", "BEGIN KEY", "hunter22-url", "sekrit-token", "kw-secret-1"]) {
      expect(all).not.toContain(secret);
    }
    expect(lines).toContain("credentials.token = ***: must be a string");
    expect(lines).toContain("credentials.password = ***: must not be empty");
    expect(lines).toContainEqual(expect.stringMatching(/^connection\.extra\.password = \*\*\*: looks like a secret/));
    expect(lines).toContainEqual(
      expect.stringMatching(/^connection\.extra\.private_key = \*\*\*: looks like a secret/),
    );
    expect(lines).toContain(
      'connection.extra.endpoint_url = ["not","scalar"]: must be a string, a number, a boolean or null (extra values are scalars)',
    );
    expect(lines).toContainEqual(
      expect.stringMatching(
        /^connection\.airflow\.url = "http:\/\/admin:\*\*\*@airflow:8080": must be an http\(s\) URL/,
      ),
    );
    expect(lines).toContain(
      'connection.airflow.auth = {"kind":"token","token":"***"}: unknown properties token; remove them (check the spelling)',
    );
  });

  it("says what a valid value looks like where zod would only name a type", async () => {
    const { failures } = await provider.check(
      {},
      rawInputs({
        aws: { targetRole: "data-reader", region: "us-east-1", adoptExistingTrust: "yes" },
        connection: { connectionId: 7, airflow: { url: "http://x", auth: { kind: "password", username: "" } } },
      }),
    );
    const lines = failures!.map((f) => f.reason);
    expect(lines.join("\n")).not.toMatch(/Invalid input|Too small|expected string, received/);
    expect(lines).toContain('aws.adoptExistingTrust = "yes": must be true or false');
    expect(lines).toContain('connection.airflow.auth.username = "": must be a non-empty user name');
  });

  it("parseInputs keeps the structured failure, path and value apart", () => {
    const result = parseInputs(azureInputs({ roleAssignment: { scope: "x", role: 42 } }));
    expect(result.ok).toBe(false);
    expect(result.ok ? [] : result.failures).toContainEqual({
      property: "azure.roleAssignment.role",
      reason: "must be a role name or role definition id as a string",
      given: "42",
    });
  });
});
