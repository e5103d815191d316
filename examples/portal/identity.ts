// Who is calling: the signed assertion an authenticating proxy puts on every request it lets
// through (Pomerium's X-Pomerium-Jwt-Assertion, Google IAP's x-goog-iap-jwt-assertion, Cloudflare
// Access's Cf-Access-Jwt-Assertion, or any proxy that signs a JWT per request). The portal checks the
// signature against the proxy's published keys, the issuer, the audience and the lifetime, as those
// proxies require of the apps behind them: a header alone proves nothing, anyone can send one.
import { createPublicKey, JsonWebKey, KeyObject, verify } from "node:crypto";

export type Role = "requester" | "approver";

export interface Caller {
  /** The person: the assertion's email claim (or subject). */
  id: string;
  roles: ReadonlySet<Role>;
}

/** Who holds a role: listed by id, or a member of a listed group (the assertion's groups claim). */
export interface RoleRule {
  ids?: string[];
  groups?: string[];
}

export interface ProxyIdentityOptions {
  /** The header the proxy sets, such as x-pomerium-jwt-assertion. */
  header: string;
  /** The proxy's signing keys: its JWKS document, or where to fetch it (read again on an unknown key id). */
  keys: { jwks: { keys: JsonWebKey[] } } | { jwksUrl: string };
  /** The `iss` the proxy writes. */
  issuer: string;
  /** The `aud` that names this portal in the proxy. */
  audience: string;
  /** The claim that names the person (default "email", else "sub"). */
  identityClaim?: string;
  /** The claim that lists their groups (default "groups"). */
  groupsClaim?: string;
  requesters: RoleRule;
  approvers: RoleRule;
  /** Tolerated clock difference with the proxy (default 60 s). */
  clockSkewSeconds?: number;
}

/** Why a request carries no identity the portal accepts; said on the page, never the token itself. */
export class IdentityRefused extends Error {
  override readonly name = "IdentityRefused";
}

const ALGORITHMS: Record<string, { hash: string; dsaEncoding?: "ieee-p1363" }> = {
  ES256: { hash: "sha256", dsaEncoding: "ieee-p1363" },
  RS256: { hash: "sha256" },
};

export interface IdentityVerifier {
  /** The caller, or IdentityRefused (no assertion, a bad signature, expired, another audience). */
  callerOf(headers: Record<string, string | string[] | undefined>): Promise<Caller>;
}

export function proxyIdentity(options: ProxyIdentityOptions): IdentityVerifier {
  let keys: Map<string, KeyObject> | undefined;
  let fetchedAt = 0;
  const load = async (force: boolean) => {
    if ("jwks" in options.keys) return (keys ??= keySet(options.keys.jwks.keys));
    // An unknown key id after the proxy rotated its keys: read them again, at most once a minute.
    if (!keys || (force && Date.now() - fetchedAt > 60_000)) {
      const response = await fetch(options.keys.jwksUrl, { signal: AbortSignal.timeout(10_000) });
      if (!response.ok)
        throw new IdentityRefused(`the proxy's keys at ${options.keys.jwksUrl} answered ${response.status}`);
      keys = keySet(((await response.json()) as { keys: JsonWebKey[] }).keys);
      fetchedAt = Date.now();
    }
    return keys;
  };
  const skew = options.clockSkewSeconds ?? 60;

  return {
    async callerOf(headers) {
      const raw = headers[options.header.toLowerCase()];
      const token = Array.isArray(raw) ? undefined : raw;
      if (!token) throw new IdentityRefused(`no ${options.header} header: sign in through the portal's proxy`);
      const parts = token.split(".");
      if (parts.length !== 3) throw new IdentityRefused(`${options.header} is not a signed assertion (JWT)`);
      const [head, body, signature] = parts as [string, string, string];
      const header = decode(head) as { alg?: string; kid?: string };
      const algorithm = ALGORITHMS[header.alg ?? ""];
      if (!algorithm)
        throw new IdentityRefused(`assertion signed with ${header.alg ?? "no algorithm"}: ES256 or RS256 expected`);
      let key = (await load(false)).get(header.kid ?? "");
      if (!key) key = (await load(true)).get(header.kid ?? "");
      if (!key)
        throw new IdentityRefused(
          `assertion signed with a key the proxy does not publish (kid ${header.kid ?? "none"})`,
        );
      const valid = verify(
        algorithm.hash,
        Buffer.from(`${head}.${body}`),
        { key, ...(algorithm.dsaEncoding ? { dsaEncoding: algorithm.dsaEncoding } : {}) },
        Buffer.from(signature, "base64url"),
      );
      if (!valid) throw new IdentityRefused("the assertion's signature does not verify");
      const claims = decode(body) as Record<string, unknown>;
      const now = Date.now() / 1000;
      if (typeof claims.exp !== "number" || claims.exp + skew < now)
        throw new IdentityRefused("the assertion has expired");
      if (typeof claims.nbf === "number" && claims.nbf - skew > now)
        throw new IdentityRefused("the assertion is not valid yet");
      if (claims.iss !== options.issuer) throw new IdentityRefused(`the assertion's issuer is not ${options.issuer}`);
      const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
      if (!audiences.includes(options.audience)) throw new IdentityRefused("the assertion is for another application");
      const id = claims[options.identityClaim ?? "email"] ?? claims.sub;
      if (typeof id !== "string" || !id) throw new IdentityRefused("the assertion names no one");
      const groupsClaim = claims[options.groupsClaim ?? "groups"];
      const groups = Array.isArray(groupsClaim) ? groupsClaim.filter((g): g is string => typeof g === "string") : [];
      const holds = (rule: RoleRule) => Boolean(rule.ids?.includes(id) || rule.groups?.some((g) => groups.includes(g)));
      const roles = new Set<Role>();
      if (holds(options.requesters)) roles.add("requester");
      if (holds(options.approvers)) roles.add("approver");
      return { id, roles };
    },
  };
}

function keySet(jwks: JsonWebKey[]): Map<string, KeyObject> {
  return new Map(jwks.map((jwk) => [String(jwk.kid ?? ""), createPublicKey({ key: jwk, format: "jwk" })]));
}

function decode(part: string): unknown {
  try {
    return JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
  } catch {
    throw new IdentityRefused("the assertion is not readable");
  }
}
