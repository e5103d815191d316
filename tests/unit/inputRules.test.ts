import fc from "fast-check";
import { describe, expect, it, vi } from "vitest";
import { SENSITIVE_EXTRA_KEY } from "../../provider/core/schema";
import { createProvider } from "../../provider/core/provider";
import { GRANT_PLUGINS } from "../../provider/inputs";
import { GRANT_PLANNERS } from "../../provider/grants";
import { parseInputs } from "../../provider/inputs";
import { describeFailure } from "../../provider/core/checkFailure";
import { azureInputs, gcpInputs, rawInputs } from "../support/fixtures";

/**
 * The documented input rules, as properties: values built to the vendor's rule pass `check`, and
 * near misses (one rule broken) fail it at their own path, echoing the value and saying what a
 * valid one looks like, before any remote call (`check` has no drivers to call with). The seed
 * settings are those of properties.test.ts: PROPERTY_SEED, PROPERTY_RUNS.
 */
const seedSetting = process.env.PROPERTY_SEED ?? "20261201";
fc.configureGlobal({
  ...(seedSetting === "random" ? {} : { seed: Number(seedSetting) }),
  numRuns: 100 * Number(process.env.PROPERTY_RUNS ?? 1),
});
vi.setConfig({ testTimeout: 20_000 * Number(process.env.PROPERTY_RUNS ?? 1) });

const provider = createProvider({
  planners: GRANT_PLANNERS,
  loadParser: () => parseInputs,
  makeDrivers: () => {
    throw new Error("check must not build drivers");
  },
  env: {},
});

/** The failures by path, each its reason; `given` holds the values shown beside them (secrets masked). */
async function failuresOf(raw: Record<string, unknown>): Promise<Record<string, string>> {
  const { failures } = await provider.check({}, raw);
  const parsed = parseInputs(raw);
  const structured = parsed.ok ? [] : parsed.failures;
  // What the engine prints is one line per failure, with the path, the value shown and the reason.
  expect((failures ?? []).map((f) => f.reason)).toEqual(structured.map(describeFailure));
  lastGiven = Object.fromEntries(structured.map((f) => [f.property, f.given ?? ""]));
  return Object.fromEntries(structured.map((f) => [f.property, f.reason]));
}
let lastGiven: Record<string, string> = {};

const BASE_INPUTS: Record<string, () => Record<string, unknown>> = {
  aws: () => rawInputs(),
  gcp: () => gcpInputs(),
  azure: () => azureInputs(),
};

function withExtra(cloud: string, extra: Record<string, unknown>): Record<string, unknown> {
  const base = BASE_INPUTS[cloud]!();
  return { ...base, connection: { ...(base.connection as object), extra } };
}

/** The same letters in a random case. */
const caseVariant = (text: string) =>
  fc
    .array(fc.boolean(), { minLength: text.length, maxLength: text.length })
    .map((upper) => [...text].map((c, i) => (upper[i] ? c.toUpperCase() : c.toLowerCase())).join(""));

/** The connection types whose hooks read `extra__<type>__<key>` as `<key>`. */
const HOOK_CONN_TYPES = [
  "aws",
  "google_cloud_platform",
  "azure",
  "wasb",
  "adls",
  "azure_data_explorer",
  "azure_fileshare",
];

describe("secret-bearing extra keys, per cloud", () => {
  for (const plugin of GRANT_PLUGINS) {
    const secrets = Object.keys(plugin.secretExtraKeys);

    it(`${plugin.cloud}: every key its hooks read as a secret is refused, in any case and with any extra__<type>__ prefix, never echoing the value`, async () => {
      expect(secrets.length).toBeGreaterThan(0);
      const spelling = fc
        .constantFrom(...secrets)
        .chain((key) =>
          fc.tuple(
            fc.constant(key),
            caseVariant(key),
            fc.option(
              fc.constantFrom(...HOOK_CONN_TYPES).chain((t) => caseVariant(`extra__${t}__`)),
              {
                nil: undefined,
              },
            ),
          ),
        )
        .map(([key, variant, prefix]) => ({ key, spelled: `${prefix ?? ""}${variant}` }));
      await fc.assert(
        fc.asyncProperty(spelling, fc.string({ minLength: 8, maxLength: 40 }), async ({ key, spelled }, value) => {
          const secret = `s3cr3t-${value}`;
          const failures = await failuresOf(withExtra(plugin.cloud, { [spelled]: secret }));
          expect(failures[`connection.extra.${spelled}`]).toMatch(
            new RegExp(
              `^is key material: Airflow's ${plugin.cloud} hooks read it as .*needs no key or secret: remove it`,
            ),
          );
          expect(failures[`connection.extra.${spelled}`]).toContain(plugin.secretExtraKeys[key]!);
          expect(JSON.stringify([failures, lastGiven])).not.toContain(secret);
        }),
      );
    });

    it(`${plugin.cloud}: keys that are neither secrets nor set by the resource stay accepted`, async () => {
      const reserved = new Set([...plugin.reservedExtraKeys, ...Object.keys(plugin.refusedExtraKeys ?? {})]);
      const plain = fc
        .stringMatching(/^[a-z][a-z0-9_]{0,24}$/)
        .filter(
          (key) =>
            !reserved.has(key) &&
            !SENSITIVE_EXTRA_KEY.test(key) &&
            !secrets.some((s) => key === s || key.endsWith(`__${s}`)),
        );
      await fc.assert(
        fc.asyncProperty(plain, fc.oneof(fc.string(), fc.integer(), fc.boolean()), async (key, value) => {
          expect(await failuresOf(withExtra(plugin.cloud, { [key]: value }))).toEqual({});
        }),
      );
    });
  }

  it("a secret key of one cloud in another cloud's connection follows that cloud's own list", async () => {
    // connection_string is key material for the Azure hooks, and nothing the AWS hooks read.
    expect(Object.keys((await failuresOf(withExtra("azure", { connection_string: "x" }))) ?? {})).toEqual([
      "connection.extra.connection_string",
    ]);
    expect(await failuresOf(withExtra("aws", { connection_string: "x" }))).toEqual({});
  });
});

// ---------------------------------------------------------------------------------------------
// Every documented input shape: valid values pass, near misses fail at their path
// ---------------------------------------------------------------------------------------------

type Path = string[];

function withValue(base: Record<string, unknown>, path: Path, value: unknown): Record<string, unknown> {
  const raw = structuredClone(base);
  let at = raw as Record<string, unknown>;
  for (const key of path.slice(0, -1)) {
    at[key] ??= {};
    at = at[key] as Record<string, unknown>;
  }
  at[path[path.length - 1]!] = value;
  return raw;
}

/** One change that breaks exactly one rule of a valid value. */
const breakWith = (valid: fc.Arbitrary<string>, ...ways: Array<(v: string) => string>) =>
  fc.tuple(valid, fc.nat(ways.length - 1)).map(([v, i]) => ways[i]!(v));

/** A character inserted at a random place (not first or last, unless `anywhere`). */
const inserted = (valid: fc.Arbitrary<string>, chars: string[], anywhere = false) =>
  fc.tuple(valid, fc.constantFrom(...chars), fc.nat()).map(([v, c, n]) => {
    const at = anywhere || v.length < 2 ? n % (v.length + 1) : 1 + (n % (v.length - 1));
    return `${v.slice(0, at)}${c}${v.slice(at)}`;
  });

const GUID_ARB = fc.uuid().map((u) => u.toLowerCase());
const PROJECT_ARB = fc.stringMatching(/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/);
const DNS_LABEL = fc.stringMatching(/^[a-z0-9](?:[-a-z0-9]{0,20}[a-z0-9])?$/);
const HOST = fc
  .tuple(fc.array(fc.stringMatching(/^[a-z0-9](?:[a-z0-9-]{0,10}[a-z0-9])?$/), { minLength: 1, maxLength: 3 }))
  .chain(([labels]) => fc.stringMatching(/^[a-z]{2,6}$/).map((tld) => [...labels, tld].join(".")));
const URL_PATH = fc
  .array(fc.stringMatching(/^[A-Za-z0-9._~-]{1,12}$/), { maxLength: 3 })
  .chain((segments) => fc.boolean().map((slash) => segments.map((s) => `/${s}`).join("") + (slash ? "/" : "")));

const ROLE_NAME_ARB = fc.stringMatching(/^[\w+=,.@-]{1,64}$/);
const ROLE_PATH_ARB = fc
  .array(fc.stringMatching(/^[\x21-\x2e\x30-\x7e]{1,16}$/), { maxLength: 3 })
  .map((segments) => segments.map((s) => `${s}/`).join(""));
const PARTITION_ARB = fc.constantFrom(
  "aws",
  "aws-cn",
  "aws-us-gov",
  "aws-iso",
  "aws-iso-b",
  "aws-iso-e",
  "aws-iso-f",
  "aws-eusc",
);
const ACCOUNT_ARB = fc.stringMatching(/^\d{12}$/);
const ROLE_ARN_ARB = fc
  .tuple(PARTITION_ARB, ACCOUNT_ARB, ROLE_PATH_ARB, ROLE_NAME_ARB)
  .map(([partition, account, path, name]) => `arn:${partition}:iam::${account}:role/${path}${name}`);
const ROLE_ARN_MISS = breakWith(
  ROLE_ARN_ARB,
  (arn) => arn.replace(/::(\d{12}):/, (_, a: string) => `::${a.slice(1)}:`),
  (arn) => arn.replace(/^arn:[^:]+:/, "arn:aws-moon:"),
  (arn) => arn.replace(":iam::", ":iam:us-east-1:"),
  (arn) => arn.replace(":role/", ":user/"),
  (arn) => `${arn.slice(0, arn.lastIndexOf("/") + 1)}${"r".repeat(65)}`,
  (arn) => `${arn} `,
  (arn) => `${arn.slice(0, arn.indexOf(":role/"))}:role//${arn.slice(arn.lastIndexOf("/") + 1)}`,
);
const ROLE_NAME_MISS = fc.oneof(
  fc.stringMatching(/^[\w+=,.@-]{65,80}$/),
  inserted(ROLE_NAME_ARB, [" ", "*", ":", "!", "~", "#", "/", "é"], true),
);

const ISSUER_ARB = (port: boolean) =>
  fc
    .tuple(
      HOST,
      port ? fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }) : fc.constant(undefined),
      URL_PATH,
    )
    .map(([host, p, path]) => `https://${host}${p === undefined ? "" : `:${p}`}${path}`);
const ISSUER_MISS = (port: boolean, maxLength: number) =>
  breakWith(
    ISSUER_ARB(port),
    (u) => u.replace("https://", "http://"),
    (u) => u.replace("https://", "https:/"),
    (u) => `${u}?aud=sts`,
    (u) => `${u}#x`,
    (u) => u.replace("https://", "https://user@"),
    (u) => `${u}/a b`,
    (u) => `${u.replace(/\/$/, "")}/${"p".repeat(maxLength)}`,
    ...(port ? [] : [(u: string) => u.replace(/^(https:\/\/[^/]+)/, "$1:8443")]),
  );

const K8S_SA_ARB = fc
  .array(DNS_LABEL, { minLength: 1, maxLength: 4 })
  .map((labels) => labels.join("."))
  .filter((v) => v.length <= 253);
const K8S_SA_MISS = fc.oneof(
  inserted(K8S_SA_ARB, ["A", "_", ":", " ", ".."]),
  K8S_SA_ARB.map((v) => `-${v}`),
  K8S_SA_ARB.map((v) => `${v}.`),
  fc.constant(`${"a".repeat(63)}.${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(63)}`),
);
const NAMESPACE_ARB = fc.stringMatching(/^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$/);
const NAMESPACE_MISS = fc.oneof(
  inserted(NAMESPACE_ARB, ["A", "_", ".", " "]),
  NAMESPACE_ARB.map((v) => `-${v}`),
  NAMESPACE_ARB.map((v) => `${v}-`),
  fc.stringMatching(/^[a-z]{64,70}$/),
);

const ACCOUNT_ID_ARB = fc.stringMatching(/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/);
const SERVICE_ACCOUNT_ARB = fc.oneof(
  fc.tuple(ACCOUNT_ID_ARB, PROJECT_ARB).map(([a, p]) => `${a}@${p}.iam.gserviceaccount.com`),
  fc.stringMatching(/^\d{6,12}$/).map((n) => `${n}-compute@developer.gserviceaccount.com`),
);
const SERVICE_ACCOUNT_MISS = fc
  .tuple(
    fc.oneof(
      fc.stringMatching(/^[a-z][a-z0-9]{0,3}$/),
      fc.stringMatching(/^[a-z][a-z0-9]{30,35}$/),
      ACCOUNT_ID_ARB.map((a) => `${a.slice(0, 29)}-`),
      ACCOUNT_ID_ARB.map((a) => `9${a.slice(1)}`),
      inserted(ACCOUNT_ID_ARB, ["A", "_", "."]).filter((a) => a.length <= 30),
    ),
    PROJECT_ARB,
  )
  .map(([a, p]) => `${a}@${p}.iam.gserviceaccount.com`);

const PROJECT_MISS = fc.oneof(
  fc.stringMatching(/^[a-z][a-z0-9-]{3}[a-z0-9]$/),
  fc.stringMatching(/^[a-z][a-z0-9-]{29,35}[a-z0-9]$/),
  PROJECT_ARB.map((p) => `7${p.slice(1)}`),
  PROJECT_ARB.map((p) => `${p.slice(0, 29)}-`),
  inserted(PROJECT_ARB, ["A", "_", " ", "."]),
);

const GCP_ROLE_ARB = fc.oneof(
  fc.stringMatching(/^[a-z]{3,12}\.[a-zA-Z]{3,20}$/).map((r) => `roles/${r}`),
  fc.constantFrom("roles/owner", "roles/viewer", "roles/bigquery.dataViewer"),
  fc.tuple(PROJECT_ARB, fc.stringMatching(/^[A-Za-z0-9_.]{1,64}$/)).map(([p, r]) => `projects/${p}/roles/${r}`),
  fc
    .tuple(fc.stringMatching(/^[1-9]\d{5,18}$/), fc.stringMatching(/^[A-Za-z0-9_.]{1,64}$/))
    .map(([o, r]) => `organizations/${o}/roles/${r}`),
);
const GCP_ROLE_MISS = fc.oneof(
  fc.constantFrom("roles/", "role/viewer", "roles/viewer ", "roles/a b", "roles/a/b", "viewer"),
  fc.tuple(PROJECT_ARB, fc.stringMatching(/^[A-Za-z0-9_.]{65,70}$/)).map(([p, r]) => `projects/${p}/roles/${r}`),
  fc.tuple(PROJECT_ARB, fc.stringMatching(/^[a-z]{2,8}-[a-z]{2,8}$/)).map(([p, r]) => `projects/${p}/roles/${r}`),
  PROJECT_MISS.map((p) => `projects/${p}/roles/custom`),
  fc.stringMatching(/^[a-z]{1,8}$/).map((o) => `organizations/${o}/roles/custom`),
);

const RESOURCE_GROUP_ARB = fc.oneof(
  fc.stringMatching(/^[-\w.()]{0,40}[-\w()]$/),
  fc.constantFrom("données-rg", "데이터", "rg(prod)", "a"),
);
const IDENTITY_NAME_ARB = fc.stringMatching(/^[a-zA-Z0-9][-\w]{2,40}$/);
const IDENTITY_ID_OF = (sub: string, rg: string, name: string) =>
  `/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${name}`;
const IDENTITY_ID_ARB = fc
  .tuple(GUID_ARB, RESOURCE_GROUP_ARB, IDENTITY_NAME_ARB)
  .map(([s, r, n]) => IDENTITY_ID_OF(s, r, n));
const IDENTITY_ID_MISS = fc.oneof(
  fc.tuple(GUID_ARB, RESOURCE_GROUP_ARB, IDENTITY_NAME_ARB).map(([s, r, n]) => IDENTITY_ID_OF(s.slice(1), r, n)),
  fc.tuple(GUID_ARB, RESOURCE_GROUP_ARB, IDENTITY_NAME_ARB).map(([s, r, n]) => IDENTITY_ID_OF(s, `${r}.`, n)),
  fc.tuple(GUID_ARB, RESOURCE_GROUP_ARB, IDENTITY_NAME_ARB).map(([s, r, n]) => IDENTITY_ID_OF(s, r, n.slice(0, 2))),
  fc.tuple(GUID_ARB, RESOURCE_GROUP_ARB, IDENTITY_NAME_ARB).map(([s, r, n]) => IDENTITY_ID_OF(s, r, `-${n}`)),
  fc.tuple(GUID_ARB, RESOURCE_GROUP_ARB, IDENTITY_NAME_ARB).map(([s, r, n]) => `${IDENTITY_ID_OF(s, r, n)}/`),
  fc.tuple(GUID_ARB, RESOURCE_GROUP_ARB).map(([s, r]) => IDENTITY_ID_OF(s, r, "")),
);

const RESOURCE_TYPE = fc.stringMatching(/^[a-z][a-zA-Z0-9]{2,20}$/);
const RESOURCE_NAME = fc.stringMatching(/^[A-Za-z0-9][\w.()-]{0,30}$/);
const NAMESPACE_OF_PROVIDER = fc.stringMatching(/^[A-Z][A-Za-z0-9]{2,12}\.[A-Z][A-Za-z0-9]{2,15}$/);
const SCOPE_ARB = fc.oneof(
  GUID_ARB.map((s) => `/subscriptions/${s}`),
  fc.tuple(GUID_ARB, RESOURCE_GROUP_ARB).map(([s, r]) => `/subscriptions/${s}/resourceGroups/${r}`),
  fc
    .tuple(
      GUID_ARB,
      RESOURCE_GROUP_ARB,
      NAMESPACE_OF_PROVIDER,
      fc.array(fc.tuple(RESOURCE_TYPE, RESOURCE_NAME), { minLength: 1, maxLength: 3 }),
    )
    .map(
      ([s, r, ns, pairs]) =>
        `/subscriptions/${s}/resourceGroups/${r}/providers/${ns}${pairs.map(([t, n]) => `/${t}/${n}`).join("")}`,
    ),
);
const SCOPE_MISS = fc.oneof(
  SCOPE_ARB.filter((s) => s.includes("/providers/")).map((s) => s.slice(0, s.lastIndexOf("/"))),
  SCOPE_ARB.map((s) => `${s}/`),
  SCOPE_ARB.map((s) => s.replace(/^\/subscriptions\/[^/]+/, "/subscriptions/my-subscription")),
  fc
    .tuple(GUID_ARB, RESOURCE_GROUP_ARB, RESOURCE_TYPE, RESOURCE_NAME)
    .map(([s, r, t, n]) => `/subscriptions/${s}/resourceGroups/${r}/providers/Storage/${t}/${n}`),
  SCOPE_ARB.map((s) => `${s}?api-version=2022-04-01`),
  fc.tuple(GUID_ARB, RESOURCE_NAME).map(([s, n]) => `/subscriptions/${s}/resourceGroups/${n}.`),
);

const AZURE_ROLE_ARB = fc.oneof(
  fc.constantFrom("Storage Blob Data Reader", "Reader", "Key Vault Secrets User", "Contributor"),
  fc.stringMatching(/^[A-Z][a-z]{2,10}(?: [A-Z][a-z]{2,10}){0,4}$/),
  GUID_ARB,
  fc
    .tuple(GUID_ARB, GUID_ARB)
    .map(([s, g]) => `/subscriptions/${s}/providers/Microsoft.Authorization/roleDefinitions/${g}`),
  GUID_ARB.map((g) => `/providers/Microsoft.Authorization/roleDefinitions/${g}`),
);
const AZURE_ROLE_MISS = fc.oneof(
  GUID_ARB.map((g) => g.slice(0, -1)),
  GUID_ARB.map((g) => `${g}0`),
  GUID_ARB.map((g) => g.replace(/-/g, "--")),
  fc
    .tuple(GUID_ARB, GUID_ARB)
    .map(([s, g]) => `/subscriptions/${s}/providers/Microsoft.Authorization/roleDefinition/${g}`),
  fc
    .tuple(GUID_ARB, GUID_ARB)
    .map(([s, g]) => `/subscriptions/${s}/providers/Microsoft.Authorization/roleDefinitions/${g.slice(2)}`),
  fc.stringMatching(/^[A-Z][a-z]{2,10}$/).map((n) => `/${n}`),
);

const CONNECTION_ID_ARB = fc.stringMatching(/^[A-Za-z0-9_.-]{1,200}$/);
const CONNECTION_ID_MISS = fc.oneof(
  inserted(CONNECTION_ID_ARB, [" ", "/", ":", "#", "é", "@"], true),
  fc.stringMatching(/^[a-z_]{201,220}$/),
);

const AIRFLOW_URL_ARB = fc
  .tuple(
    fc.constantFrom("http", "https"),
    fc.oneof(HOST, fc.constant("localhost"), fc.constant("127.0.0.1")),
    fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }),
    URL_PATH,
  )
  .map(([scheme, host, port, path]) => `${scheme}://${host}${port === undefined ? "" : `:${port}`}${path}`)
  .filter((u) => !/\/api\/v\d+(?:\/|$)/i.test(u));
const AIRFLOW_URL_MISS = breakWith(
  AIRFLOW_URL_ARB,
  (u) => u.replace(/^https?:/, "ftp:"),
  (u) => u.replace(/^(https?):\/\//, "$1:/"),
  (u) => `${u.replace(/\/$/, "")}/api/v1`,
  (u) => `${u.replace(/\/$/, "")}/api/v2/connections`,
  (u) => `${u}?page=1`,
  (u) => `${u}#connections`,
  (u) => ` ${u}`,
  (u) => u.replace("://", "://admin:hunter22@"),
);

const ASTRO_ID_ARB = fc.stringMatching(/^[a-z0-9]{20,40}$/);
const ASTRO_ID_MISS = fc.oneof(
  fc.stringMatching(/^[a-z0-9]{1,19}$/),
  fc.stringMatching(/^[a-z0-9]{41,50}$/),
  inserted(ASTRO_ID_ARB, ["A", "-", "_", " "], true),
);

const PYTHON_CLASS_ARB = fc
  .array(fc.stringMatching(/^[A-Za-z_]\w{0,12}$/), { minLength: 2, maxLength: 6 })
  .map((parts) => parts.join("."));
const PYTHON_CLASS_MISS = fc.oneof(
  fc.stringMatching(/^[A-Za-z_]\w{0,12}$/),
  PYTHON_CLASS_ARB.map((p) => `9${p}`),
  PYTHON_CLASS_ARB.map((p) => p.replace(".", "..")),
  PYTHON_CLASS_ARB.map((p) => `${p}.`),
  inserted(PYTHON_CLASS_ARB, ["-", " ", "/"]),
);

const REGION_ARB = fc.stringMatching(/^[a-z]{2,4}(?:-[a-z]{2,10}){1,2}-\d{1,2}$/);
const REGION_MISS = fc.oneof(
  REGION_ARB.map((r) => r.toUpperCase()),
  REGION_ARB.map((r) => r.replace(/-/g, "_")),
  REGION_ARB.map((r) => r.replace(/-\d+$/, "")),
  REGION_ARB.map((r) => `${r}-`),
);

const AWS_TRUST_BASE = (trust: Record<string, unknown>) => {
  const { workloadIdentity: _none, ...raw } = rawInputs();
  return { ...raw, aws: { targetRole: "arn:aws:iam::123456789012:role/data-reader", region: "us-east-1", trust } };
};
const WEB_IDENTITY = AWS_TRUST_BASE({
  kind: "webIdentity",
  issuerUrl: "https://oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B71",
  namespace: "celestial-galaxy-1234",
});
const CLUSTER_ROLE = AWS_TRUST_BASE({ kind: "clusterRole", dataPlaneAccountId: "999988887777", clusterId: "clv1abc" });
const GCP_CUSTOMER_MANAGED = gcpInputs(
  {
    grant: {
      kind: "customerManagedIdentity",
      serviceAccount: "reader@customer-data.iam.gserviceaccount.com",
      workloadIdentityPool: "astronomer-prod.svc.id.goog",
      namespace: "celestial-galaxy-1234",
    },
  },
  { workloadIdentity: undefined },
);
const GCP_IMPERSONATION = gcpInputs({
  grant: { kind: "impersonation", serviceAccount: "reader@customer-data.iam.gserviceaccount.com" },
});
const AZURE_ASSIGNMENT = azureInputs({
  roleAssignment: { scope: "/subscriptions/11111111-2222-3333-4444-555555555555", role: "Reader" },
});
const ASTRO_ORG = "clmh597sg000208lb2kjhcn8q";
const ASTRO_TARGET = rawInputs({
  connection: {
    target: "astro",
    connectionId: "aws_data",
    astro: { organizationId: ASTRO_ORG, deploymentId: "clmh597sg000208lb2kjhcn8r" },
  },
});
const WITH_DEPLOYMENT = {
  ...WEB_IDENTITY,
  deployment: {
    organizationId: ASTRO_ORG,
    deploymentId: "clmh597sg000208lb2kjhcn8r",
    cloudProvider: "AWS",
    secretsBackend: { backend: "a.b" },
  },
};

interface Shape {
  /** The input, as the inputs table of docs/reference.md names it. */
  name: string;
  base: Record<string, unknown>;
  path: Path;
  /** Where the value goes, when it is not `path` itself (a list). */
  set?: (base: Record<string, unknown>, value: string) => Record<string, unknown>;
  valid: fc.Arbitrary<string>;
  nearMiss: fc.Arbitrary<string>;
  /** A URL: echoed without its credentials. */
  url?: true;
}

const SHAPES: Shape[] = [
  {
    name: "aws.targetRole (an ARN)",
    base: rawInputs(),
    path: ["aws", "targetRole"],
    valid: ROLE_ARN_ARB,
    nearMiss: ROLE_ARN_MISS.filter((v) => !/^[\w+=,.@-]{1,64}$/.test(v)),
  },
  {
    name: "aws.targetRole (a name)",
    base: rawInputs(),
    path: ["aws", "targetRole"],
    valid: ROLE_NAME_ARB,
    nearMiss: ROLE_NAME_MISS,
  },
  {
    name: "workloadIdentity on AWS",
    base: rawInputs(),
    path: ["workloadIdentity"],
    valid: ROLE_ARN_ARB,
    nearMiss: fc.oneof(ROLE_ARN_MISS, ROLE_NAME_ARB),
  },
  { name: "aws.region", base: rawInputs(), path: ["aws", "region"], valid: REGION_ARB, nearMiss: REGION_MISS },
  {
    name: "aws.trust.clusterRoleArn",
    base: AWS_TRUST_BASE({ kind: "clusterRole", clusterRoleArn: "arn:aws:iam::999988887777:role/x" }),
    path: ["aws", "trust", "clusterRoleArn"],
    valid: ROLE_ARN_ARB,
    nearMiss: ROLE_ARN_MISS,
  },
  {
    name: "aws.trust.dataPlaneAccountId",
    base: CLUSTER_ROLE,
    path: ["aws", "trust", "dataPlaneAccountId"],
    valid: ACCOUNT_ARB,
    nearMiss: fc.oneof(
      fc.stringMatching(/^\d{11}$/),
      fc.stringMatching(/^\d{13}$/),
      inserted(ACCOUNT_ARB, ["a", "-", " "]),
    ),
  },
  {
    name: "aws.trust.clusterId",
    base: CLUSTER_ROLE,
    path: ["aws", "trust", "clusterId"],
    valid: fc.stringMatching(/^[\w-]{1,50}$/),
    nearMiss: fc.oneof(
      fc.stringMatching(/^[\w-]{51,64}$/),
      inserted(fc.stringMatching(/^[\w-]{2,40}$/), [".", "/", ":", " "]),
    ),
  },
  {
    name: "aws.trust.issuerUrl",
    base: WEB_IDENTITY,
    path: ["aws", "trust", "issuerUrl"],
    valid: ISSUER_ARB(false),
    nearMiss: ISSUER_MISS(false, 255),
    url: true,
  },
  {
    name: "aws.trust.namespace",
    base: WEB_IDENTITY,
    path: ["aws", "trust", "namespace"],
    valid: NAMESPACE_ARB,
    nearMiss: NAMESPACE_MISS,
  },
  {
    name: "aws.trust.serviceAccountNames",
    base: WEB_IDENTITY,
    path: ["aws", "trust", "serviceAccountNames", "0"],
    set: (b, v) => withValue(b, ["aws", "trust", "serviceAccountNames"], [v]),
    valid: K8S_SA_ARB,
    nearMiss: K8S_SA_MISS,
  },
  {
    name: "gcp.project",
    base: gcpInputs(),
    path: ["gcp", "project"],
    valid: fc.oneof(
      PROJECT_ARB,
      PROJECT_ARB.map((p) => `example.com:${p}`),
    ),
    nearMiss: PROJECT_MISS,
  },
  {
    name: "gcp.grant.role",
    base: gcpInputs(),
    path: ["gcp", "grant", "role"],
    valid: GCP_ROLE_ARB,
    nearMiss: GCP_ROLE_MISS,
  },
  {
    name: "gcp.grant.serviceAccount",
    base: GCP_IMPERSONATION,
    path: ["gcp", "grant", "serviceAccount"],
    valid: SERVICE_ACCOUNT_ARB,
    nearMiss: SERVICE_ACCOUNT_MISS,
  },
  {
    name: "workloadIdentity on GCP",
    base: gcpInputs(),
    path: ["workloadIdentity"],
    valid: SERVICE_ACCOUNT_ARB,
    nearMiss: SERVICE_ACCOUNT_MISS,
  },
  {
    name: "gcp.grant.workloadIdentityPool",
    base: GCP_CUSTOMER_MANAGED,
    path: ["gcp", "grant", "workloadIdentityPool"],
    valid: PROJECT_ARB.map((p) => `${p}.svc.id.goog`),
    nearMiss: fc.oneof(
      PROJECT_ARB.map((p) => `${p}.svc.id.google`),
      PROJECT_ARB.map((p) => `${p}.id.goog`),
      PROJECT_MISS.map((p) => `${p}.svc.id.goog`),
    ),
  },
  {
    name: "gcp.grant.namespace",
    base: GCP_CUSTOMER_MANAGED,
    path: ["gcp", "grant", "namespace"],
    valid: NAMESPACE_ARB,
    nearMiss: NAMESPACE_MISS,
  },
  {
    name: "gcp.grant.serviceAccountNames",
    base: GCP_CUSTOMER_MANAGED,
    path: ["gcp", "grant", "serviceAccountNames", "0"],
    set: (b, v) => withValue(b, ["gcp", "grant", "serviceAccountNames"], [v]),
    valid: K8S_SA_ARB,
    nearMiss: K8S_SA_MISS,
  },
  {
    name: "azure.identity (a resource id)",
    base: azureInputs(),
    path: ["azure", "identity"],
    valid: IDENTITY_ID_ARB,
    nearMiss: IDENTITY_ID_MISS,
  },
  {
    name: "azure.identity.subscriptionId",
    base: azureInputs({
      identity: { subscriptionId: "11111111-2222-3333-4444-555555555555", resourceGroup: "rg", name: "airflow-reader" },
    }),
    path: ["azure", "identity", "subscriptionId"],
    valid: GUID_ARB,
    nearMiss: fc.oneof(
      GUID_ARB.map((g) => g.slice(1)),
      GUID_ARB.map((g) => g.replace(/-/g, "")),
    ),
  },
  {
    name: "azure.identity.resourceGroup",
    base: azureInputs({
      identity: { subscriptionId: "11111111-2222-3333-4444-555555555555", resourceGroup: "rg", name: "airflow-reader" },
    }),
    path: ["azure", "identity", "resourceGroup"],
    valid: RESOURCE_GROUP_ARB,
    nearMiss: fc.oneof(
      RESOURCE_GROUP_ARB.map((r) => `${r}.`),
      inserted(RESOURCE_GROUP_ARB, ["/", " ", "#", "!"], true),
      fc.stringMatching(/^[a-z]{91,95}$/),
    ),
  },
  {
    name: "azure.identity.name",
    base: azureInputs({
      identity: { subscriptionId: "11111111-2222-3333-4444-555555555555", resourceGroup: "rg", name: "airflow-reader" },
    }),
    path: ["azure", "identity", "name"],
    valid: IDENTITY_NAME_ARB,
    nearMiss: fc.oneof(
      fc.stringMatching(/^[a-z]{1,2}$/),
      IDENTITY_NAME_ARB.map((n) => `-${n}`),
      inserted(IDENTITY_NAME_ARB, [".", " ", "/"]),
      fc.stringMatching(/^[a-z]{129,135}$/),
    ),
  },
  {
    name: "azure.issuerUrl",
    base: azureInputs(),
    path: ["azure", "issuerUrl"],
    valid: ISSUER_ARB(true),
    nearMiss: ISSUER_MISS(true, 600),
    url: true,
  },
  {
    name: "azure.namespace",
    base: azureInputs(),
    path: ["azure", "namespace"],
    valid: NAMESPACE_ARB,
    nearMiss: NAMESPACE_MISS,
  },
  {
    name: "azure.serviceAccountNames",
    base: azureInputs(),
    path: ["azure", "serviceAccountNames", "0"],
    set: (b, v) => withValue(b, ["azure", "serviceAccountNames"], [v]),
    valid: K8S_SA_ARB,
    nearMiss: K8S_SA_MISS,
  },
  {
    name: "azure.roleAssignment.scope",
    base: AZURE_ASSIGNMENT,
    path: ["azure", "roleAssignment", "scope"],
    valid: SCOPE_ARB,
    nearMiss: SCOPE_MISS,
  },
  {
    name: "azure.roleAssignment.role",
    base: AZURE_ASSIGNMENT,
    path: ["azure", "roleAssignment", "role"],
    valid: AZURE_ROLE_ARB,
    nearMiss: AZURE_ROLE_MISS,
  },
  {
    name: "connection.connectionId",
    base: rawInputs(),
    path: ["connection", "connectionId"],
    valid: CONNECTION_ID_ARB,
    nearMiss: CONNECTION_ID_MISS,
  },
  {
    name: "connection.airflow.url",
    base: rawInputs(),
    path: ["connection", "airflow", "url"],
    valid: AIRFLOW_URL_ARB,
    nearMiss: AIRFLOW_URL_MISS,
    url: true,
  },
  {
    name: "connection.astro.organizationId",
    base: ASTRO_TARGET,
    path: ["connection", "astro", "organizationId"],
    valid: ASTRO_ID_ARB,
    nearMiss: ASTRO_ID_MISS,
  },
  {
    name: "connection.astro.deploymentId",
    base: ASTRO_TARGET,
    path: ["connection", "astro", "deploymentId"],
    valid: ASTRO_ID_ARB,
    nearMiss: ASTRO_ID_MISS,
  },
  {
    name: "deployment.organizationId",
    base: WITH_DEPLOYMENT,
    path: ["deployment", "organizationId"],
    valid: ASTRO_ID_ARB,
    nearMiss: ASTRO_ID_MISS,
  },
  {
    name: "deployment.deploymentId",
    base: WITH_DEPLOYMENT,
    path: ["deployment", "deploymentId"],
    valid: ASTRO_ID_ARB,
    nearMiss: ASTRO_ID_MISS,
  },
  {
    name: "deployment.secretsBackend.backend",
    base: WITH_DEPLOYMENT,
    path: ["deployment", "secretsBackend", "backend"],
    valid: PYTHON_CLASS_ARB,
    nearMiss: PYTHON_CLASS_MISS,
  },
];

describe("every documented input shape, against its vendor's rule", () => {
  it("the bases are valid inputs", async () => {
    for (const shape of SHAPES) expect(await failuresOf(shape.base), shape.name).toEqual({});
  });

  for (const shape of SHAPES) {
    const inputs = (value: string) => (shape.set ?? ((b, v) => withValue(b, shape.path, v)))(shape.base, value);

    it(`${shape.name}: values built to the rule pass check`, async () => {
      await fc.assert(
        fc.asyncProperty(shape.valid, async (value) => {
          expect(await failuresOf(inputs(value))).toEqual({});
        }),
      );
    });

    it(`${shape.name}: near misses fail check at ${shape.path.join(".")}, echoing the value and saying what a valid one looks like`, async () => {
      await fc.assert(
        fc.asyncProperty(shape.nearMiss, async (value) => {
          const failures = await failuresOf(inputs(value));
          const property = shape.path.join(".");
          expect(Object.keys(failures), JSON.stringify(failures)).toEqual([property]);
          const reason = failures[property]!;
          expect(reason).toMatch(/^must be .*such as /s);
          const given = lastGiven[property]!;
          if (!shape.url) expect(given).toContain(shownForTest(value));
          expect(given).not.toContain("hunter22");
        }),
      );
    });
  }
});

/** What a failure shows of a value: the same cut as the provider's. */
function shownForTest(value: string): string {
  const text = JSON.stringify(value);
  return text.length <= 120 ? text : text.slice(0, 119);
}
