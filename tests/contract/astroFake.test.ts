import { describe, expect, inject, it } from "vitest";
import {
  AstroApiError,
  type CreateEnvironmentObjectRequest,
  type Deployment,
  type UpdateHostedDeploymentRequest,
  astroClient,
  callCounts,
  injectFault,
  registerToken,
  seedDeployment,
  storedDeployment,
  storedEnvironmentObject,
  uniqueKey,
  uniqueToken,
  updateRequestFrom,
} from "../support/astro";

// Every API call goes through Prism (url, the API base …/v1), which checks it against
// sandbox/fakes/astro/openapi.yaml; the admin API is on the fake itself (fakeUrl). Each test seeds
// its own Organization, Workspace and Deployments, so the tests run in any order.
const astro = () => inject("endpoints").astro;
const client = (token: string | null = astro().token) => astroClient(astro().url, token);

/** The error a call failed with. */
async function failure(call: Promise<unknown>): Promise<AstroApiError> {
  const e = await call.then(
    () => expect.unreachable("the call succeeded"),
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(AstroApiError);
  return e as AstroApiError;
}

/** Astro's error body: `{message, requestId, statusCode, fieldErrors?}`, with the fields named. */
function expectAstroError(e: AstroApiError, status: number, fields: string[] = []) {
  expect(e.status).toBe(status);
  expect(e.headers.get("sl-violations")).toBeNull();
  expect(e.error).toMatchObject({ message: expect.any(String), requestId: expect.any(String), statusCode: status });
  if (fields.length) expect(e.error.fieldErrors?.map((f) => f.field)).toEqual(expect.arrayContaining(fields));
}

const hosted = (d: Deployment) => updateRequestFrom(d) as UpdateHostedDeploymentRequest;

async function seeded(options: Parameters<typeof seedDeployment>[1] = {}) {
  const stored = await seedDeployment(astro().fakeUrl, options);
  const org = stored.organizationId;
  return { stored, org, read: () => client().getDeployment(org, stored.id) };
}

function connection(scope: "DEPLOYMENT" | "WORKSPACE", scopeEntityId: string, objectKey = uniqueKey()) {
  return {
    objectKey,
    objectType: "CONNECTION",
    scope,
    scopeEntityId,
    connection: { type: "aws", extra: { region_name: "eu-west-1" } },
  } satisfies CreateEnvironmentObjectRequest;
}

describe("Astro Platform API fake, through Prism", () => {
  describe("GetDeployment", () => {
    it("answers the documented shape: default identity, namespace, issuer, Airflow 3 API URL, no secret values", async () => {
      const { stored, org, read } = await seeded({
        cloudProvider: "AWS",
        airflowVersion: 3,
        environmentVariables: [
          { key: "PLAIN", value: "visible" },
          { key: "TOKEN", value: "s3cr3t", isSecret: true },
        ],
      });
      const d = await read();
      expect(d).toMatchObject({
        id: stored.id,
        organizationId: org,
        workspaceId: stored.workspaceId,
        type: "STANDARD",
        cloudProvider: "AWS",
        executor: "CELERY",
        status: "HEALTHY",
        namespace: stored.namespace,
        effectiveWorkloadIdentity: `arn:aws:iam::${stored.dataplaneAccountId}:role/astro-${stored.namespace}`,
        airflowVersion: expect.stringMatching(/^3\./),
      });
      expect(d.namespace).toMatch(/^[a-z]+-[a-z]+-\d{4}$/);
      expect(d.oidcIssuerUrl).toMatch(/^https:\/\/oidc\.eks\.us-east-1\.amazonaws\.com\/id\/[0-9A-F]{32}$/);
      expect(d.webServerAirflowApiUrl).toMatch(/^[a-z0-9.-]+\.astronomer\.run\/d[a-z0-9]+\/api\/v2$/);
      expect(d.apiUrl).toBe(`https://${d.webServerAirflowApiUrl}`);
      expect(d).not.toHaveProperty("workloadIdentity"); // not a field of the Deployment response
      expect(d.environmentVariables).toEqual([
        { key: "PLAIN", isSecret: false, value: "visible", updatedAt: expect.any(String) },
        { key: "TOKEN", isSecret: true, updatedAt: expect.any(String) },
      ]);
    });

    it("answers GCP's default identity and /api/v1 for Airflow 2; cloudProvider only for Standard Deployments", async () => {
      const { stored, read } = await seeded({ cloudProvider: "GCP", airflowVersion: 2, type: "DEDICATED" });
      const d = await read();
      expect(d.effectiveWorkloadIdentity).toBe(
        `astro-${stored.namespace}@${stored.dataplaneProjectId}.iam.gserviceaccount.com`,
      );
      expect(d.webServerAirflowApiUrl).toMatch(/\/api\/v1$/);
      expect(d.airflowVersion).toMatch(/^2\./);
      expect(d.oidcIssuerUrl).toContain(`/projects/${stored.dataplaneProjectId}/`);
      // As published: cloudProvider "Only for Standard Deployment", region and clusterName only for the others.
      expect(d).not.toHaveProperty("cloudProvider");
      expect(d).toMatchObject({ type: "DEDICATED", region: "us-central1", clusterName: expect.any(String) });
    });

    it("answers no effectiveWorkloadIdentity on Azure unless one was set up", async () => {
      const { read } = await seeded({ cloudProvider: "AZURE" });
      expect(await read()).not.toHaveProperty("effectiveWorkloadIdentity");
      const withIdentity = await seeded({ cloudProvider: "AZURE", defaultWorkloadIdentity: "3f8c4a1e-client-id" });
      expect((await withIdentity.read()).effectiveWorkloadIdentity).toBe("3f8c4a1e-client-id");
    });
  });

  describe("UpdateDeployment", () => {
    it("replaces the whole Deployment: secrets sent without a value keep it, variables not sent are removed", async () => {
      const { stored, org, read } = await seeded({
        environmentVariables: [
          { key: "KEEP", value: "1" },
          { key: "SECRET", value: "s3cr3t", isSecret: true },
          { key: "GONE", value: "x" },
        ],
      });
      const body = hosted(await read());
      body.environmentVariables = [
        ...body.environmentVariables.filter((v) => v.key !== "GONE"),
        { key: "NEW", value: "2", isSecret: false },
      ];
      body.name = "renamed";
      const updated = await client().updateDeployment(org, stored.id, body);
      expect(updated.name).toBe("renamed");
      expect(updated.environmentVariables?.map((v) => [v.key, v.isSecret, v.value])).toEqual([
        ["KEEP", false, "1"],
        ["SECRET", true, undefined],
        ["NEW", false, "2"],
      ]);
      const raw = await storedDeployment(astro().fakeUrl, stored.id);
      expect(raw.environmentVariables.map((v) => [v.key, v.value])).toEqual([
        ["KEEP", "1"],
        ["SECRET", "s3cr3t"],
        ["NEW", "2"],
      ]);
      expect(updated.updatedBy).toMatchObject({ subjectType: "SERVICEKEY" });
    });

    it("takes the body of each Deployment type through the narrowed oneOf (Standard, Dedicated, Hybrid)", async () => {
      for (const type of ["STANDARD", "DEDICATED", "HYBRID"] as const) {
        const { stored, org, read } = await seeded({ type });
        const body = { ...updateRequestFrom(await read()), name: `${type.toLowerCase()}-renamed` };
        const updated = await client().updateDeployment(org, stored.id, body);
        expect(updated).toMatchObject({ type, name: `${type.toLowerCase()}-renamed` });
      }
    });

    it("needs every required field: Prism refuses a body without one (422), the fake answers 400 with fieldErrors", async () => {
      const { stored, org, read } = await seeded();
      const { isHighAvailability: _dropped, ...incomplete } = hosted(await read());
      const path = `/organizations/${org}/deployments/${stored.id}`;

      const refused = await failure(client().request("POST", path, incomplete));
      expect(refused.status).toBe(422);
      expect(JSON.stringify(refused.body)).toContain("isHighAvailability");
      expect(await callCounts(astro().fakeUrl, { deploymentId: stored.id, operation: "UpdateDeployment" })).toEqual({});

      // The fake itself, called directly, checks the same.
      const direct = await failure(astroClient(`${astro().fakeUrl}/v1`).request("POST", path, incomplete));
      expectAstroError(direct, 400, ["isHighAvailability"]);
      expect(direct.error.fieldErrors).toContainEqual({
        field: "isHighAvailability",
        code: "required",
        message: expect.any(String),
      });
    });

    it("answers 400 with a fieldError for each rule a valid-looking body breaks, and changes nothing", async () => {
      const { stored, org, read } = await seeded({ cloudProvider: "AWS" });
      const body = {
        ...hosted(await read()),
        type: "DEDICATED" as const, // a Standard Deployment
        defaultTaskPodMemory: "3Gi", // must be twice defaultTaskPodCpu
        workloadIdentity: "not-an-arn",
        environmentVariables: [{ key: "NEW_SECRET", isSecret: true }], // a new variable needs a value
      };
      const e = await failure(client().updateDeployment(org, stored.id, body));
      expectAstroError(e, 400, ["type", "defaultTaskPodMemory", "workloadIdentity", "environmentVariables[0].value"]);
      const raw = await storedDeployment(astro().fakeUrl, stored.id);
      expect(raw).toMatchObject({ type: "STANDARD", defaultTaskPodMemory: "0.5Gi", environmentVariables: [] });
      expect(raw.workloadIdentity).toBeUndefined();
    });

    it("shows a new workloadIdentity in effectiveWorkloadIdentity only after the configured number of reads", async () => {
      const { stored, org, read } = await seeded({ cloudProvider: "AWS", identityPropagationReads: 2 });
      const defaultIdentity = `arn:aws:iam::${stored.dataplaneAccountId}:role/astro-${stored.namespace}`;
      const custom = "arn:aws:iam::123456789012:role/customer-managed";
      const updated = await client().updateDeployment(org, stored.id, {
        ...hosted(await read()),
        workloadIdentity: custom,
      });
      expect(updated.effectiveWorkloadIdentity).toBe(defaultIdentity);
      expect((await storedDeployment(astro().fakeUrl, stored.id)).effectiveWorkloadIdentity).toBe(custom);
      const seen = [];
      for (let i = 0; i < 3; i++) seen.push((await read()).effectiveWorkloadIdentity);
      expect(seen).toEqual([defaultIdentity, defaultIdentity, custom]);

      // Left out of a later update, the identity stays (clients never echo the effective one back).
      await client().updateDeployment(org, stored.id, { ...hosted(await read()), name: "again" });
      expect((await read()).effectiveWorkloadIdentity).toBe(custom);
      expect((await storedDeployment(astro().fakeUrl, stored.id)).workloadIdentity).toBe(custom);
    });

    it("takes a GCP service account as workloadIdentity at once when propagation is off", async () => {
      const { org, stored, read } = await seeded({ cloudProvider: "GCP", identityPropagationReads: 0 });
      const sa = "airflow-runner@customer-project.iam.gserviceaccount.com";
      const updated = await client().updateDeployment(org, stored.id, {
        ...hosted(await read()),
        workloadIdentity: sa,
      });
      expect(updated.effectiveWorkloadIdentity).toBe(sa);
      expect((await read()).effectiveWorkloadIdentity).toBe(sa);
    });

    it("refuses workloadIdentity on an Azure Deployment (the API's known limitation)", async () => {
      const { stored, org, read } = await seeded({ cloudProvider: "AZURE" });
      const e = await failure(
        client().updateDeployment(org, stored.id, { ...hosted(await read()), workloadIdentity: "any-identity" }),
      );
      expectAstroError(e, 400, ["workloadIdentity"]);
      expect(e.error.fieldErrors).toContainEqual(expect.objectContaining({ code: "unsupported" }));
      // Without it, the same update goes through.
      await client().updateDeployment(org, stored.id, hosted(await read()));
    });
  });

  describe("environment objects", () => {
    it("creates a connection (answering only its id) and reads it back with setFields and secrets masked", async () => {
      const { stored, org } = await seeded();
      const key = uniqueKey("aws");
      const created = await client().createEnvironmentObject(org, {
        objectKey: key,
        objectType: "CONNECTION",
        scope: "DEPLOYMENT",
        scopeEntityId: stored.id,
        connection: {
          type: "aws",
          login: "ignored",
          password: "hunter2",
          port: 443,
          extra: { role_arn: "arn:aws:iam::123456789012:role/x", aws_secret_access_key: "abc", nested: { a: 1 } },
        },
      });
      expect(Object.keys(created)).toEqual(["id"]);

      const read = await client().getEnvironmentObject(org, created.id);
      expect(read).toMatchObject({
        id: created.id,
        objectKey: key,
        objectType: "CONNECTION",
        scope: "DEPLOYMENT",
        scopeEntityId: stored.id,
        connection: {
          type: "aws",
          login: "ignored",
          port: 443,
          extra: { role_arn: expect.any(String), nested: { a: 1 } },
        },
      });
      expect(read.connection).not.toHaveProperty("password");
      expect(read.connection?.extra).not.toHaveProperty("aws_secret_access_key");
      expect(read.setFields).toEqual([
        "type",
        "login",
        "password",
        "port",
        "extra.role_arn",
        "extra.aws_secret_access_key",
        "extra.nested",
      ]);
      expect((await storedEnvironmentObject(astro().fakeUrl, created.id)).connection?.password).toBe("hunter2");

      const shown = await client().listEnvironmentObjects(org, { deploymentId: stored.id, showSecrets: true });
      expect(shown.environmentObjects[0]?.connection).toMatchObject({
        password: "hunter2",
        extra: { aws_secret_access_key: "abc" },
      });
    });

    it("answers 409 for a second object with the same scope, type and key, and takes the key elsewhere", async () => {
      const { stored, org } = await seeded();
      const other = await seeded({ organizationId: org, workspaceId: stored.workspaceId });
      const body = connection("DEPLOYMENT", stored.id);
      await client().createEnvironmentObject(org, body);
      expectAstroError(await failure(client().createEnvironmentObject(org, body)), 409);
      await client().createEnvironmentObject(org, { ...body, scopeEntityId: other.stored.id });
      await client().createEnvironmentObject(org, {
        ...body,
        objectType: "AIRFLOW_VARIABLE",
        connection: undefined,
        airflowVariable: { value: "v" },
      });
      await client().createEnvironmentObject(org, { ...body, scope: "WORKSPACE", scopeEntityId: stored.workspaceId });
    });

    it("refuses links on a Deployment-scoped object and links to Deployments outside the Workspace (400)", async () => {
      const { stored, org } = await seeded();
      const stranger = await seeded({ organizationId: org });
      const onDeployment = {
        ...connection("DEPLOYMENT", stored.id),
        links: [{ scope: "DEPLOYMENT" as const, scopeEntityId: stored.id }],
      };
      expectAstroError(await failure(client().createEnvironmentObject(org, onDeployment)), 400, ["links"]);
      const outside = {
        ...connection("WORKSPACE", stored.workspaceId),
        links: [{ scope: "DEPLOYMENT" as const, scopeEntityId: stranger.stored.id }],
      };
      expectAstroError(await failure(client().createEnvironmentObject(org, outside)), 400, ["links[0].scopeEntityId"]);
    });

    it("updates by replacement: links, excludeLinks and autoLinkDeployments left out are cleared", async () => {
      const { stored, org } = await seeded();
      const second = await seeded({ organizationId: org, workspaceId: stored.workspaceId });
      const { id } = await client().createEnvironmentObject(org, {
        ...connection("WORKSPACE", stored.workspaceId),
        autoLinkDeployments: true,
        links: [
          {
            scope: "DEPLOYMENT",
            scopeEntityId: stored.id,
            overrides: { connection: { extra: { region_name: "us-east-2" } } },
          },
        ],
        excludeLinks: [{ scope: "DEPLOYMENT", scopeEntityId: second.stored.id }],
      });
      const before = await client().getEnvironmentObject(org, id);
      expect(before).toMatchObject({
        autoLinkDeployments: true,
        links: [
          {
            scopeEntityId: stored.id,
            connectionOverrides: { extra: { region_name: "us-east-2" } },
            setFields: ["extra.region_name"],
          },
        ],
        excludeLinks: [{ scope: "DEPLOYMENT", scopeEntityId: second.stored.id }],
      });

      const after = await client().updateEnvironmentObject(org, id, {
        connection: { type: "aws", extra: { region_name: "eu-central-1" } },
      });
      expect(after.connection).toEqual({ type: "aws", extra: { region_name: "eu-central-1" } });
      expect(after.autoLinkDeployments).toBe(false);
      expect(after).not.toHaveProperty("links");
      expect(after).not.toHaveProperty("excludeLinks");
      expect(await client().getEnvironmentObject(org, id)).toEqual(after);
    });

    it("needs connection.type on every update of a connection: 400 from the fake, 422 from Prism", async () => {
      const { stored, org } = await seeded();
      const { id } = await client().createEnvironmentObject(org, connection("DEPLOYMENT", stored.id));
      const withoutConnection = await failure(client().updateEnvironmentObject(org, id, { description: "x" }));
      expectAstroError(withoutConnection, 400, ["connection.type"]);
      const withoutType = await failure(
        client().request("POST", `/organizations/${org}/environment-objects/${id}`, { connection: { host: "h" } }),
      );
      expect(withoutType.status).toBe(422);
    });

    it("deletes with 204, after which the object is 404", async () => {
      const { stored, org } = await seeded();
      const { id } = await client().createEnvironmentObject(org, connection("DEPLOYMENT", stored.id));
      expect(await client().deleteEnvironmentObject(org, id)).toBeUndefined();
      expectAstroError(await failure(client().getEnvironmentObject(org, id)), 404);
      expectAstroError(await failure(client().deleteEnvironmentObject(org, id)), 404);
      expect(await callCounts(astro().fakeUrl, { environmentObjectId: id })).toEqual({
        DeleteEnvironmentObject: 2,
        GetEnvironmentObject: 1,
      });
    });

    it("lists with offset, limit and totalCount, filters, sorts, and the Workspace objects linked to a Deployment", async () => {
      const { stored, org } = await seeded();
      const keys = ["conn_c", "conn_a", "conn_e", "conn_b", "conn_d"];
      for (const key of keys) await client().createEnvironmentObject(org, connection("DEPLOYMENT", stored.id, key));
      await client().createEnvironmentObject(org, {
        objectKey: "conn_a",
        objectType: "AIRFLOW_VARIABLE",
        scope: "DEPLOYMENT",
        scopeEntityId: stored.id,
        airflowVariable: { value: "hidden", isSecret: true },
      });
      const list = (query: object) => client().listEnvironmentObjects(org, { deploymentId: stored.id, ...query });

      const first = await list({ limit: 2 });
      expect(first).toMatchObject({ offset: 0, limit: 2, totalCount: 6 });
      expect(first.environmentObjects.map((o) => o.objectKey)).toEqual(["conn_c", "conn_a"]);
      const last = await list({ offset: 4, limit: 2 });
      expect(last.environmentObjects.map((o) => o.objectKey)).toEqual(["conn_d", "conn_a"]);
      expect(last.environmentObjects[1]).toMatchObject({
        objectType: "AIRFLOW_VARIABLE",
        airflowVariable: { isSecret: true, value: "" },
        setFields: ["value"],
      });
      expect((await list({})).limit).toBe(20);

      const connections = await list({ objectType: "CONNECTION", sorts: ["objectKey:desc"] });
      expect(connections.totalCount).toBe(5);
      expect(connections.environmentObjects.map((o) => o.objectKey)).toEqual([...keys].sort().reverse());
      expect((await list({ objectKey: "conn_a" })).totalCount).toBe(2);
      expect((await list({ objectKey: "conn_a", objectType: "CONNECTION" })).totalCount).toBe(1);

      // Workspace objects: listed by workspaceId; listed for a Deployment only with resolveLinked.
      const shared = await client().createEnvironmentObject(org, {
        ...connection("WORKSPACE", stored.workspaceId, "shared_conn"),
        links: [{ scope: "DEPLOYMENT", scopeEntityId: stored.id, overrides: { connection: { host: "override" } } }],
      });
      const inWorkspace = await client().listEnvironmentObjects(org, { workspaceId: stored.workspaceId });
      expect(inWorkspace.environmentObjects.map((o) => o.id)).toEqual([shared.id]);
      expect((await list({ objectKey: "shared_conn" })).totalCount).toBe(0);
      const resolved = await list({ objectKey: "shared_conn", resolveLinked: true });
      expect(resolved.environmentObjects).toEqual([
        expect.objectContaining({
          id: shared.id,
          scope: "DEPLOYMENT",
          scopeEntityId: stored.id,
          sourceScope: "WORKSPACE",
          sourceScopeEntityId: stored.workspaceId,
          connection: { type: "aws", host: "override", extra: { region_name: "eu-west-1" } },
        }),
      ]);

      const unscoped = await failure(client().listEnvironmentObjects(org, {}));
      expectAstroError(unscoped, 400, ["workspaceId"]);
    });
  });

  describe("authentication and authorization", () => {
    it("answers 401 without a bearer token (Prism, before the fake) and for a revoked token (the fake)", async () => {
      const { stored, org } = await seeded();
      const anonymous = await failure(client(null).getDeployment(org, stored.id));
      expect(anonymous.status).toBe(401);
      expect(anonymous.headers.get("www-authenticate")).toBe("Bearer");
      expect(await callCounts(astro().fakeUrl, { deploymentId: stored.id })).toEqual({});
      // The fake itself answers Astro's error body.
      expectAstroError(await failure(astroClient(`${astro().fakeUrl}/v1`, null).getDeployment(org, stored.id)), 401);

      const revoked = uniqueToken("revoked");
      await registerToken(astro().fakeUrl, { token: revoked, revoked: true });
      expectAstroError(await failure(client(revoked).getDeployment(org, stored.id)), 401);
      expect(await callCounts(astro().fakeUrl, { deploymentId: stored.id })).toEqual({ GetDeployment: 2 });
    });

    it("answers 403 for a read-only token's writes and for another Organization's token", async () => {
      const { stored, org, read } = await seeded();
      const readOnly = uniqueToken("reader");
      await registerToken(astro().fakeUrl, { token: readOnly, readOnly: true });
      const reader = client(readOnly);
      expect((await reader.getDeployment(org, stored.id)).id).toBe(stored.id);
      expect((await reader.listEnvironmentObjects(org, { deploymentId: stored.id })).totalCount).toBe(0);
      expectAstroError(await failure(reader.updateDeployment(org, stored.id, hosted(await read()))), 403);
      expectAstroError(await failure(reader.createEnvironmentObject(org, connection("DEPLOYMENT", stored.id))), 403);

      const elsewhere = uniqueToken("other-org");
      const otherOrg = await seeded();
      await registerToken(astro().fakeUrl, { token: elsewhere, organizationId: otherOrg.org });
      expectAstroError(await failure(client(elsewhere).getDeployment(org, stored.id)), 403);
    });

    it("answers 404 for a Deployment or an object that does not exist or belongs to another Organization", async () => {
      const { stored, org } = await seeded();
      const other = await seeded();
      expectAstroError(await failure(client().getDeployment(org, "clnosuchdeployment00000000")), 404);
      expectAstroError(await failure(client().getDeployment(other.org, stored.id)), 404);
      const { id } = await client().createEnvironmentObject(org, connection("DEPLOYMENT", stored.id));
      expectAstroError(await failure(client().getEnvironmentObject(other.org, id)), 404);
      expectAstroError(
        await failure(client().createEnvironmentObject(org, connection("DEPLOYMENT", other.stored.id))),
        404,
      );
    });
  });

  describe("the contract check is live", () => {
    it("refuses a request with a misspelt field before it reaches the fake (422)", async () => {
      const { stored, org } = await seeded();
      const { connection: conn, ...rest } = connection("DEPLOYMENT", stored.id);
      const e = await failure(
        client().request("POST", `/organizations/${org}/environment-objects`, { ...rest, conection: conn }),
      );
      expect(e.status).toBe(422);
      expect(JSON.stringify(e.body)).toMatch(/additional properties.*conection/);
      expect(await callCounts(astro().fakeUrl, { deploymentId: stored.id })).toEqual({});
    });

    it("fails the call when a response breaks the schema (500 with sl-violations), once", async () => {
      const { stored, read } = await seeded();
      await injectFault(astro().fakeUrl, { operation: "GetDeployment", kind: "schema", deploymentId: stored.id });
      const e = await failure(read());
      expect(e.status).toBe(500);
      expect(e.headers.get("sl-violations")).toMatch(/additional properties.*injectedFault/);
      expect((await read()).id).toBe(stored.id);
    });

    it("answers injected 429 (with Retry-After) and 500 faults as Astro errors, before or after the change", async () => {
      const { stored, org, read } = await seeded();
      await injectFault(astro().fakeUrl, {
        operation: "UpdateDeployment",
        kind: "status",
        status: 429,
        deploymentId: stored.id,
      });
      const throttled = await failure(
        client().updateDeployment(org, stored.id, { ...hosted(await read()), name: "a" }),
      );
      expectAstroError(throttled, 429);
      expect(throttled.headers.get("retry-after")).toBe("1");
      expect((await storedDeployment(astro().fakeUrl, stored.id)).name).not.toBe("a");

      await injectFault(astro().fakeUrl, {
        operation: "UpdateDeployment",
        kind: "status",
        status: 500,
        when: "after",
        deploymentId: stored.id,
      });
      expectAstroError(
        await failure(client().updateDeployment(org, stored.id, { ...hosted(await read()), name: "b" })),
        500,
      );
      expect((await storedDeployment(astro().fakeUrl, stored.id)).name).toBe("b");
      expect(await callCounts(astro().fakeUrl, { deploymentId: stored.id, operation: "UpdateDeployment" })).toEqual({
        UpdateDeployment: 2,
      });
    });
  });
});
