// An authenticating proxy, as the portal example sees one: it signs an ES256 assertion (JWT) for
// each person it lets through and publishes its public key as a JWKS document.
import { generateKeyPairSync, JsonWebKey, sign } from "node:crypto";

export interface Person {
  email: string;
  groups: string[];
}

export function authenticatingProxy(options: { issuer: string; audience: string; kid?: string }) {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const kid = options.kid ?? "proxy-key-1";
  const jwks: { keys: JsonWebKey[] } = {
    keys: [{ ...publicKey.export({ format: "jwk" }), kid, alg: "ES256", use: "sig" }],
  };
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  /** The assertion for one person; `claims` overrides any claim (an expired one, another audience). */
  const assertionFor = (person: Person, claims: Record<string, unknown> = {}, signWith = privateKey) => {
    const now = Math.floor(Date.now() / 1000);
    const head = encode({ alg: "ES256", typ: "JWT", kid });
    const body = encode({
      iss: options.issuer,
      aud: options.audience,
      sub: `user-${person.email}`,
      email: person.email,
      groups: person.groups,
      iat: now,
      exp: now + 300,
      ...claims,
    });
    const signature = sign("sha256", Buffer.from(`${head}.${body}`), { key: signWith, dsaEncoding: "ieee-p1363" });
    return `${head}.${body}.${signature.toString("base64url")}`;
  };
  return { jwks, assertionFor };
}
