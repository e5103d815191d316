import { describe, expect, inject, it } from "vitest";
import { AuthorizationError, TargetMissingError } from "../../provider/core/errors";
import { GcpIamPolicyDriver } from "../../provider/grants/gcp/driver";
import type { GcpGrant, GcpResolved } from "../../provider/grants/gcp/plan";
import { gcpInputs, plannedGcp } from "../support/fixtures";
import {
  SANDBOX_GCP_TOKEN,
  callCounts,
  createProject,
  createServiceAccount,
  deleteProject,
  deleteServiceAccount,
  foreignProjectPolicy,
  foreignServiceAccountPolicy,
  injectFault,
  storedPolicy,
} from "../support/gcp";

const gcp = () => inject("endpoints").gcp;
const driver = (options: ConstructorParameters<typeof GcpIamPolicyDriver>[0] = {}) =>
  new GcpIamPolicyDriver({ rootUrl: gcp().url, accessToken: SANDBOX_GCP_TOKEN, ...options });
const identity = (n: number | string) => `astro-ns${n}@astronomer-prod.iam.gserviceaccount.com`;
const NONE: GcpResolved = { preExistingMembers: [] };

function projectRole(project: string, n: number | string, role = "roles/bigquery.dataViewer"): GcpGrant {
  return plannedGcp(gcpInputs({ project, grant: { kind: "projectRole", role } }, { workloadIdentity: identity(n) }))
    .grant;
}

function impersonation(serviceAccount: string, n: number | string): GcpGrant {
  return plannedGcp(gcpInputs({ grant: { kind: "impersonation", serviceAccount } }, { workloadIdentity: identity(n) }))
    .grant;
}

function customerManaged(serviceAccount: string, namespace: string): GcpGrant {
  const raw = gcpInputs(
    {
      grant: {
        kind: "customerManagedIdentity",
        serviceAccount,
        workloadIdentityPool: "astronomer-prod.svc.id.goog",
        namespace,
      },
    },
    { workloadIdentity: undefined },
  );
  return plannedGcp(raw).grant;
}

describe("GCP IAM driver against the fake (every call validated by Prism)", () => {
  it("projectRole: adds one member and takes it back, foreign bindings of every shape unchanged in content and order", async () => {
    const { projectId } = await createProject(gcp().fakeUrl, { policy: foreignProjectPolicy() });
    const original = await storedPolicy(gcp().fakeUrl, { project: projectId });
    const d = driver();
    const grant = projectRole(projectId, 1);

    expect(await d.ensure(grant)).toEqual({ changed: true, resolved: { preExistingMembers: [] } });
    const after = await storedPolicy(gcp().fakeUrl, { project: projectId });
    expect(after.version).toBe(3);
    expect(after.auditConfigs).toEqual(original.auditConfigs);
    // The role had only a conditional binding: ours is a new, unconditional one at the end.
    expect(after.bindings!.slice(0, -1)).toEqual(original.bindings);
    expect(after.bindings!.at(-1)).toEqual({ role: "roles/bigquery.dataViewer", members: grant.members });
    // Applied again (an update), our own member is not mistaken for someone else's.
    expect(await d.ensure(grant, { grant, resolved: NONE })).toEqual({ changed: false, resolved: NONE });
    expect((await d.read(grant, NONE)).grant.binding).toEqual({ role: grant.role, members: grant.members });

    expect(await d.remove(grant, NONE)).toEqual({ removed: true });
    const restored = await storedPolicy(gcp().fakeUrl, { project: projectId });
    expect({ ...restored, etag: undefined }).toEqual({ ...original, etag: undefined });
    expect((await d.read(grant, NONE)).grant.binding).toBeNull();
    expect(await d.remove(grant, NONE)).toEqual({ removed: false });
  });

  it("impersonation: joins the existing Token Creator binding beside its foreign members, and leaves them", async () => {
    const sa = await createServiceAccount(gcp().fakeUrl, { policy: foreignServiceAccountPolicy() });
    const original = await storedPolicy(gcp().fakeUrl, { serviceAccount: sa.email });
    const d = driver();
    const grant = impersonation(sa.email, 2);
    await d.ensure(grant);
    const after = await storedPolicy(gcp().fakeUrl, { serviceAccount: sa.email });
    expect(after.bindings![0]).toEqual({
      role: "roles/iam.serviceAccountTokenCreator",
      members: [...original.bindings![0]!.members!, `serviceAccount:${identity(2)}`],
    });
    expect(after.bindings![1]).toEqual(original.bindings![1]);
    await d.remove(grant, NONE);
    expect((await storedPolicy(gcp().fakeUrl, { serviceAccount: sa.email })).bindings).toEqual(original.bindings);
  });

  it("customerManagedIdentity: one Workload Identity User binding for the five service accounts, beside a conditional one", async () => {
    const sa = await createServiceAccount(gcp().fakeUrl, { policy: foreignServiceAccountPolicy() });
    const original = await storedPolicy(gcp().fakeUrl, { serviceAccount: sa.email });
    const d = driver();
    const grant = customerManaged(sa.email, "celestial-galaxy-1234");
    expect(grant.members).toHaveLength(5);
    await d.ensure(grant);
    const after = await storedPolicy(gcp().fakeUrl, { serviceAccount: sa.email });
    expect(after.bindings!.slice(0, 2)).toEqual(original.bindings);
    expect(after.bindings![2]).toEqual({ role: "roles/iam.workloadIdentityUser", members: grant.members });
    await d.remove(grant, NONE);
    expect((await storedPolicy(gcp().fakeUrl, { serviceAccount: sa.email })).bindings).toEqual(original.bindings);
  });

  it("records a member/role pair that was there before it, and leaves it in place on delete", async () => {
    const member = `serviceAccount:${identity(3)}`;
    const { projectId } = await createProject(gcp().fakeUrl, {
      policy: { version: 1, bindings: [{ role: "roles/viewer", members: ["user:someone@example.com", member] }] },
    });
    const d = driver();
    const grant = projectRole(projectId, 3, "roles/viewer");
    const { changed, resolved } = await d.ensure(grant);
    expect({ changed, resolved }).toEqual({ changed: false, resolved: { preExistingMembers: [member] } });
    expect(await d.remove(grant, resolved)).toEqual({ removed: false });
    expect((await storedPolicy(gcp().fakeUrl, { project: projectId })).bindings).toEqual([
      { role: "roles/viewer", members: ["user:someone@example.com", member] },
    ]);
  });

  it("re-reads and re-applies when another writer lands between its read and its write (409 ABORTED)", async () => {
    const { projectId } = await createProject(gcp().fakeUrl, { policy: foreignProjectPolicy() });
    await injectFault(gcp().fakeUrl, "projects.getIamPolicy", { project: projectId }, 2, "concurrentWrite");
    const d = driver({ baseDelayMs: 5 });
    const grant = projectRole(projectId, 4);
    expect((await d.ensure(grant)).changed).toBe(true);
    const after = await storedPolicy(gcp().fakeUrl, { project: projectId });
    // Both concurrent writers' members and ours are there: nothing was lost either way.
    const members = after.bindings!.flatMap((b) => b.members ?? []);
    expect(members.filter((m) => m.startsWith("user:concurrent-"))).toHaveLength(2);
    expect(members).toContain(grant.members[0]);
    expect(await callCounts(gcp().fakeUrl, { project: projectId })).toMatchObject({
      "projects.getIamPolicy": 3,
      "projects.setIamPolicy": 3,
    });

    const { projectId: busy } = await createProject(gcp().fakeUrl);
    await injectFault(gcp().fakeUrl, "projects.getIamPolicy", { project: busy }, 10, "concurrentWrite");
    const stubborn = driver({ baseDelayMs: 1, convergeAttempts: 3 });
    const failure = await stubborn.ensure(projectRole(busy, 5)).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(AuthorizationError);
    expect(failure).toMatchObject({
      code: "CONFLICT",
      message: expect.stringMatching(/overwrote it 3 times in a row/),
    });
  });

  it("coalesces 50 concurrent grants to one project into a few setIamPolicy calls", async () => {
    const { projectId } = await createProject(gcp().fakeUrl, { policy: foreignProjectPolicy() });
    const d = driver();
    const grants = Array.from({ length: 50 }, (_, i) => projectRole(projectId, `c${i}`));
    await Promise.all(grants.map((g) => d.ensure(g)));
    const counts = await callCounts(gcp().fakeUrl, { project: projectId });
    expect(counts["projects.setIamPolicy"]).toBeLessThanOrEqual(5);
    const binding = (await storedPolicy(gcp().fakeUrl, { project: projectId })).bindings!.find(
      (b) => b.role === "roles/bigquery.dataViewer" && !b.condition,
    );
    expect(new Set(binding!.members)).toEqual(new Set(grants.map((g) => g.members[0])));
    await Promise.all(grants.map((g) => d.remove(g, NONE)));
    expect((await storedPolicy(gcp().fakeUrl, { project: projectId })).bindings).toEqual(
      foreignProjectPolicy().bindings,
    );
  });

  it("predicts Google's 1,500-principal limit before writing and says the way out", async () => {
    const members = Array.from({ length: 1500 }, (_, i) => `user:u${i}@example.com`);
    const { projectId } = await createProject(gcp().fakeUrl, {
      policy: { version: 1, bindings: [{ role: "roles/viewer", members }] },
    });
    const d = driver();
    const failure = await d.ensure(projectRole(projectId, 6)).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(AuthorizationError);
    expect(failure).toMatchObject({
      code: "QUOTA_EXCEEDED",
      message: expect.stringMatching(/1501 principals .* limit of 1500/),
    });
    expect((await callCounts(gcp().fakeUrl, { project: projectId }))["projects.setIamPolicy"]).toBeUndefined();
  });

  it("counts audit-log exemptions as Google does: a policy at the limit is QUOTA_EXCEEDED before any write", async () => {
    // 1,499 members in bindings and 1 exempted from audit logging: Google's 1,500, with no room left.
    const members = Array.from({ length: 1499 }, (_, i) => `user:u${i}@example.com`);
    const auditConfigs = [
      {
        service: "allServices",
        auditLogConfigs: [{ logType: "DATA_READ", exemptedMembers: ["user:auditor@example.com"] }],
      },
    ];
    const { projectId } = await createProject(gcp().fakeUrl, {
      policy: { version: 1, bindings: [{ role: "roles/viewer", members }], auditConfigs },
    });
    const before = await storedPolicy(gcp().fakeUrl, { project: projectId });
    const failure = await driver()
      .ensure(projectRole(projectId, 8))
      .catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(AuthorizationError);
    expect(failure).toMatchObject({
      code: "QUOTA_EXCEEDED",
      message: expect.stringMatching(/1501 principals \(now 1500, counting role bindings and audit-log exemptions/),
    });
    expect((await callCounts(gcp().fakeUrl, { project: projectId }))["projects.setIamPolicy"]).toBeUndefined();
    expect(await storedPolicy(gcp().fakeUrl, { project: projectId })).toEqual(before);
  });

  it("a deleted project or service account is a clear error naming it, never re-created", async () => {
    const { projectId } = await createProject(gcp().fakeUrl);
    const sa = await createServiceAccount(gcp().fakeUrl);
    await deleteProject(gcp().fakeUrl, projectId);
    await deleteServiceAccount(gcp().fakeUrl, sa.email);
    const d = driver();
    await expect(d.read(projectRole(projectId, 7), NONE)).rejects.toThrow(TargetMissingError);
    await expect(d.ensure(projectRole(projectId, 7))).rejects.toThrow(
      new RegExp(`project ${projectId} does not exist`),
    );
    await expect(d.remove(impersonation(sa.email, 7), NONE)).rejects.toMatchObject({
      code: "TARGET_MISSING",
      message: expect.stringContaining(`service account ${sa.email} does not exist`),
    });
  });
});
