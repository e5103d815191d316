import { describe, expect, inject, it } from "vitest";
import { AuthorizationError, TargetMissingError } from "../../provider/core/errors";
import { CLAIM_LABEL_PREFIX, LABEL_LIMIT } from "../../provider/grants/gcp/claimLabels";
import { GcpIamPolicyDriver } from "../../provider/grants/gcp/driver";
import type { GcpGrant } from "../../provider/grants/gcp/plan";
import { gcpInputs, plannedGcp } from "../support/fixtures";
import {
  SANDBOX_GCP_TOKEN,
  callCounts,
  createProject,
  createServiceAccount,
  deleteProject,
  deleteServiceAccount,
  gcpClients,
  injectFault,
  storedLabels,
} from "../support/gcp";

// Every Google call goes through Prism (url), which checks it against Google's discovery
// documents; the admin API is on the fake itself (fakeUrl).
const gcp = () => inject("endpoints").gcp;
const driver = (options: ConstructorParameters<typeof GcpIamPolicyDriver>[0] = {}) =>
  new GcpIamPolicyDriver({ rootUrl: gcp().url, accessToken: SANDBOX_GCP_TOKEN, baseDelayMs: 5, ...options });
const identity = "astro-ns1@astronomer-prod.iam.gserviceaccount.com";

const projectRole = (project: string): GcpGrant =>
  plannedGcp(
    gcpInputs(
      { project, grant: { kind: "projectRole", role: "roles/bigquery.dataViewer" } },
      { workloadIdentity: identity },
    ),
  ).grant;
const impersonation = (serviceAccount: string): GcpGrant =>
  plannedGcp(gcpInputs({ grant: { kind: "impersonation", serviceAccount } }, { workloadIdentity: identity })).grant;

const A = "a1b2c3d4e5f6";
const B = "f6e5d4c3b2a1";
const HANDOVER = "handover-0badc0de";
const label = (owner: string, part = 1) => `${CLAIM_LABEL_PREFIX}${owner}${part === 1 ? "" : `-${part}`}`;
const digests = (n: number) => Array.from({ length: n }, (_, i) => (0xd0000000 + i).toString(16));
const FOREIGN = { team: "data", "cost-center": "42", [`${CLAIM_LABEL_PREFIX}note`]: "kept-by-someone-else" };
const manyLabels = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`cost-${i}`, `v${i}`]));

describe("Resource Manager v3 projects.get / projects.patch / operations.get in the fake (validated by Prism)", () => {
  it("reads a project with its labels and etag, patches the labels with the etag, and finishes the operation", async () => {
    const { projectId, projectNumber } = await createProject(gcp().fakeUrl, { labels: { team: "data" } });
    const { crm } = gcpClients(gcp().url);
    const { data: project } = await crm.projects.get({ name: `projects/${projectId}` });
    expect(project).toMatchObject({
      name: `projects/${projectNumber}`,
      projectId,
      state: "ACTIVE",
      labels: { team: "data" },
    });
    expect(project.etag).toEqual((await storedLabels(gcp().fakeUrl, projectId)).etag);
    // By number too, as Google takes either.
    expect((await crm.projects.get({ name: `projects/${projectNumber}` })).data.projectId).toBe(projectId);

    const { data: started } = await crm.projects.patch({
      name: `projects/${projectId}`,
      updateMask: "labels",
      requestBody: { labels: { team: "data", env: "prod" }, etag: project.etag! },
    });
    expect(started.name).toMatch(/^operations\/cp\.\d+$/);
    expect(started.done).toBeUndefined();
    const { data: finished } = await crm.operations.get({ name: started.name! });
    expect(finished).toMatchObject({
      name: started.name,
      done: true,
      response: { labels: { team: "data", env: "prod" } },
    });
    const stored = await storedLabels(gcp().fakeUrl, projectId);
    expect(stored.labels).toEqual({ team: "data", env: "prod" });
    expect(stored.etag).not.toBe(project.etag);

    // With updateMask=labels an empty map removes every label.
    await crm.projects.patch({ name: `projects/${projectId}`, updateMask: "labels", requestBody: { labels: {} } });
    expect((await storedLabels(gcp().fakeUrl, projectId)).labels).toEqual({});
  });

  it("refuses a stale etag (409 ABORTED), bad label keys and values, and more than 64 labels (400), changing nothing", async () => {
    const { projectId, etag } = await createProject(gcp().fakeUrl, { labels: { team: "data" } });
    const { crm } = gcpClients(gcp().url);
    const patch = (labels: Record<string, string>, etag?: string) =>
      crm.projects
        .patch({
          name: `projects/${projectId}`,
          updateMask: "labels",
          requestBody: { labels, ...(etag ? { etag } : {}) },
        })
        .then(
          () => ({ status: 200, body: undefined }),
          (e: { response?: { status: number; data: unknown } }) => ({
            status: e.response?.status,
            body: e.response?.data,
          }),
        );
    await patch({ team: "data", a: "1" }, etag);
    expect(await patch({ team: "other" }, etag)).toMatchObject({ status: 409, body: { error: { status: "ABORTED" } } });
    for (const bad of [{ Team: "x" }, { "1st": "x" }, { team: "Data" }, { team: "x".repeat(64) }, manyLabels(65)]) {
      expect(await patch(bad)).toMatchObject({ status: 400, body: { error: { status: "INVALID_ARGUMENT" } } });
    }
    expect((await storedLabels(gcp().fakeUrl, projectId)).labels).toEqual({ team: "data", a: "1" });
    expect((await patch(manyLabels(64))).status).toBe(200);
  });

  it("answers 403 PERMISSION_DENIED naming the permission for a project that does not exist", async () => {
    const { crm } = gcpClients(gcp().url);
    const error = await crm.projects.get({ name: "projects/no-such-project-1" }).catch((e: unknown) => e);
    expect(error).toMatchObject({
      response: {
        status: 403,
        data: {
          error: { status: "PERMISSION_DENIED", message: expect.stringContaining("resourcemanager.projects.get") },
        },
      },
    });
  });
});

describe("claims kept as project labels by the GCP driver", () => {
  it("records one label per owner beside foreign labels, lists them by owner, and releases only its own", async () => {
    const { projectId } = await createProject(gcp().fakeUrl, { labels: FOREIGN });
    const ledger = driver().ledger;
    const grant = projectRole(projectId);
    await ledger.record(grant, A, ["0badc0de", "deadbeef"]);
    await ledger.record(grant, HANDOVER, ["deadbeef"]);
    expect((await storedLabels(gcp().fakeUrl, projectId)).labels).toEqual({
      ...FOREIGN,
      [label(A)]: "0badc0de_deadbeef",
      [label(HANDOVER)]: "deadbeef",
    });
    expect(await ledger.records(grant)).toEqual(
      new Map([
        [A, ["0badc0de", "deadbeef"]],
        [HANDOVER, ["deadbeef"]],
      ]),
    );
    // Recorded again: replaces the owner's earlier claim.
    await ledger.record(grant, A, ["deadbeef"]);
    await ledger.release(grant, HANDOVER);
    expect((await storedLabels(gcp().fakeUrl, projectId)).labels).toEqual({ ...FOREIGN, [label(A)]: "deadbeef" });
    await ledger.release(grant, A);
    expect((await storedLabels(gcp().fakeUrl, projectId)).labels).toEqual(FOREIGN);
    expect(await ledger.records(grant)).toEqual(new Map());
    // Five writes, each of which waited for its operation to be done.
    const counts = await callCounts(gcp().fakeUrl, { project: projectId });
    expect(counts["projects.patch"]).toBe(5);
    expect(counts["operations.get"]).toBe(5);
  });

  it("continues a claim of more than 6 digests in -2, -3 labels, written and removed in the same update", async () => {
    const { projectId } = await createProject(gcp().fakeUrl, { labels: FOREIGN });
    const ledger = driver().ledger;
    const grant = projectRole(projectId);
    await ledger.record(grant, A, digests(13));
    const { labels } = await storedLabels(gcp().fakeUrl, projectId);
    expect(labels).toEqual({
      ...FOREIGN,
      [label(A)]: digests(13).slice(0, 6).join("_"),
      [label(A, 2)]: digests(13).slice(6, 12).join("_"),
      [label(A, 3)]: digests(13)[12],
    });
    expect((await ledger.records(grant)).get(A)).toEqual(digests(13));

    await ledger.record(grant, A, digests(2));
    expect((await storedLabels(gcp().fakeUrl, projectId)).labels).toEqual({
      ...FOREIGN,
      [label(A)]: digests(2).join("_"),
    });
    expect((await callCounts(gcp().fakeUrl, { project: projectId }))["projects.patch"]).toBe(2);
  });

  it("a service account's grant keeps its claims on the account's project, which it looks up once", async () => {
    const sa = await createServiceAccount(gcp().fakeUrl);
    const ledger = driver().ledger;
    const grant = impersonation(sa.email);
    await ledger.record(grant, A, ["deadbeef"]);
    expect(await ledger.records(grant)).toEqual(new Map([[A, ["deadbeef"]]]));
    expect((await storedLabels(gcp().fakeUrl, sa.projectId!)).labels).toEqual({ [label(A)]: "deadbeef" });
    expect((await callCounts(gcp().fakeUrl, { serviceAccount: sa.email }))["projects.serviceAccounts.get"]).toBe(1);

    await deleteServiceAccount(gcp().fakeUrl, sa.email);
    const fresh = driver().ledger;
    await expect(fresh.records(grant)).rejects.toBeInstanceOf(TargetMissingError);
    await expect(fresh.records(grant)).rejects.toThrow(`service account ${sa.email}`);
    await expect(fresh.release(grant, A)).resolves.toBeUndefined();
  });

  it("two owners recording at once both land: the write that met a stale etag is read again and re-applied", async () => {
    const { projectId } = await createProject(gcp().fakeUrl, { labels: FOREIGN });
    // Another writer changes the labels right after the first read: that read's patch is stale.
    await injectFault(gcp().fakeUrl, "projects.get", { project: projectId }, 1, "concurrentWrite");
    const grant = projectRole(projectId);
    await Promise.all([driver().ledger.record(grant, A, ["deadbeef"]), driver().ledger.record(grant, B, ["0badc0de"])]);
    const { labels } = await storedLabels(gcp().fakeUrl, projectId);
    expect(labels).toMatchObject({ ...FOREIGN, [label(A)]: "deadbeef", [label(B)]: "0badc0de" });
    // The other writer's label survived too.
    expect(Object.keys(labels).filter((k) => k.startsWith("concurrent-"))).toHaveLength(1);
    expect(await callCounts(gcp().fakeUrl, { project: projectId })).toMatchObject({
      "projects.get": 3,
      "projects.patch": 3,
    });

    const { projectId: busy } = await createProject(gcp().fakeUrl);
    await injectFault(gcp().fakeUrl, "projects.get", { project: busy }, 10, "concurrentWrite");
    const failure = await driver({ baseDelayMs: 1, convergeAttempts: 3 })
      .ledger.record(projectRole(busy), A, ["deadbeef"])
      .catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(AuthorizationError);
    expect(failure).toMatchObject({
      code: "CONFLICT",
      message: expect.stringMatching(
        new RegExp(
          `could not record the claim of ${A} in the labels of project ${busy}: .*3 times in a row.*pulumi up again`,
        ),
      ),
    });
  });

  it(`refuses with QUOTA_EXCEEDED before writing when the labels would go over ${LABEL_LIMIT}, naming the project and the count`, async () => {
    const { projectId } = await createProject(gcp().fakeUrl, { labels: manyLabels(LABEL_LIMIT) });
    const grant = projectRole(projectId);
    const error = await driver()
      .ledger.record(grant, A, ["deadbeef"])
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthorizationError);
    expect(error).toMatchObject({ code: "QUOTA_EXCEEDED" });
    expect((error as Error).message).toContain(`project ${projectId} has 64 labels`);
    expect((error as Error).message).toContain(`limit of 64 per project`);
    expect((error as Error).message).toContain(`gcloud projects describe ${projectId}`);

    // 62 labels and a claim that needs 3: refused as well, though one label would fit.
    const { projectId: almost } = await createProject(gcp().fakeUrl, { labels: manyLabels(62) });
    const over = await driver()
      .ledger.record(projectRole(almost), A, digests(15))
      .catch((e: unknown) => e);
    expect(over).toMatchObject({ code: "QUOTA_EXCEEDED", message: expect.stringContaining("needs 3 more") });
    for (const id of [projectId, almost]) {
      expect((await callCounts(gcp().fakeUrl, { project: id }))["projects.patch"]).toBeUndefined();
    }
    expect(Object.keys((await storedLabels(gcp().fakeUrl, almost)).labels)).toHaveLength(62);
  });

  it("releasing an owner that has no claim writes nothing; a missing project: release succeeds, record and records name it", async () => {
    const { projectId } = await createProject(gcp().fakeUrl, { labels: FOREIGN });
    const grant = projectRole(projectId);
    await driver().ledger.release(grant, A);
    expect((await callCounts(gcp().fakeUrl, { project: projectId }))["projects.patch"]).toBeUndefined();

    await deleteProject(gcp().fakeUrl, projectId);
    const ledger = driver().ledger;
    await expect(ledger.release(grant, A)).resolves.toBeUndefined();
    for (const attempt of [() => ledger.record(grant, A, ["deadbeef"]), () => ledger.records(grant)]) {
      const error = await attempt().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TargetMissingError);
      expect((error as Error).message).toContain(`project ${projectId}`);
      expect((error as Error).message).toContain("gcp.project");
    }
  });

  it("a refused label write is PERMISSION_DENIED naming resourcemanager.projects.update and the project", async () => {
    const { projectId } = await createProject(gcp().fakeUrl, { labels: FOREIGN });
    const grant = projectRole(projectId);
    await injectFault(gcp().fakeUrl, "projects.patch", { project: projectId }, 1, "forbidden");
    const error = await driver()
      .ledger.record(grant, A, ["deadbeef"])
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "PERMISSION_DENIED" });
    expect((error as Error).message).toContain(`needs resourcemanager.projects.update on project ${projectId}`);
    expect((await storedLabels(gcp().fakeUrl, projectId)).labels).toEqual(FOREIGN);

    // Google answers a refused read as it answers a missing project: the message names the permission.
    await injectFault(gcp().fakeUrl, "projects.get", { project: projectId }, 1, "forbidden");
    const unseen = await driver()
      .ledger.records(grant)
      .catch((e: unknown) => e);
    expect(unseen).toBeInstanceOf(TargetMissingError);
    expect((unseen as Error).message).toContain("Permission 'resourcemanager.projects.get' denied");
    expect((unseen as Error).message).toContain(`project ${projectId}`);
  });
});
