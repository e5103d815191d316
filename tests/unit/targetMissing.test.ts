import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { iamClient } from "../support/aws";
import { AirflowConnectionsDriver, airflowSink } from "../../provider/connections/airflow";
import { AuthorizationError } from "../../provider/core/errors";
import { ProviderMethods, createProvider } from "../../provider/core/provider";
import type { AuthorizationState, GrantDriver, PlannedAuthorization } from "../../provider/core/types";
import { awsGrantDriver } from "../../provider/grants/aws";
import { AwsIamTrustDriver } from "../../provider/grants/aws/driver";
import { GcpIamPolicyDriver } from "../../provider/grants/gcp/driver";
import { GRANT_PLANNERS } from "../../provider/grants";
import { parseInputs } from "../../provider/inputs";
import { MemoryConnections, MemoryTrust } from "../support/memoryDrivers";
import { foreignPolicy, gcpInputs, rawInputs } from "../support/fixtures";

/**
 * A TARGET_MISSING's advice fits the operation that met it: on create and update the target does
 * not exist or these credentials cannot see it, and how to check; `pulumi state delete` only on
 * refresh and delete, where the target may have been deleted on purpose.
 */

const servers: http.Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

async function serve(status: number, type: string, body: string): Promise<string> {
  const server = http.createServer((request, response) => {
    request.resume();
    response.writeHead(status, { "content-type": type });
    response.end(body);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** IAM's answer for a role that does not exist. */
const NO_SUCH_ROLE = `<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
  <Error><Type>Sender</Type><Code>NoSuchEntity</Code><Message>The role with name data-reader cannot be found.</Message></Error>
  <RequestId>4a5b6c7d</RequestId>
</ErrorResponse>`;

const noSleep = async () => {};

function providerOver(grants: Record<string, GrantDriver>, connections = new MemoryConnections()): ProviderMethods {
  return createProvider({
    planners: GRANT_PLANNERS,
    loadParser: () => parseInputs,
    makeDrivers: () => ({ grants, connections: { airflow: airflowSink(connections) } }),
    env: {},
  });
}

async function plan(provider: ProviderMethods, raw: Record<string, unknown>): Promise<PlannedAuthorization> {
  const { inputs, failures } = await provider.check({}, raw);
  expect(failures).toBeUndefined();
  return inputs as unknown as PlannedAuthorization;
}

async function failure(work: Promise<unknown>): Promise<AuthorizationError> {
  const error = await work.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AuthorizationError);
  expect((error as AuthorizationError).code).toBe("TARGET_MISSING");
  return error as AuthorizationError;
}

/** The advice of each operation, for a resource whose target is missing. */
async function adviceOf(provider: ProviderMethods, planned: PlannedAuthorization) {
  const state = { ...planned, resolved: {} } as AuthorizationState;
  return {
    create: (await failure(provider.create(planned))).message,
    update: (await failure(provider.update("id", state, planned))).message,
    read: (await failure(provider.read("id", state))).message,
    delete: (await failure(provider.delete("id", state))).message,
  };
}

function expectAdviceFits(advice: Awaited<ReturnType<typeof adviceOf>>, check: string) {
  for (const op of ["create", "update"] as const) {
    expect(advice[op], op).toMatch(/^TARGET_MISSING: .* does not exist, or is not visible with the credentials in use/);
    expect(advice[op], op).toContain(`check with ${check}`);
    expect(advice[op], op).not.toContain("state delete");
  }
  for (const op of ["read", "delete"] as const) {
    expect(advice[op], op).toMatch(/does not exist any more, or is not visible with the credentials in use/);
    expect(advice[op], op).toContain("If it was deleted on purpose");
    expect(advice[op], op).toContain("pulumi state delete <urn>");
    expect(advice[op], op).toContain(`check with ${check}`);
  }
}

describe("TARGET_MISSING advice fits the operation", () => {
  it("an IAM role that does not exist (IAM's own NoSuchEntity answer)", async () => {
    const url = await serve(404, "text/xml", NO_SUCH_ROLE);
    const driver = new AwsIamTrustDriver({
      client: iamClient(url),
      sleep: noSleep,
    });
    const provider = providerOver({ aws: awsGrantDriver(driver) as GrantDriver });
    const advice = await adviceOf(provider, await plan(provider, rawInputs()));
    expectAdviceFits(advice, "aws iam get-role --role-name data-reader");
    expect(advice.create).toContain("IAM role data-reader does not exist");
    expect(advice.create).toContain("This resource never creates a role: create it, or fix aws.targetRole");
  });

  it("a GCP service account that does not exist (404)", async () => {
    const url = await serve(
      404,
      "application/json",
      JSON.stringify({ error: { code: 404, status: "NOT_FOUND", message: "Unknown service account" } }),
    );
    const driver = new GcpIamPolicyDriver({ rootUrl: url, accessToken: "ya29.example", sleep: noSleep });
    const provider = providerOver({ gcp: driver as GrantDriver });
    const sa = "reader@customer-data.iam.gserviceaccount.com";
    const advice = await adviceOf(
      provider,
      await plan(provider, gcpInputs({ project: undefined, grant: { kind: "impersonation", serviceAccount: sa } })),
    );
    expectAdviceFits(advice, `gcloud iam service-accounts get-iam-policy ${sa}`);
    expect(advice.create).toContain("answered 404: Unknown service account");
    expect(advice.create).toContain("fix gcp.grant.serviceAccount");
  });

  it("an Airflow that is not at the URL any more", async () => {
    const url = await serve(404, "text/html", "<html><head><title>Not Found</title></head></html>");
    const trust = new MemoryTrust();
    trust.addRole("data-reader", foreignPolicy());
    const connections = new AirflowConnectionsDriver({ sleep: noSleep });
    const provider = createProvider({
      planners: GRANT_PLANNERS,
      loadParser: () => parseInputs,
      makeDrivers: () => ({
        grants: { aws: awsGrantDriver(trust) as GrantDriver },
        connections: { airflow: airflowSink(connections) },
      }),
      env: { AIRFLOW_API_TOKEN: "tok-1234" },
    });
    const planned = await plan(
      provider,
      rawInputs({ connection: { connectionId: "aws_data", airflow: { url, auth: { kind: "token" } } } }),
    );
    const create = (await failure(provider.create(planned))).message;
    expect(create).toContain(`the Airflow REST API at ${url} does not exist, or is not visible`);
    expect(create).toContain("never creates an Airflow");
    expect(create).not.toContain("state delete");
    const deleted = (await failure(provider.delete("id", { ...planned, resolved: {} } as AuthorizationState))).message;
    expect(deleted).toContain("pulumi state delete <urn>");
  });

  it("an error built from a message keeps it, whatever the operation", async () => {
    const trust = new MemoryTrust();
    const provider = providerOver({ aws: awsGrantDriver(trust) as GrantDriver });
    const planned = await plan(provider, rawInputs());
    expect((await failure(provider.create(planned))).message).toBe(
      "TARGET_MISSING: IAM role data-reader does not exist",
    );
  });
});
