import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { AuthorizationRunError } from "../../sdk/automation";
import { failureOf } from "../../examples/portal/failures";
import { proxyIdentity } from "../../examples/portal/identity";
import { reviewHtml } from "../../examples/portal/pages";
import type { NamedReview } from "../../sdk/automation";
import { PortalStore } from "../../examples/portal/store";
import { authenticatingProxy } from "../support/proxy";

const proxy = authenticatingProxy({ issuer: "https://proxy.example.com", audience: "access-portal" });
const identity = proxyIdentity({
  header: "X-Proxy-Assertion",
  keys: { jwks: proxy.jwks },
  issuer: "https://proxy.example.com",
  audience: "access-portal",
  requesters: { groups: ["engineers"] },
  approvers: { groups: ["platform"], ids: ["lead@example.com"] },
});
const headers = (token: string) => ({ "x-proxy-assertion": token });

describe("the portal's caller identity (the proxy's signed assertion)", () => {
  it("takes the person and their roles from a valid assertion", async () => {
    const alice = await identity.callerOf(
      headers(proxy.assertionFor({ email: "alice@example.com", groups: ["engineers"] })),
    );
    expect(alice.id).toBe("alice@example.com");
    expect([...alice.roles]).toEqual(["requester"]);
    const bob = await identity.callerOf(
      headers(proxy.assertionFor({ email: "bob@example.com", groups: ["platform"] })),
    );
    expect([...bob.roles]).toEqual(["approver"]);
    const lead = await identity.callerOf(
      headers(proxy.assertionFor({ email: "lead@example.com", groups: ["engineers"] })),
    );
    expect([...lead.roles].sort()).toEqual(["approver", "requester"]);
    const nobody = await identity.callerOf(headers(proxy.assertionFor({ email: "eve@example.com", groups: [] })));
    expect(nobody.roles.size).toBe(0);
  });

  it("refuses no header, a forged signature, an expired assertion, another audience or issuer, an unsigned one", async () => {
    const person = { email: "mallory@example.com", groups: ["platform"] };
    const forger = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
    const refusals = [
      [{}, /no X-Proxy-Assertion header/],
      [headers(proxy.assertionFor(person, {}, forger)), /signature does not verify/],
      [headers(proxy.assertionFor(person, { exp: Math.floor(Date.now() / 1000) - 3600 })), /expired/],
      [headers(proxy.assertionFor(person, { aud: "another-app" })), /another application/],
      [headers(proxy.assertionFor(person, { iss: "https://elsewhere.example.com" })), /issuer/],
      [
        headers(`${Buffer.from('{"alg":"none"}').toString("base64url")}.${Buffer.from("{}").toString("base64url")}.`),
        /none|ES256/,
      ],
      [headers("not-a-token"), /not a signed assertion/],
    ] as const;
    for (const [given, reason] of refusals) {
      await expect(identity.callerOf(given)).rejects.toThrow(reason);
    }
    // A valid assertion whose body was changed after signing (another person's email) does not verify.
    const [head, , signature] = proxy.assertionFor(person).split(".");
    const body = Buffer.from(JSON.stringify({ email: "ceo@example.com", exp: 9e9 })).toString("base64url");
    await expect(identity.callerOf(headers(`${head}.${body}.${signature}`))).rejects.toThrow(/signature/);
  });
});

describe("the portal's error wording", () => {
  it("says the code once, not again at the start of every line of the message", () => {
    const error = new AuthorizationRunError(
      "TARGET_MISSING",
      "TARGET_MISSING: TARGET_MISSING: role reader does not exist\nTARGET_MISSING: check with aws iam get-role",
    );
    expect(failureOf(error)).toEqual({
      code: "TARGET_MISSING",
      message: "role reader does not exist\ncheck with aws iam get-role",
    });
  });
});

describe("the portal's store on the embedded database (PGlite)", () => {
  const directory = mkdtempSync(path.join(tmpdir(), "portal-store-"));
  afterAll(() => rmSync(directory, { recursive: true, force: true }));

  it("keeps requests, decisions and outputs across a reopen; a decision another replica made first is refused", async () => {
    const first = await PortalStore.open({ directory });
    expect(first.engine).toBe("pglite");
    const request = {
      id: "abc123",
      team: "team-a",
      organizationId: "o".repeat(25),
      deploymentId: "d".repeat(25),
      roleArn: "arn:aws:iam::123456789012:role/reader",
      region: "eu-west-1",
      connectionId: "aws_default",
      requestedBy: "alice@example.com",
      review: [],
    };
    await first.createRequest(request);
    expect(await first.decide("abc123", "pending", "approved", "bob@example.com", "approved", { review: [] })).toBe(
      true,
    );
    // The same approval again (a second click, another replica): not pending any more.
    expect(await first.decide("abc123", "pending", "approved", "carol@example.com", "approved", { review: [] })).toBe(
      false,
    );
    await first.applied(
      "abc123",
      "bob@example.com",
      { abc123: { grant: { roleArn: request.roleArn } } },
      { create: 3 },
    );
    await first.close();

    const again = await PortalStore.open({ directory });
    try {
      expect(await again.request("abc123")).toMatchObject({
        status: "approved",
        requestedBy: "alice@example.com",
        outputs: { grant: { roleArn: request.roleArn } },
      });
      expect((await again.approved("team-a")).map((r) => r.id)).toEqual(["abc123"]);
      expect((await again.history("abc123")).map((e) => [e.action, e.actor])).toEqual([
        ["requested", "alice@example.com"],
        ["approved", "bob@example.com"],
        ["applied", "bob@example.com"],
      ]);
    } finally {
      await again.close();
    }
    // Postgres starting in WebAssembly (initdb on first open) takes seconds on a busy machine.
  }, 60_000);
});

describe("the portal's review, readable without colour", () => {
  it("says Added and Removed in words and signs, names each risk, and escapes what it shows", () => {
    const change = {
      name: "request-abc",
      urn: "urn:pulumi:team::access-portal::x::request-abc",
      operation: "replace",
      cloud: "aws",
      target: "IAM role arn:aws:iam::123456789012:role/new",
      grant: {
        from: "IAM role arn:aws:iam::123456789012:role/old",
        to: "IAM role arn:aws:iam::123456789012:role/new",
        added: ["arn:aws:iam::1:role/astro-x may assume it"],
        removed: ["arn:aws:iam::1:role/<astro-y> may assume it"],
        unchanged: 0,
      },
      risks: ["replacement deletes first"],
      connection: {
        action: "replace",
        connectionId: "aws_default",
        location: "Astro",
        changes: [{ field: "extra.role_arn", before: "old", after: "new" }],
      },
    } as unknown as NamedReview;
    const html = reviewHtml([change]);
    expect(html).toContain(
      '<span class="sign" aria-hidden="true">+</span>Added: arn:aws:iam::1:role/astro-x may assume it',
    );
    expect(html).toContain(
      '<span class="sign" aria-hidden="true">−</span>Removed: arn:aws:iam::1:role/&lt;astro-y&gt;',
    );
    expect(html).toContain("Risk: replacement deletes first");
    expect(html).toContain("role/old → IAM role arn:aws:iam::123456789012:role/new");
    expect(reviewHtml([])).toContain("No change");
  });
});
