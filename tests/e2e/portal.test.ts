import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import { chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type * as Portal from "../../examples/portal/app";
import { seedDeployment, storedEnvironmentObjects } from "../support/astro";
import { createRole, iamClient, trustPolicyOf, uniqueName } from "../support/aws";
import { foreignPolicy } from "../support/fixtures";
import { repoRoot } from "../support/pulumiProgram";
import { motoEnv } from "../../scripts/toolchain.mjs";

// The compiled portal, as it would run: it imports the package's compiled Automation helper.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { buildPortal } = require(path.join(repoRoot, "dist/examples/portal/app.js")) as typeof Portal;

const ARTIFACTS = path.join(repoRoot, ".test-artifacts");
const work = mkdtempSync(path.join(repoRoot, ".pulumi-state", "portal-"));

describe("the example portal, used over HTTP and in a browser", () => {
  let base: string;
  let portal: ReturnType<typeof buildPortal>;
  let roleName: string;
  let roleArn: string;
  const iam = () => iamClient(inject("endpoints").moto.url);

  beforeAll(async () => {
    const moto = inject("endpoints").moto.url;
    const astro = inject("endpoints").astro;
    const bucket = uniqueName("portal-state");
    // The state bucket, on the sandbox's moto (S3 and IAM in one server).
    expect((await fetch(`${moto}/${bucket}`, { method: "PUT" })).status).toBe(200);
    const backendUrl = `s3://${bucket}?endpoint=${moto}&region=us-east-1&use_path_style=true`;
    roleName = uniqueName("portal-reader");
    roleArn = await createRole(iam(), roleName, foreignPolicy());
    portal = buildPortal({
      defaultRegion: "us-east-1",
      stackFor: (team) => ({
        stackName: team,
        projectName: "access-portal",
        backendUrl,
        pulumiRoot: path.dirname(inject("pulumiBin")),
        config: {
          "deployment-authorization:astroToken": { value: astro.token, secret: true },
          "deployment-authorization:astroApiUrl": { value: astro.url },
        },
        env: {
          PATH: inject("pulumiPath"),
          PULUMI_HOME: path.join(work, "home"),
          PULUMI_CONFIG_PASSPHRASE: "portal-passphrase",
          PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK: "true",
          PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
          ASTRO_API_TOKEN: "",
          DEPLOYMENT_AUTHORIZATION_ASTRO_API_URL: astro.url,
          ...motoEnv(moto),
        },
      }),
    });
    base = await portal.listen({ port: 0, host: "127.0.0.1" });
  });

  afterAll(async () => {
    await portal?.close();
    rmSync(work, { recursive: true, force: true });
  });

  const post = async (url: string, body?: unknown) => {
    const response = await fetch(`${base}${url}`, {
      method: "POST",
      ...(body === undefined ? {} : { headers: { "content-type": "application/json" }, body: JSON.stringify(body) }),
    });
    return { status: response.status, body: (await response.json()) as Portal.AccessRequest & { error?: unknown } };
  };
  const deploymentFor = () => seedDeployment(inject("endpoints").astro.fakeUrl, { cloudProvider: "AWS" });
  const ask = async (team: string) => {
    const d = await deploymentFor();
    return {
      d,
      ...(await post("/requests", { team, organizationId: d.organizationId, deploymentId: d.id, roleArn })),
    };
  };
  const trusted = async () => JSON.stringify(await trustPolicyOf(iam(), roleName));

  it("refuses a bad request before running anything", async () => {
    const bad = await post("/requests", { team: "Data Platform", roleArn: "reader" });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({
      error: "INVALID_INPUT",
      problems: expect.arrayContaining([expect.stringMatching(/^team:/)]),
    });
  });

  it("two teams at once, then two approvals racing on one team's stack: every approved Deployment is trusted", async () => {
    const started = Date.now();
    const [a, b] = await Promise.all([ask("team-a"), ask("team-b")]);
    console.log(`two requests (previews) for two teams at once: ${Date.now() - started} ms`);
    expect([a.status, b.status], JSON.stringify(a.body).slice(0, 1500)).toEqual([201, 201]);
    expect(a.body.changes[0]).toMatchObject({
      operation: "create",
      grant: { added: [`${a.d.effectiveWorkloadIdentity} may assume it`] },
    });

    const [c1, c2] = await Promise.all([ask("team-c"), ask("team-c")]);
    const approvals = Date.now();
    const approved = await Promise.all([a, b, c1, c2].map((r) => post(`/requests/${r.body.id}/approve`)));
    console.log(`four approvals at once (three stacks, two racing on one): ${Date.now() - approvals} ms`);
    expect(approved.map((r) => [r.status, r.body.status])).toEqual(Array(4).fill([200, "approved"]));
    const policy = await trusted();
    for (const r of [a, b, c1, c2]) {
      expect(policy).toContain(r.d.effectiveWorkloadIdentity);
      expect(await storedEnvironmentObjects(inject("endpoints").astro.fakeUrl, r.d.id)).toHaveLength(1);
    }

    const revoked = await post(`/requests/${c1.body.id}/revoke`);
    expect(revoked.body.status).toBe("revoked");
    expect(await trusted()).not.toContain(c1.d.effectiveWorkloadIdentity);
    expect(await trusted()).toContain(c2.d.effectiveWorkloadIdentity);
    expect(await storedEnvironmentObjects(inject("endpoints").astro.fakeUrl, c1.d.id)).toEqual([]);
    for (const r of [a, b, c2]) expect((await post(`/requests/${r.body.id}/revoke`)).body.status).toBe("revoked");
  });

  it("the approver's page shows the pending change in a real browser, and its Approve button applies it", async () => {
    const pending = await ask("team-d");
    const executablePath = execFileSync("bash", [path.join(repoRoot, "scripts/bootstrap/chromium.sh")], {
      encoding: "utf8",
    }).trim();
    const browser = await chromium.launch({ executablePath, args: ["--no-sandbox"] });
    try {
      const page = await browser.newPage({ viewport: { width: 1100, height: 800 } });
      await page.goto(`${base}/requests/${pending.body.id}/review`);
      const text = await page.locator("body").innerText();
      expect(text).toContain(`Access request ${pending.body.id}`);
      expect(text).toContain("pending");
      expect(text).toContain(`${pending.d.effectiveWorkloadIdentity} may assume it`);
      expect(text).toContain("Everything else on the role is not touched.");
      expect(await page.locator("li.added").count()).toBe(1);
      expect(await page.locator("table tbody tr").count()).toBeGreaterThan(2);
      mkdirSync(ARTIFACTS, { recursive: true });
      const shot = path.join(ARTIFACTS, "portal-review.png");
      await page.screenshot({ path: shot, fullPage: true });
      console.log(`screenshot: ${shot} (${statSync(shot).size} bytes)`);
      expect(statSync(shot).size).toBeGreaterThan(10_000);

      // Approving runs the stack, then the page comes back showing the outcome.
      await page.locator("button", { hasText: "Approve" }).click();
      await page.locator(".status", { hasText: "approved" }).waitFor({ timeout: 120_000 });
      expect(await page.locator("button", { hasText: "Approve" }).count()).toBe(0);
      expect(await trusted()).toContain(pending.d.effectiveWorkloadIdentity);
    } finally {
      await browser.close();
    }
    expect((await post(`/requests/${pending.body.id}/revoke`)).body.status).toBe("revoked");
    expect(await trusted()).not.toContain(pending.d.effectiveWorkloadIdentity);
  });
});
