import { describe, expect, inject, it } from "vitest";
import {
  type Binding,
  type Policy,
  SANDBOX_GCP_TOKEN,
  callCounts,
  createProject,
  createServiceAccount,
  deleteServiceAccount,
  foreignProjectPolicy,
  foreignServiceAccountPolicy,
  gcpClients,
  injectFault,
  principalCount,
  storedPolicy,
  uniqueProjectId,
} from "../support/gcp";

// Every Google call goes through Prism (url), which checks it against the discovery documents;
// the admin API is on the fake itself (fakeUrl).
const gcp = () => inject("endpoints").gcp;
const clients = () => gcpClients(gcp().url);

const GRANT: Binding = {
  role: "roles/composer.worker",
  members: ["serviceAccount:runner@astro-prod.iam.gserviceaccount.com"],
};
const CONDITION = { title: "expires", expression: 'request.time < timestamp("2031-01-01T00:00:00Z")' };

async function projectWithForeignPolicy() {
  const { projectId } = await createProject(gcp().fakeUrl, { policy: foreignProjectPolicy() });
  return { projectId, resource: `projects/${projectId}` };
}

async function getProjectPolicy(resource: string, requestedPolicyVersion?: number): Promise<Policy> {
  const options = requestedPolicyVersion === undefined ? {} : { options: { requestedPolicyVersion } };
  return (await clients().crm.projects.getIamPolicy({ resource, requestBody: options })).data;
}

async function setProjectPolicy(resource: string, policy: Policy, updateMask?: string): Promise<Policy> {
  return (await clients().crm.projects.setIamPolicy({ resource, requestBody: { policy, updateMask } })).data;
}

/** What the clients (gaxios) reject with when Google answers an error. */
interface ClientError {
  status?: number;
  response?: { data?: { error?: { code: number; status: string; message: string } }; headers?: Headers };
}

/** The Google error a client call failed with: HTTP status, the JSON error body and the headers. */
async function failure(call: Promise<unknown>) {
  const e = (await call.then(
    () => expect.unreachable("the call succeeded"),
    (err: unknown) => err,
  )) as ClientError;
  return { status: e.status, error: e.response?.data?.error, headers: e.response?.headers };
}

describe("Google Cloud IAM fake, through Prism, with the official clients", () => {
  it("keeps foreign bindings of every shape, their conditions and their order through get and set", async () => {
    const { projectId, resource } = await projectWithForeignPolicy();
    const read = await getProjectPolicy(resource, 3);
    expect(read.version).toBe(3);
    expect(read.bindings).toEqual(foreignProjectPolicy().bindings);
    expect(read.auditConfigs).toEqual(foreignProjectPolicy().auditConfigs);

    // The default update mask is bindings,etag: audit configs left out of the request stay.
    const written = await setProjectPolicy(resource, {
      version: 3,
      etag: read.etag,
      bindings: [...read.bindings!, GRANT],
    });
    expect(written.etag).not.toBe(read.etag);
    expect(written.bindings).toEqual([...foreignProjectPolicy().bindings!, GRANT]);
    expect(written.auditConfigs).toEqual(foreignProjectPolicy().auditConfigs);

    const again = await getProjectPolicy(resource, 3);
    expect(again).toEqual(written);
    expect(await storedPolicy(gcp().fakeUrl, { project: projectId })).toMatchObject({ version: 3, etag: written.etag });
  });

  it("replaces audit configs only when the update mask names them", async () => {
    const { resource } = await projectWithForeignPolicy();
    const read = await getProjectPolicy(resource, 3);
    const auditConfigs = [{ service: "storage.googleapis.com", auditLogConfigs: [{ logType: "DATA_WRITE" }] }];
    const written = await setProjectPolicy(resource, { ...read, auditConfigs }, "bindings,etag,auditConfigs");
    expect(written.auditConfigs).toEqual(auditConfigs);
    expect(written.bindings).toEqual(read.bindings);

    const unknownField = await failure(setProjectPolicy(resource, { ...written, version: 3 }, "bindings,owner"));
    expect(unknownField).toMatchObject({ status: 400, error: { status: "INVALID_ARGUMENT" } });
  });

  it("refuses a stale etag with 409 ABORTED and lets a write without etag overwrite", async () => {
    const { projectId, resource } = await projectWithForeignPolicy();
    const first = await getProjectPolicy(resource, 3);
    const second = await setProjectPolicy(resource, { ...first, bindings: [...first.bindings!, GRANT] });

    const stale = await failure(setProjectPolicy(resource, { ...first, bindings: [GRANT] }));
    expect(stale).toEqual({
      status: 409,
      headers: expect.anything(),
      error: {
        code: 409,
        status: "ABORTED",
        message:
          "There were concurrent policy changes. Please retry the whole read-modify-write with exponential backoff.",
      },
    });
    expect((await storedPolicy(gcp().fakeUrl, { project: projectId })).etag).toBe(second.etag);

    const blind = await setProjectPolicy(resource, { bindings: [GRANT] });
    expect(blind).toMatchObject({ version: 1, bindings: [GRANT] });
    expect(blind.etag).not.toBe(second.etag);
  });

  it("answers 403 PERMISSION_DENIED naming the project for a project that does not exist", async () => {
    const missing = uniqueProjectId("gone");
    // One call at a time, as below.
    for (const call of [
      () => getProjectPolicy(`projects/${missing}`, 3),
      () => setProjectPolicy(`projects/${missing}`, {}),
    ]) {
      const { status, error } = await failure(call());
      expect(status).toBe(403);
      expect(error).toMatchObject({ code: 403, status: "PERMISSION_DENIED" });
      expect(error!.message).toContain(`projects/${missing}`);
    }
  });

  it("answers 404 NOT_FOUND for a service account that does not exist", async () => {
    const { email } = await createServiceAccount(gcp().fakeUrl);
    await deleteServiceAccount(gcp().fakeUrl, email);
    const name = `projects/-/serviceAccounts/${email}`;
    const { iam } = clients();
    // One call at a time: started together, a rejection not yet awaited would count as unhandled.
    const calls = [
      () => iam.projects.serviceAccounts.get({ name }),
      () => iam.projects.serviceAccounts.getIamPolicy({ resource: name, "options.requestedPolicyVersion": 3 }),
      () =>
        iam.projects.serviceAccounts.setIamPolicy({ resource: name, requestBody: { policy: { bindings: [GRANT] } } }),
    ];
    for (const call of calls) {
      const { status, error } = await failure(call());
      expect(status).toBe(404);
      expect(error).toMatchObject({ code: 404, status: "NOT_FOUND" });
      expect(error!.message).toContain(email);
    }
  });

  it("answers 401 UNAUTHENTICATED without a bearer token", async () => {
    const { projectId } = await createProject(gcp().fakeUrl);
    const res = await fetch(`${gcp().url}/v3/projects/${projectId}:getIamPolicy`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    expect(res.status).toBe(401);
    expect(res.headers.get("sl-violations")).toBeNull();
    expect(await res.json()).toMatchObject({ error: { code: 401, status: "UNAUTHENTICATED" } });
  });

  it("reads and writes service accounts and their policies, by e-mail and by unique id", async () => {
    const { email, uniqueId, projectId } = await createServiceAccount(gcp().fakeUrl, {
      policy: foreignServiceAccountPolicy(),
      displayName: "Runner",
    });
    const { iam } = clients();
    for (const name of [`projects/-/serviceAccounts/${email}`, `projects/${projectId}/serviceAccounts/${uniqueId}`]) {
      const { data } = await iam.projects.serviceAccounts.get({ name });
      expect(data).toMatchObject({ email, uniqueId, projectId, displayName: "Runner", oauth2ClientId: uniqueId });
      expect(data.name).toBe(`projects/${projectId}/serviceAccounts/${email}`);
    }

    const resource = `projects/-/serviceAccounts/${email}`;
    const read = (await iam.projects.serviceAccounts.getIamPolicy({ resource, "options.requestedPolicyVersion": 3 }))
      .data;
    expect(read).toMatchObject({ version: 3, bindings: foreignServiceAccountPolicy().bindings });
    const grant = {
      role: "roles/iam.workloadIdentityUser",
      members: ["serviceAccount:runner@astro.iam.gserviceaccount.com"],
    };
    const written = (
      await iam.projects.serviceAccounts.setIamPolicy({
        resource,
        requestBody: { policy: { version: 3, etag: read.etag, bindings: [...read.bindings!, grant] } },
      })
    ).data;
    expect(written.bindings).toEqual([...foreignServiceAccountPolicy().bindings!, grant]);
    expect(await callCounts(gcp().fakeUrl, { serviceAccount: email })).toEqual({
      "projects.serviceAccounts.get": 2,
      "projects.serviceAccounts.getIamPolicy": 1,
      "projects.serviceAccounts.setIamPolicy": 1,
    });
  });

  it("answers an empty policy of a new service account as Google does", async () => {
    const { email } = await createServiceAccount(gcp().fakeUrl);
    const { data } = await clients().iam.projects.serviceAccounts.getIamPolicy({
      resource: `projects/-/serviceAccounts/${email}`,
      "options.requestedPolicyVersion": 3,
    });
    expect(data).toEqual({ etag: "ACAB" });
  });

  describe("policy versions", () => {
    it("formats a policy with conditions as version 1 with renamed roles unless version 3 is requested", async () => {
      const { resource } = await projectWithForeignPolicy();
      for (const requested of [undefined, 0, 1]) {
        const v1 = await getProjectPolicy(resource, requested);
        expect(v1.version).toBe(1);
        expect(v1.bindings!.some((b) => b.condition)).toBe(false);
        expect(v1.bindings!.map((b) => b.role)).toEqual([
          "roles/viewer",
          "roles/storage.objectViewer",
          expect.stringMatching(/^roles\/bigquery\.dataViewer_withcond_[0-9a-f]+$/),
          "roles/iam.serviceAccountUser",
          expect.stringMatching(/^roles\/iam\.serviceAccountUser_withcond_[0-9a-f]+$/),
          "organizations/123456789012/roles/auditReader",
        ]);
        // Such a policy cannot be written back: the renamed roles do not exist.
        const back = await failure(setProjectPolicy(resource, v1));
        expect(back).toMatchObject({ status: 400, error: { status: "INVALID_ARGUMENT" } });
      }
      expect((await getProjectPolicy(resource, 3)).version).toBe(3);
    });

    it("answers version 1 for a policy without conditions, whatever was requested", async () => {
      const { projectId } = await createProject(gcp().fakeUrl, { policy: { bindings: [GRANT] } });
      for (const requested of [undefined, 1, 3]) {
        expect(await getProjectPolicy(`projects/${projectId}`, requested)).toMatchObject({
          version: 1,
          bindings: [GRANT],
        });
      }
      const invalid = await failure(getProjectPolicy(`projects/${projectId}`, 2));
      expect(invalid).toMatchObject({ status: 400, error: { status: "INVALID_ARGUMENT" } });
    });

    it("refuses a condition in a policy written below version 3, and never stores a lower version", async () => {
      const { projectId } = await createProject(gcp().fakeUrl, { policy: { bindings: [GRANT] } });
      const resource = `projects/${projectId}`;
      const read = await getProjectPolicy(resource, 3);
      const conditional = { ...GRANT, condition: CONDITION };
      for (const version of [undefined, 1]) {
        const refused = await failure(setProjectPolicy(resource, { ...read, version, bindings: [conditional] }));
        expect(refused).toMatchObject({ status: 400, error: { status: "INVALID_ARGUMENT" } });
      }
      const written = await setProjectPolicy(resource, { ...read, version: 3, bindings: [GRANT, conditional] });
      expect(written.version).toBe(3);
      expect(await storedPolicy(gcp().fakeUrl, { project: projectId })).toMatchObject({ version: 3 });

      // A read-modify-write of a policy with conditions must stay at version 3 ...
      const v1Write = await failure(setProjectPolicy(resource, { version: 1, etag: written.etag, bindings: [GRANT] }));
      expect(v1Write).toMatchObject({ status: 400, error: { status: "INVALID_ARGUMENT" } });
      // ... while a blind write replaces it, conditions and all (Google documents this).
      const blind = await setProjectPolicy(resource, { version: 1, bindings: [GRANT] });
      expect(blind).toMatchObject({ version: 1, bindings: [GRANT] });
      expect(await storedPolicy(gcp().fakeUrl, { project: projectId })).toMatchObject({ version: 1 });
    });
  });

  describe("normalisation and limits", () => {
    it("de-duplicates members, drops empty bindings and keeps the order written", async () => {
      const { projectId } = await createProject(gcp().fakeUrl);
      const written = await setProjectPolicy(`projects/${projectId}`, {
        bindings: [
          { role: "roles/viewer", members: ["user:b@example.com", "user:a@example.com", "user:b@example.com"] },
          { role: "roles/editor", members: [] },
          { role: "roles/browser", members: ["group:g@example.com"] },
        ],
      });
      expect(written.bindings).toEqual([
        { role: "roles/viewer", members: ["user:b@example.com", "user:a@example.com"] },
        { role: "roles/browser", members: ["group:g@example.com"] },
      ]);
    });

    it("refuses malformed members and roles, naming them", async () => {
      const { projectId } = await createProject(gcp().fakeUrl);
      const resource = `projects/${projectId}`;
      const cases: [Binding, string][] = [
        [{ role: "roles/viewer", members: ["user:not-an-email"] }, "user:not-an-email"],
        [{ role: "roles/viewer", members: ["robot:r2d2@example.com"] }, "robot:r2d2@example.com"],
        [{ role: "roles/viewer", members: ["allUsers"] }, "allUsers"], // not on projects
        [{ role: "viewer", members: ["user:a@example.com"] }, "viewer"],
      ];
      for (const [binding, named] of cases) {
        const { status, error } = await failure(setProjectPolicy(resource, { bindings: [binding] }));
        expect(status).toBe(400);
        expect(error).toMatchObject({ status: "INVALID_ARGUMENT" });
        expect(error!.message).toContain(named);
      }
    });

    it("takes exactly 1,500 principals in a policy and refuses one more", async () => {
      const { resource } = await projectWithForeignPolicy();
      const read = await getProjectPolicy(resource, 3);
      const room = 1500 - principalCount(read);
      const members = (n: number) => Array.from({ length: n }, (_, i) => `user:u${i}@example.com`);
      const over = await failure(
        setProjectPolicy(resource, {
          ...read,
          bindings: [...read.bindings!, { role: "roles/viewer", members: members(room + 1) }],
        }),
      );
      expect(over).toMatchObject({
        status: 400,
        error: {
          status: "INVALID_ARGUMENT",
          message: "The number of members in the policy (1,501) is larger than the maximum allowed size 1,500.",
        },
      });
      const full = await setProjectPolicy(resource, {
        ...read,
        bindings: [...read.bindings!, { role: "roles/viewer", members: members(room) }],
      });
      expect(principalCount(full)).toBe(1500);
    });

    it("counts as the provider does: repeats across bindings, conditional bindings and audit-log exemptions", async () => {
      const users = (from: number, n: number) => Array.from({ length: n }, (_, i) => `user:u${from + i}@example.com`);
      // Each shape is written at the provider's count of 1,500 (taken) and 1,501 (refused).
      const shapes: Array<(extra: number) => Policy> = [
        // The same principal in many bindings counts once per binding.
        (extra) => ({
          bindings: [
            ...Array.from({ length: 50 }, (_, i) => ({ role: `roles/r${i}`, members: ["user:same@example.com"] })),
            { role: "roles/viewer", members: users(0, 1450 + extra) },
          ],
        }),
        // Conditional bindings count like the others; a group is one principal.
        (extra) => ({
          bindings: [
            { role: "roles/viewer", members: ["group:everyone@example.com", ...users(0, 999)] },
            { role: "roles/editor", members: users(1000, 500 + extra), condition: CONDITION },
          ],
        }),
        // Members exempted from audit logging count on top of the bindings.
        (extra) => ({
          bindings: [{ role: "roles/viewer", members: users(0, 1499) }],
          auditConfigs: [
            {
              service: "allServices",
              auditLogConfigs: [{ logType: "DATA_READ", exemptedMembers: users(5000, 1 + extra) }],
            },
          ],
        }),
      ];
      for (const shape of shapes) {
        const { resource } = await projectWithForeignPolicy();
        const mask = "bindings,etag,auditConfigs";
        expect(principalCount(shape(0))).toBe(1500);
        expect(principalCount(shape(1))).toBe(1501);
        const over = await failure(setProjectPolicy(resource, { version: 3, ...shape(1) }, mask));
        expect(over).toMatchObject({ status: 400, error: { message: expect.stringContaining("(1,501)") } });
        const taken = await setProjectPolicy(resource, { version: 3, ...shape(0) }, mask);
        expect(principalCount(taken)).toBe(1500);
      }
    });
  });

  describe("the contract check is live", () => {
    it("refuses a request with a misspelt field before it reaches the fake (422)", async () => {
      const { projectId } = await createProject(gcp().fakeUrl);
      const res = await fetch(`${gcp().url}/v3/projects/${projectId}:setIamPolicy`, {
        method: "POST",
        headers: { authorization: `Bearer ${SANDBOX_GCP_TOKEN}`, "content-type": "application/json" },
        body: JSON.stringify({ policy: { bindings: [{ role: "roles/viewer", member: ["user:a@example.com"] }] } }),
      });
      expect(res.status).toBe(422);
      expect(JSON.stringify(await res.json())).toMatch(/additional properties.*member/);
      expect(await callCounts(gcp().fakeUrl, { project: projectId })).toEqual({});
    });

    it("fails the client call when a response breaks Google's schema (500 with sl-violations)", async () => {
      const { projectId } = await createProject(gcp().fakeUrl, { policy: { bindings: [GRANT] } });
      await injectFault(gcp().fakeUrl, "projects.getIamPolicy", { project: projectId });
      const { status, headers } = await failure(getProjectPolicy(`projects/${projectId}`, 3));
      expect(status).toBe(500);
      expect(headers?.get("sl-violations")).toMatch(/additional properties.*injectedFault/);
      // One response only: the next is valid again.
      expect((await getProjectPolicy(`projects/${projectId}`, 3)).bindings).toEqual([GRANT]);
    });
  });
});
