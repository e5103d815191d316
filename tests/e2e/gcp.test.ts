import path from "node:path";
import { describe, expect, inject, it } from "vitest";
import { AirflowConnectionsDriver } from "../../provider/connections/airflow";
import { airflowTarget } from "../support/airflow";
import { programStack, repoRoot } from "../support/pulumiProgram";
import {
  SANDBOX_GCP_TOKEN,
  callCounts,
  createProject,
  createServiceAccount,
  foreignProjectPolicy,
  foreignServiceAccountPolicy,
  gcpClients,
  storedPolicy,
} from "../support/gcp";
import { gcpEnv } from "../../scripts/toolchain.mjs";
import { startRecordingProxy } from "../../scripts/recordingProxy.mjs";

const gcp = () => inject("endpoints").gcp;
const withoutEtag = <T extends { etag?: string | null }>(policy: T) => ({ ...policy, etag: undefined });

function gcpStack(stackName: string, settings: Record<string, string | number>, googleUrl = gcp().url) {
  const server = inject("endpoints").airflow3;
  const config: Record<string, { value: string; secret?: boolean }> = {
    "deployment-authorization:airflowPassword": { value: server.password, secret: true },
    "gcpe2e:airflowUrl": { value: server.url },
    "gcpe2e:airflowUsername": { value: server.username },
  };
  for (const [key, value] of Object.entries(settings)) config[`gcpe2e:${key}`] = { value: String(value) };
  return programStack({
    program: path.join(repoRoot, "tests/e2e/programs/gcp.js"),
    stackName,
    config,
    env: gcpEnv(googleUrl) as Record<string, string>,
  });
}

describe("GCP with the real pulumi CLI", () => {
  it("project role: up, no-op preview, drift in either half shown and repaired, destroy leaves exactly the foreign bindings", async () => {
    const { projectId } = await createProject(gcp().fakeUrl, { policy: foreignProjectPolicy() });
    const original = await storedPolicy(gcp().fakeUrl, { project: projectId });
    const stack = await gcpStack("gcp-life", {
      kind: "projectRole",
      project: projectId,
      role: "roles/bigquery.dataViewer",
    });
    const member = "serviceAccount:astro-gcp-life-0@astronomer-prod.iam.gserviceaccount.com";
    const connectionId = "google_cloud_gcp_life_0";
    const connections = new AirflowConnectionsDriver();
    const log: string[] = [];
    try {
      const up = await stack.stack.up({ onOutput: (l) => log.push(l) });
      expect(up.outputs.grants!.value[0]).toMatchObject({
        cloud: "gcp",
        resource: `projects/${projectId}`,
        binding: { role: "roles/bigquery.dataViewer", members: [member] },
        preExistingMembers: [],
      });
      const after = await storedPolicy(gcp().fakeUrl, { project: projectId });
      expect(after.bindings!.slice(0, -1)).toEqual(original.bindings);
      expect(after.bindings!.at(-1)).toEqual({ role: "roles/bigquery.dataViewer", members: [member] });
      expect(await connections.read(airflowTarget(), connectionId)).toMatchObject({
        conn_type: "google_cloud_platform",
        extra: { project: projectId },
      });

      expect((await stack.stack.preview({ diff: true })).changeSummary).toEqual({ same: 3 });

      // Drift by hand: the member removed from the policy, the connection's project edited.
      const { crm } = gcpClients(gcp().url, SANDBOX_GCP_TOKEN);
      const live = (
        await crm.projects.getIamPolicy({
          resource: `projects/${projectId}`,
          requestBody: { options: { requestedPolicyVersion: 3 } },
        })
      ).data;
      await crm.projects.setIamPolicy({
        resource: `projects/${projectId}`,
        requestBody: { policy: { ...live, bindings: live.bindings!.filter((b) => !b.members!.includes(member)) } },
      });
      const payload = (await connections.read(airflowTarget(), connectionId))!;
      await connections.update(airflowTarget(), connectionId, { ...payload, extra: { project: "someone-else" } });

      const preview = await stack.stack.preview({ diff: true, refresh: true });
      expect(preview.changeSummary.update).toBe(1);
      expect(preview.stdout).toMatch(/binding/);
      expect(preview.stdout).toMatch(/roles\/bigquery\.dataViewer/);
      expect(preview.stdout).toMatch(/project.*someone-else.*\n?.*/s);

      const repaired = await stack.stack.up({ refresh: true });
      expect(repaired.summary.resourceChanges?.update).toBe(1);
      const fixed = await storedPolicy(gcp().fakeUrl, { project: projectId });
      expect(fixed.bindings!.slice(0, -1)).toEqual(original.bindings);
      expect(fixed.bindings!.at(-1)).toEqual({ role: "roles/bigquery.dataViewer", members: [member] });
      expect((await connections.read(airflowTarget(), connectionId))?.extra).toEqual({ project: projectId });

      await stack.stack.destroy();
      expect(withoutEtag(await storedPolicy(gcp().fakeUrl, { project: projectId }))).toEqual(withoutEtag(original));
      expect(await connections.read(airflowTarget(), connectionId)).toBeUndefined();
      expect(stack.stateText()).not.toContain(inject("endpoints").airflow3.password);
      expect(log.join("")).not.toContain(SANDBOX_GCP_TOKEN);
    } finally {
      await stack.dispose();
    }
  });

  it("50 resources on one project in one up: at most one setIamPolicy per create, none lost, a no-op up writes nothing", async () => {
    const { projectId } = await createProject(gcp().fakeUrl, { policy: foreignProjectPolicy() });
    const stack = await gcpStack("g50", { kind: "projectRole", project: projectId, role: "roles/viewer", count: 50 });
    try {
      const started = Date.now();
      await stack.stack.up();
      const calls = await callCounts(gcp().fakeUrl, { project: projectId });
      console.log(
        `pulumi up of 50 GCP authorizations on one project: ${Date.now() - started} ms, calls ${JSON.stringify(calls)}`,
      );
      // An edit goes out when no write of the policy is in flight; those that came during one share
      // the next. More writes than creates would mean the provider's own writes raced each other
      // into 409s and were made again.
      expect(calls["projects.setIamPolicy"]).toBeLessThanOrEqual(50);
      const viewer = (await storedPolicy(gcp().fakeUrl, { project: projectId })).bindings!.find(
        (b) => b.role === "roles/viewer" && !b.condition,
      )!;
      expect(viewer.members).toHaveLength(51); // the foreign auditor and our 50
      expect(new Set(viewer.members).size).toBe(51);

      await stack.stack.up();
      expect((await callCounts(gcp().fakeUrl, { project: projectId }))["projects.setIamPolicy"]).toBe(
        calls["projects.setIamPolicy"],
      );
      await stack.stack.destroy();
      expect((await storedPolicy(gcp().fakeUrl, { project: projectId })).bindings).toEqual(
        foreignProjectPolicy().bindings,
      );
    } finally {
      await stack.dispose();
    }
  });

  it("two stacks at once on one service account (impersonation and customer-managed identity): every member lands, destroy restores it", async () => {
    const sa = await createServiceAccount(gcp().fakeUrl, { policy: foreignServiceAccountPolicy() });
    const original = await storedPolicy(gcp().fakeUrl, { serviceAccount: sa.email });
    const first = await gcpStack("imp", { kind: "impersonation", serviceAccount: sa.email, count: 10 });
    const second = await gcpStack("cmi", {
      kind: "customerManagedIdentity",
      serviceAccount: sa.email,
      workloadIdentityPool: "astronomer-prod.svc.id.goog",
      count: 10,
    });
    try {
      await Promise.all([first.stack.up(), second.stack.up()]);
      const policy = await storedPolicy(gcp().fakeUrl, { serviceAccount: sa.email });
      const membersOf = (role: string) =>
        policy.bindings!.filter((b) => b.role === role && !b.condition).flatMap((b) => b.members!);
      expect(new Set(membersOf("roles/iam.serviceAccountTokenCreator"))).toEqual(
        new Set([
          ...original.bindings![0]!.members!,
          ...Array.from(
            { length: 10 },
            (_, i) => `serviceAccount:astro-imp-${i}@astronomer-prod.iam.gserviceaccount.com`,
          ),
        ]),
      );
      expect(new Set(membersOf("roles/iam.workloadIdentityUser"))).toEqual(
        new Set(
          Array.from({ length: 10 }, (_, i) =>
            ["worker", "scheduler"].map(
              (c) => `serviceAccount:astronomer-prod.svc.id.goog[cmi-ns${i}/cmi-ns${i}-${c}-serviceaccount]`,
            ),
          ).flat(),
        ),
      );
      await Promise.all([first.stack.destroy(), second.stack.destroy()]);
      expect(withoutEtag(await storedPolicy(gcp().fakeUrl, { serviceAccount: sa.email }))).toEqual(
        withoutEtag(original),
      );
    } finally {
      await Promise.all([first.dispose(), second.dispose()]);
    }
  });

  it("a preview with bad input fails naming each field, and makes no remote call", async () => {
    const google = await startRecordingProxy(gcp().url);
    const stack = await gcpStack(
      "gcp-bad",
      { kind: "impersonation", serviceAccount: "not-an-email", project: "Bad_Project" },
      google.url,
    );
    try {
      const failure = await stack.stack.preview({ diff: true }).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(failure?.message).toMatch(
        /gcp\.grant\.serviceAccount = "not-an-email": must be a service account e-mail, .* such as /,
      );
      expect(failure?.message).toMatch(/gcp\.project = "Bad_Project": must be a project id/);
      expect(google.requests).toEqual([]);
    } finally {
      await stack.dispose();
      await google.close();
    }
  });
});
