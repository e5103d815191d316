import { LocalWorkspace, PulumiCommand } from "@pulumi/pulumi/automation";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, inject, it } from "vitest";
import { statementsOf } from "../../provider/grants/aws/trustPolicy";
import type * as Automation from "../../sdk/automation";
import type { DeploymentAuthorizationArgs } from "../../sdk/args";
import { seedDeployment, storedEnvironmentObjects } from "../support/astro";
import { createRole, iamClient, trustPolicyOf, uniqueName } from "../support/aws";
import { FOREIGN_COUNT, foreignPolicy } from "../support/fixtures";
import { repoRoot } from "../support/pulumiProgram";
import { astroEnv, motoEnv } from "../../scripts/toolchain.mjs";

// The compiled helper, as a portal installs it: its provider stub points at the compiled provider.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const automation = require(path.join(repoRoot, "dist/sdk/automation.js")) as typeof Automation;
const { AuthorizationRunError, applyAuthorizations, previewAuthorizations, removeAuthorizations } = automation;
type StackTarget = Automation.StackTarget;
type AuthorizationRunError = Automation.AuthorizationRunError;

const base = path.join(repoRoot, ".pulumi-state");
mkdirSync(base, { recursive: true });
const root = mkdtempSync(path.join(base, "automation-"));
mkdirSync(path.join(root, "backend"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A portal's view of one stack: a file backend here (the portal example uses s3:// on moto). */
function target(stackName: string, extra: Partial<StackTarget> = {}): StackTarget {
  const astro = inject("endpoints").astro;
  return {
    stackName,
    backendUrl: `file://${path.join(root, "backend")}`,
    pulumiRoot: path.dirname(inject("pulumiBin")),
    // An inline program runs in the portal's own process: what it reads while running comes from config.
    config: {
      "deployment-authorization:astroToken": { value: astro.token, secret: true },
      "deployment-authorization:astroApiUrl": { value: astro.url },
    },
    env: {
      PATH: inject("pulumiPath"),
      PULUMI_HOME: path.join(root, "home"),
      PULUMI_CONFIG_PASSPHRASE: "portal-passphrase",
      PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK: "true",
      PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
      ...motoEnv(inject("endpoints").moto.url),
      ...astroEnv(astro.url),
    },
    ...extra,
  };
}

/** `pulumi refresh` of a helper's stack, as an operator runs it: the provider reads what is live into state. */
async function refresh(t: StackTarget) {
  const project = "deployment-authorizations";
  const stack = await LocalWorkspace.selectStack(
    // A refresh runs no program: state holds all it needs.
    { stackName: t.stackName, projectName: project, program: async () => ({}) },
    {
      // Inside the repository, where the provider process finds @pulumi/pulumi.
      workDir: mkdtempSync(path.join(root, "refresh-")),
      envVars: { PULUMI_BACKEND_URL: t.backendUrl, PULUMI_SKIP_UPDATE_CHECK: "true", ...t.env },
      projectSettings: { name: project, runtime: "nodejs", backend: { url: t.backendUrl } },
      pulumiCommand: await PulumiCommand.get({ root: t.pulumiRoot!, skipVersionCheck: true }),
    },
  );
  await stack.setAllConfig(t.config ?? {});
  return stack.refresh();
}

/** One authorization for a Deployment: its default identity trusted on the role, the connection in Astro. */
async function request(targetRole: string) {
  const deployment = await seedDeployment(inject("endpoints").astro.fakeUrl, { cloudProvider: "AWS" });
  const args: DeploymentAuthorizationArgs = {
    deployment: { organizationId: deployment.organizationId, deploymentId: deployment.id },
    aws: { targetRole, region: "us-east-1" },
    connection: { connectionId: "aws_portal", target: "astro" },
  };
  return { deployment, args };
}

describe("the Automation helper (pulumi-deployment-authorization/automation), as a portal uses it", () => {
  it("previews, applies and removes with structured results; different stacks run in parallel, one stack in turn", async () => {
    const iam = iamClient(inject("endpoints").moto.url);
    const roleName = uniqueName("portal");
    const roleArn = await createRole(iam, roleName, foreignPolicy());
    // One by the role's name: its ARN is known only at apply, and the outputs must show it from then on.
    const [a, b] = [await request(roleName), await request(roleArn)];

    const preview = await previewAuthorizations(target("team-a"), { authorizations: { "deployment-a": a.args } });
    expect(preview.changes).toHaveLength(1);
    expect(preview.changes[0]).toMatchObject({
      name: "deployment-a",
      operation: "create",
      cloud: "aws",
      grant: { added: [`${a.deployment.effectiveWorkloadIdentity} may assume it`] },
    });
    expect(statementsOf(await trustPolicyOf(iam, roleName))).toHaveLength(FOREIGN_COUNT);

    // Two teams' stacks at once, and the same stack asked twice at once.
    const started = Date.now();
    const [first, second, again] = await Promise.all([
      applyAuthorizations(target("team-a"), { authorizations: { "deployment-a": a.args } }),
      applyAuthorizations(target("team-b"), { authorizations: { "deployment-b": b.args } }),
      applyAuthorizations(target("team-a"), { authorizations: { "deployment-a": a.args } }),
    ]);
    console.log(`three applies (two stacks in parallel, one stack twice): ${Date.now() - started} ms`);
    // The stack, the component and its resource.
    expect(first.summary).toMatchObject({ create: 3 });
    expect(second.summary).toMatchObject({ create: 3 });
    // The second request for team-a ran after the first had finished: nothing left to do.
    expect(again.summary).toMatchObject({ same: 3 });
    expect(again.changes).toEqual([]);
    const applied = {
      grant: { cloud: "aws", roleArn },
      connection: {
        connectionId: "aws_portal",
        connType: "aws",
        extra: { role_arn: roleArn, region_name: "us-east-1" },
      },
    };
    expect(first.outputs["deployment-a"]).toMatchObject(applied);
    expect(again.outputs["deployment-a"]).toMatchObject(applied);
    // A refresh leaves the plan's words in state; the next apply makes its outputs from that state.
    expect((await refresh(target("team-a"))).summary.resourceChanges).toEqual({ same: 3 });
    const afterRefresh = await applyAuthorizations(target("team-a"), { authorizations: { "deployment-a": a.args } });
    expect(afterRefresh.summary).toMatchObject({ same: 3 });
    expect(afterRefresh.outputs["deployment-a"]).toMatchObject(applied);
    const entries = JSON.stringify(await trustPolicyOf(iam, roleName));
    expect(entries).toContain(a.deployment.effectiveWorkloadIdentity);
    expect(entries).toContain(b.deployment.effectiveWorkloadIdentity);

    const removed = await removeAuthorizations(target("team-b"));
    expect(removed.changes).toMatchObject([{ name: "deployment-b", operation: "delete" }]);
    expect(await storedEnvironmentObjects(inject("endpoints").astro.fakeUrl, b.deployment.id)).toEqual([]);
    await removeAuthorizations(target("team-a"));
    expect(statementsOf(await trustPolicyOf(iam, roleName))).toHaveLength(FOREIGN_COUNT);
  });

  it("reports errors with the core's stable code, per resource", async () => {
    const missing = await request("arn:aws:iam::123456789012:role/never-created");
    const failure = await applyAuthorizations(target("team-missing"), {
      authorizations: { gone: missing.args },
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(failure).toBeInstanceOf(AuthorizationRunError);
    expect(failure).toMatchObject({ code: "TARGET_MISSING" });
    expect((failure as AuthorizationRunError).failures[0]).toMatchObject({
      code: "TARGET_MISSING",
      urn: expect.stringContaining("gone"),
      message: expect.stringContaining("never-created"),
    });

    const invalid = await previewAuthorizations(target("team-invalid"), {
      authorizations: {
        bad: { ...missing.args, connection: { connectionId: "not valid!", target: "astro" } },
      },
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(invalid).toMatchObject({
      code: "INVALID_INPUT",
      message: expect.stringContaining("connection.connectionId"),
    });
    // The engine looks a failure's property up among the top-level inputs only: a nested one used
    // to print as `value {<nil>}`. The line names the path and the value given itself.
    expect((invalid as Error).message).not.toContain("<nil>");
    expect((invalid as Error).message).toContain('connection.connectionId = "not valid!": must be a connection id');
    await removeAuthorizations(target("team-missing"));
  });

  it("waits for a lock another process holds, with a bound, and says so; a cancelled run stops cleanly", async () => {
    const iam = iamClient(inject("endpoints").moto.url);
    const roleArn = await createRole(iam, uniqueName("portal-lock"), foreignPolicy());
    const { args } = await request(roleArn);
    const second = { ...args, connection: { connectionId: "aws_second", target: "astro" as const } };
    const locked = target("team-locked", { lockWaitMs: 1500 });
    await applyAuthorizations(locked, { authorizations: {} });

    // What another process's `pulumi up` leaves in a file backend while it runs.
    const lockDir = path.join(
      root,
      "backend",
      ".pulumi",
      "locks",
      "organization",
      "deployment-authorizations",
      "team-locked",
    );
    mkdirSync(lockDir, { recursive: true });
    const lockFile = path.join(lockDir, "another-process.json");
    writeFileSync(
      lockFile,
      JSON.stringify({ pid: 999999, username: "ci", hostname: "runner-7", timestamp: new Date().toISOString() }),
    );
    const refused = await applyAuthorizations(locked, { authorizations: { held: args } }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(refused).toMatchObject({
      code: "STACK_LOCKED",
      message: expect.stringMatching(/stayed locked .* pulumi cancel/),
    });

    // Released while waiting: the run goes ahead.
    setTimeout(() => rmSync(lockFile), 1000);
    const waited = await applyAuthorizations(target("team-locked", { lockWaitMs: 30_000 }), {
      authorizations: { held: args },
    });
    expect(waited.summary).toMatchObject({ create: 2 });
    expect(readdirSync(lockDir)).toEqual([]);

    // Cancelled before it starts: nothing runs.
    const early = new AbortController();
    const notStarted = applyAuthorizations(target("team-locked", { signal: early.signal }), {
      authorizations: { held: args, second },
    });
    early.abort();
    await expect(notStarted).rejects.toMatchObject({ code: "CANCELLED" });

    // Cancelled while it runs, as the first resource starts: the stack is left usable, nothing pending.
    const controller = new AbortController();
    const outcome = await applyAuthorizations(
      target("team-locked", {
        signal: controller.signal,
        onEvent: (e) => {
          if (e.resourcePreEvent?.metadata.type.includes("dynamic")) controller.abort();
        },
      }),
      { authorizations: { held: args, second } },
    ).then(
      () => "completed",
      (e: AuthorizationRunError) => e.code,
    );
    console.log(`apply cancelled while running: ${outcome}`);
    expect(["CANCELLED", "completed"]).toContain(outcome);
    const state = JSON.parse(
      readFileSync(
        path.join(root, "backend", ".pulumi", "stacks", "deployment-authorizations", "team-locked.json"),
        "utf8",
      ),
    );
    expect(state.checkpoint.latest.pending_operations ?? []).toEqual([]);
    const after = await applyAuthorizations(target("team-locked"), { authorizations: { held: args, second } });
    expect(after.summary.same).toBeGreaterThanOrEqual(3);
    await removeAuthorizations(target("team-locked"));
  });
});
