import path from "node:path";
import { ListRoleTagsCommand } from "@aws-sdk/client-iam";
import { describe, expect, inject, it } from "vitest";
import { AirflowConnectionsDriver } from "../../provider/connections/airflow";
import { renderMarkdown, reviewPreview } from "../../cli/review";
import { findStatement, minify } from "../../provider/grants/aws/trustPolicy";
import { airflowTarget } from "../support/airflow";
import { createRole, iamClient, trustPolicyOf, uniqueName } from "../support/aws";
import {
  createIdentity,
  foreignCredentials,
  seedRoleAssignment,
  storageAccountScope,
  storedCredentials,
  storedRoleAssignments,
  storedTags,
} from "../support/azure";
import { AKS_ISSUER, azureInputs, foreignPolicy, plannedAzure } from "../support/fixtures";
import { createProject, foreignProjectPolicy, storedLabels, storedPolicy } from "../support/gcp";
import { ProgramStack, programStack, repoRoot } from "../support/pulumiProgram";
import { astroEnv, azureEnv, gcpEnv, motoEnv } from "../../scripts/toolchain.mjs";
import { seedDeployment, storedEnvironmentObjects } from "../support/astro";

const endpoints = () => inject("endpoints");
const iam = () => iamClient(endpoints().moto.url);
const ROLE = "roles/bigquery.dataViewer";

/** One Deployment's identities and the targets that trust them, on every cloud. */
async function deploymentTargets(tag: string) {
  const roleName = `own-${tag}`;
  const roleArn = await createRole(iam(), roleName, foreignPolicy());
  const { projectId } = await createProject(endpoints().gcp.fakeUrl, { policy: foreignProjectPolicy() });
  const identity = await createIdentity(endpoints().azure.fakeUrl, { credentials: foreignCredentials(1) });
  const scope = storageAccountScope(identity.subscriptionId, identity.resourceGroup, "lake");
  return {
    roleName,
    roleArn,
    projectId,
    identity,
    scope,
    awsIdentity: `arn:aws:iam::111122223333:role/astro-${tag}-deployment`,
    gcpIdentity: `astro-${tag}@astronomer-prod.iam.gserviceaccount.com`,
    namespace: `${tag}-ns`,
  };
}
type Targets = Awaited<ReturnType<typeof deploymentTargets>>;

function ownershipStack(
  stackName: string,
  targets: Targets,
  suffix: string,
  astro?: { organizationId: string; id: string },
): Promise<ProgramStack> {
  const server = endpoints().airflow3;
  const settings: Record<string, string> = {
    suffix,
    ...(astro ? { astroOrganizationId: astro.organizationId, astroDeploymentId: astro.id } : {}),
    airflowUrl: server.url,
    airflowUsername: server.username,
    awsIdentity: targets.awsIdentity,
    awsRole: targets.roleArn,
    gcpIdentity: targets.gcpIdentity,
    gcpProject: targets.projectId,
    azureIdentity: targets.identity.id,
    azureIssuer: AKS_ISSUER,
    azureNamespace: targets.namespace,
    azureScope: targets.scope,
  };
  const config: Record<string, { value: string; secret?: boolean }> = {
    "aws:region": { value: "us-east-1" },
    "deployment-authorization:airflowPassword": { value: server.password, secret: true },
    ...(astro ? { "deployment-authorization:astroToken": { value: endpoints().astro.token, secret: true } } : {}),
  };
  for (const [key, value] of Object.entries(settings)) config[`own:${key}`] = { value };
  return programStack({
    program: path.join(repoRoot, "tests/e2e/programs/ownership.js"),
    stackName,
    config,
    env: {
      ...motoEnv(endpoints().moto.url),
      ...gcpEnv(endpoints().gcp.url),
      ...azureEnv(endpoints().azure.url, endpoints().azure.caFile),
      ...(astro ? { ...astroEnv(endpoints().astro.url), ASTRO_API_TOKEN: "" } : {}),
    } as Record<string, string>,
  });
}

/** What each cloud holds of the Deployment's access now. */
async function liveAccess(targets: Targets) {
  const statement = findStatement(await trustPolicyOf(iam(), targets.roleName), "AirflowDAAssumeRole");
  const principals = ([] as string[]).concat(
    (statement?.Principal as { AWS?: string | string[] } | undefined)?.AWS ?? [],
  );
  const policy = await storedPolicy(endpoints().gcp.fakeUrl, { project: targets.projectId });
  const members = (policy.bindings ?? []).filter((b) => b.role === ROLE && !b.condition).flatMap((b) => b.members);
  const credentials = (await storedCredentials(endpoints().azure.fakeUrl, targets.identity.id)).filter((c) =>
    c.properties.subject.includes(`:${targets.namespace}:`),
  );
  const assignments = (await storedRoleAssignments(endpoints().azure.fakeUrl, targets.scope)).filter(
    (a) => a.properties.principalId === targets.identity.properties.principalId,
  );
  return {
    aws: principals.includes(targets.awsIdentity),
    gcp: members.includes(`serviceAccount:${targets.gcpIdentity}`),
    azureCredentials: credentials.length,
    azureAssignment: assignments.length,
  };
}

const connectionsOf = async (suffix: string) => {
  const driver = new AirflowConnectionsDriver();
  const ids = ["aws", "gcp", "azure"].map((p) => `${p}_${suffix}`);
  return Promise.all(ids.map(async (id) => (await driver.read(airflowTarget(), id)) !== undefined));
};

/** No resource would change after a refresh: what is live is what state says. */
async function expectNoChangesAfterRefresh(stack: ProgramStack) {
  const preview = await stack.cli(["preview", "--refresh", "--expect-no-changes", "--diff"]);
  expect(preview.code, `${preview.stdout}\n${preview.stderr}`).toBe(0);
}

async function expectOnlyForeignLeft(targets: Targets) {
  expect(minify(await trustPolicyOf(iam(), targets.roleName))).toBe(minify(foreignPolicy()));
  expect((await storedPolicy(endpoints().gcp.fakeUrl, { project: targets.projectId })).bindings).toEqual(
    foreignProjectPolicy().bindings,
  );
  expect(await liveAccess(targets)).toMatchObject({ azureCredentials: 0, azureAssignment: 0 });
}

describe("ownership at the edges, with the real pulumi CLI", () => {
  it("a replacement that failed (a wrong Airflow URL), then the URL put back: access is live, and a refresh agrees", async () => {
    const tag = uniqueName("fix");
    const suffix = tag.replace("-", "_");
    const targets = await deploymentTargets(tag);
    const stack = await ownershipStack("own-fix", targets, suffix);
    try {
      await stack.stack.up();
      expect(await liveAccess(targets)).toEqual({ aws: true, gcp: true, azureCredentials: 4, azureAssignment: 1 });

      // A typo in the URL replaces all three (delete first); every create fails on the closed port.
      await stack.stack.setConfig("own:airflowUrl", { value: "http://127.0.0.1:9" });
      const failed = await stack.cli(["up", "--yes", "--skip-preview"]);
      expect(failed.code).not.toBe(0);
      const state = JSON.parse(stack.stateText()) as {
        checkpoint: {
          latest: {
            resources: Array<{
              type: string;
              pendingReplacement?: boolean;
              outputs?: { resolved?: Record<string, unknown> };
            }>;
          };
        };
      };
      const dynamic = state.checkpoint.latest.resources.filter((r) => r.type.startsWith("pulumi-nodejs:dynamic"));
      expect(dynamic.filter((r) => r.pendingReplacement)).toHaveLength(3);

      // A stack in this state made by an earlier release holds no instance: the state says so too.
      const exported = await stack.stack.exportStack();
      const deployment = exported.deployment as {
        resources: Array<{ type: string; outputs?: { resolved?: Record<string, unknown> } }>;
      };
      for (const resource of deployment.resources.filter((r) => r.type.startsWith("pulumi-nodejs:dynamic"))) {
        delete resource.outputs?.resolved?.instance;
      }
      await stack.stack.importStack(exported);

      await stack.stack.setConfig("own:airflowUrl", { value: endpoints().airflow3.url });
      // The review of the fixing preview says what the engine will do: create all three again.
      const preview = await stack.cli(["preview", "--json"]);
      const reviews = reviewPreview(JSON.parse(preview.stdout));
      expect(reviews.map((r) => [r.cloud, r.operation]).sort()).toEqual([
        ["aws", "replace"],
        ["azure", "replace"],
        ["gcp", "replace"],
      ]);
      for (const review of reviews) {
        expect(review.grant.added.length).toBeGreaterThan(0);
        expect(review.risks[0]).toMatch(/pending replacement in state/);
      }
      expect(renderMarkdown(reviews)).not.toMatch(/: same|no change/);

      // What the engine does with the resources left pending replacement differs by CLI version;
      // the provider must end in the same place either way.
      const deletedAgain = new Set<string>();
      const fixed = await stack.stack.up({
        onEvent: (event) => {
          const step = event.resOutputsEvent?.metadata;
          if (step?.op === "delete-replaced") deletedAgain.add(step.urn.split("::").at(-1)!);
        },
      });
      expect(fixed.summary.result).toBe("succeeded");
      expect(await liveAccess(targets)).toEqual({ aws: true, gcp: true, azureCredentials: 4, azureAssignment: 1 });
      expect(await connectionsOf(suffix)).toEqual([true, true, true]);
      await expectNoChangesAfterRefresh(stack);
      // v3.259.0 (the floor) deletes each old resource again after its replacement is created, and
      // that delete finds the new instance's claims and removes nothing; v3.277.0 (current) drops
      // them from state without a delete.
      expect([...deletedAgain].sort()).toEqual(inject("toolchain").name === "floor" ? ["aws", "azure", "gcp"] : []);

      await stack.stack.destroy();
      await expectOnlyForeignLeft(targets);
      expect(await connectionsOf(suffix)).toEqual([false, false, false]);
    } finally {
      await stack.dispose();
    }
  });

  it("two stacks authorize one Deployment: destroying one leaves the other's access, destroying both leaves nothing", async () => {
    const tag = uniqueName("two");
    const suffix = tag.replace("-", "_");
    const targets = await deploymentTargets(tag);
    const [first, second] = await Promise.all([
      ownershipStack("own-a", targets, `${suffix}_a`),
      ownershipStack("own-b", targets, `${suffix}_b`),
    ]);
    try {
      await first.stack.up();
      await second.stack.up();
      expect(await liveAccess(targets)).toEqual({ aws: true, gcp: true, azureCredentials: 4, azureAssignment: 1 });

      await first.stack.destroy();
      expect(await liveAccess(targets)).toEqual({ aws: true, gcp: true, azureCredentials: 4, azureAssignment: 1 });
      expect(await connectionsOf(`${suffix}_a`)).toEqual([false, false, false]);
      expect(await connectionsOf(`${suffix}_b`)).toEqual([true, true, true]);
      await expectNoChangesAfterRefresh(second);

      await second.stack.destroy();
      await expectOnlyForeignLeft(targets);
    } finally {
      await Promise.all([first.dispose(), second.dispose()]);
    }
  });
});

describe("one Deployment's connections split between its Airflow and Astro's Environment Manager, with the real pulumi CLI", () => {
  it("destroying the stack that made the grants leaves them to the other, which removes them when it goes", async () => {
    const tag = uniqueName("split");
    const suffix = tag.replace("-", "_");
    const targets = await deploymentTargets(tag);
    const deployment = await seedDeployment(endpoints().astro.fakeUrl, { cloudProvider: "AWS" });
    const inAirflow = await ownershipStack("split-airflow", targets, `${suffix}_a`);
    const inAstro = await ownershipStack("split-astro", targets, `${suffix}_m`, deployment);
    try {
      // Moving to the Environment Manager: the new stack first, then the old one goes.
      await inAirflow.stack.up();
      const up = await inAstro.stack.up();
      expect(await storedEnvironmentObjects(endpoints().astro.fakeUrl, deployment.id)).toHaveLength(3);
      const found = up.outputs.grants!.value as Record<string, unknown>;
      expect(Object.keys(found).sort()).toEqual(["aws", "azure", "gcp"]);

      await inAirflow.stack.destroy();
      expect(await liveAccess(targets)).toEqual({ aws: true, gcp: true, azureCredentials: 4, azureAssignment: 1 });
      expect(await connectionsOf(`${suffix}_a`)).toEqual([false, false, false]);
      await expectNoChangesAfterRefresh(inAstro);

      await inAstro.stack.destroy();
      expect(await storedEnvironmentObjects(endpoints().astro.fakeUrl, deployment.id)).toEqual([]);
      await expectOnlyForeignLeft(targets);
      expect(await claimTags(targets.roleName)).toEqual([]);
      expect(await claimLabels(targets.projectId)).toEqual([]);
      expect(await storedTags(endpoints().azure.fakeUrl, targets.identity.id)).toEqual({});
    } finally {
      await Promise.all([inAirflow.dispose(), inAstro.dispose()]);
    }
  });
});

describe("a cluster's role trusted for Deployments in different Airflows, with the real pulumi CLI", () => {
  it("destroying one Deployment's stack leaves the trust to the other, destroying both leaves nothing", async () => {
    const roleName = `cluster-${uniqueName("x")}`;
    await createRole(iam(), roleName, foreignPolicy());
    const clusterRole = `arn:aws:iam::222233334444:role/AirflowS3Logs-${uniqueName("clu")}`;
    const stackFor = (stackName: string, server: { url: string; username: string; password: string }) =>
      programStack({
        program: path.join(repoRoot, "tests/e2e/programs/clusterRole.js"),
        stackName,
        config: {
          "aws:region": { value: "us-east-1" },
          "deployment-authorization:airflowPassword": { value: server.password, secret: true },
          "cluster:role": { value: roleName },
          "cluster:clusterRole": { value: clusterRole },
          "cluster:connectionId": { value: `aws_logs_${roleName.replace(/-/g, "_")}` },
          "cluster:airflowUrl": { value: server.url },
          "cluster:airflowUsername": { value: server.username },
        },
        env: motoEnv(endpoints().moto.url) as Record<string, string>,
      });
    const trusted = async () => {
      const statement = findStatement(await trustPolicyOf(iam(), roleName), "AirflowDAAssumeRole");
      return ([] as string[]).concat((statement?.Principal as { AWS?: string | string[] } | undefined)?.AWS ?? []);
    };
    const [inAirflow3, inAirflow2] = await Promise.all([
      stackFor("cluster-a", endpoints().airflow3),
      stackFor("cluster-b", endpoints().airflow2),
    ]);
    try {
      await inAirflow3.stack.up();
      await inAirflow2.stack.up();
      expect(await trusted()).toEqual([clusterRole]);

      await inAirflow3.stack.destroy();
      expect(await trusted()).toEqual([clusterRole]);
      await expectNoChangesAfterRefresh(inAirflow2);

      await inAirflow2.stack.destroy();
      expect(minify(await trustPolicyOf(iam(), roleName))).toBe(minify(foreignPolicy()));
      expect(await claimTags(roleName)).toEqual([]);
    } finally {
      await Promise.all([inAirflow3.dispose(), inAirflow2.dispose()]);
    }
  });
});

async function claimLabels(projectId: string): Promise<string[]> {
  const { labels } = await storedLabels(endpoints().gcp.fakeUrl, projectId);
  return Object.keys(labels).filter((key) => key.startsWith("deployment-authorization-"));
}

async function claimTags(roleName: string): Promise<string[]> {
  const { Tags } = await iam().send(new ListRoleTagsCommand({ RoleName: roleName }));
  return (Tags ?? []).map((tag) => tag.Key ?? "").filter((key) => key.startsWith("DeploymentAuthorization:"));
}

describe("one Azure identity's role assignment for Deployments in different Airflows, with the real pulumi CLI", () => {
  it("destroying one Deployment's stack leaves the assignment and credentials to the other, destroying both leaves only foreign content", async () => {
    const fakeUrl = endpoints().azure.fakeUrl;
    // The second Deployment federated by hand before it was managed: its credentials carry names of
    // someone's choosing, so nothing but its claim tells that it relies on the assignment.
    const [first, second] = [uniqueName("shared-a"), uniqueName("shared-b")];
    const adopterNamespace = `${second}-ns0`;
    const handMade = plannedAzure(azureInputs({ namespace: adopterNamespace })).grant.credentials.map((c, i) => ({
      name: `by-hand-${i}`,
      issuer: c.issuer,
      subject: c.subject,
    }));
    const foreign = foreignCredentials(1);
    const identity = await createIdentity(fakeUrl, { credentials: [...foreign, ...handMade], tags: { team: "data" } });
    const scope = storageAccountScope(identity.subscriptionId, identity.resourceGroup, "lake");
    const foreignAssignment = await seedRoleAssignment(fakeUrl, { scope, role: "Reader" });
    const stackFor = (
      stackName: string,
      server: { url: string; username: string; password: string },
      extra: Record<string, string> = {},
    ) => {
      const config: Record<string, { value: string; secret?: boolean }> = {
        "deployment-authorization:airflowPassword": { value: server.password, secret: true },
        "aze2e:airflowUrl": { value: server.url },
        "aze2e:airflowUsername": { value: server.username },
        "aze2e:issuerUrl": { value: AKS_ISSUER },
        "aze2e:identity": { value: identity.id },
        "aze2e:scope": { value: scope },
      };
      for (const [key, value] of Object.entries(extra)) config[`aze2e:${key}`] = { value };
      return programStack({
        program: path.join(repoRoot, "tests/e2e/programs/azure.js"),
        stackName,
        config,
        env: azureEnv(endpoints().azure.url, endpoints().azure.caFile) as Record<string, string>,
      });
    };
    const ourAssignments = async () =>
      (await storedRoleAssignments(fakeUrl, scope, identity.properties.principalId)).map((a) => a.name);
    const credentialNames = async () => (await storedCredentials(fakeUrl, identity.id)).map((c) => c.name).sort();
    const claimTags = async () =>
      Object.keys(await storedTags(fakeUrl, identity.id)).filter((key) => key.startsWith("DeploymentAuthorization:"));
    const [inAirflow3, inAirflow2] = await Promise.all([
      stackFor(first, endpoints().airflow3),
      stackFor(second, endpoints().airflow2, { adoptExistingCredentials: "true" }),
    ]);
    try {
      await inAirflow3.stack.up();
      await inAirflow2.stack.up();
      const [assignment] = await ourAssignments();
      expect(await ourAssignments()).toEqual([assignment]);
      const claimsWhileBoth = await claimTags();
      const adopterCredentials = [...foreign, ...handMade].map((c) => c.name).sort();

      await inAirflow3.stack.destroy();
      expect(await ourAssignments()).toEqual([assignment]);
      expect(await credentialNames()).toEqual(adopterCredentials);
      expect(claimsWhileBoth).toHaveLength(2);
      expect(await claimTags()).toHaveLength(1);
      await expectNoChangesAfterRefresh(inAirflow2);

      await inAirflow2.stack.destroy();
      expect(await ourAssignments()).toEqual([]);
      expect(await credentialNames()).toEqual(foreign.map((c) => c.name));
      expect(await storedTags(fakeUrl, identity.id)).toEqual({ team: "data" });
      expect((await storedRoleAssignments(fakeUrl, scope)).map((a) => a.name)).toEqual([foreignAssignment.name]);
    } finally {
      await Promise.all([inAirflow3.dispose(), inAirflow2.dispose()]);
    }
  });
});
