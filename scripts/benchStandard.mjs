// The benchmark (`npm run bench`): trust policy capacity per role; wall times of up, no-op
// preview, no-op up, refresh and destroy against three baselines (trivial dynamic resources,
// trivial components over them, and components of this resource's shape and state over a provider
// that does no work); remote calls per resource; state sizes by part. AWS (one role),
// GCP (one project), Azure (five Deployments per identity), all from a project that installs the
// packed package. Prints tables and writes bench/results/latest.json.
import { randomBytes } from "node:crypto";
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import {
  airflowConfig as airflowConfigOf,
  BENCH_PROGRAMS,
  benchWorld,
  createRole,
  machine,
  median,
  oneRoleConfig,
  project as stackOf,
  round2,
  stateBreakdown,
  table,
  timed,
} from "./benchLib.mjs";
import { repoRoot } from "./toolchain.mjs";

/**
 * @typedef {import("../provider/grants/aws/trustPolicy.js").OwnedGrant} OwnedGrant
 * @typedef {import("../provider/grants/aws/trustPolicy.js").TrustPolicy} TrustPolicy
 * @typedef {import("../provider/grants/aws/types.js").AwsGrant} AwsGrant
 * @typedef {import("./recordingProxy.mjs").RecordedRequest} RecordedRequest
 */

// The compiled provider (npm run build), typed as its sources.
const require = createRequire(import.meta.url);
/** @type {typeof import("../provider/core/plan.js")} */
const { planAuthorization } = require(path.join(repoRoot, "dist/provider/core/plan.js"));
/** @type {typeof import("../provider/inputs.js")} */
const { parseInputs } = require(path.join(repoRoot, "dist/provider/inputs.js"));
/** @type {typeof import("../provider/grants/aws/trustPolicy.js")} */
const { withGrant, withStatement, minify } = require(path.join(repoRoot, "dist/provider/grants/aws/trustPolicy.js"));

const COUNT = Number(process.env.BENCH_COUNT ?? 50);
/**
 * Each operation is timed this many times (BENCH_ROUNDS), every stack once per round; the times are
 * the medians, the ratios the medians of each round's ratios.
 */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
/**
 * BENCH_ONLY=aws: only the AWS stack and the first two baselines, written to
 * bench/results/standard-aws.json (latest.json and bench/README.md's main table keep the last full run).
 */
const ONLY = process.env.BENCH_ONLY;
if (ONLY !== undefined && ONLY !== "aws") throw new Error(`BENCH_ONLY takes "aws", not ${ONLY}`);
/**
 * @typedef {{ up: number, preview: number, noOpUp: number, refresh: number, destroy: number, up64: number }} Times
 *   one round's wall times (ms), in the order they are taken
 * @typedef {Record<string, number | undefined>} Medians by operation
 * @typedef {Record<string, number>} Ratios by operation
 * @typedef {Record<string, Record<string, number>>} CallsByPhase phase -> call -> calls per resource
 * @typedef {{ callsPerResource: CallsByPhase, state?: ReturnType<typeof stateBreakdown> }} StackOut
 * @typedef {StackOut & { ms: Medians, ratio: Ratios, ratioToComponentFloor: Ratios, writes: Record<string, number> }} StackResult
 * @typedef {{ mode: string, packing: string, q2048: number, q4096: number }} Capacity
 * @typedef {{
 *   date: string,
 *   machine: string,
 *   node: string,
 *   count: number,
 *   rounds: number,
 *   pairedRatios: boolean,
 *   capacity?: Capacity[],
 *   trivialMs?: Medians,
 *   trivialComponentsMs?: Medians,
 *   shapedComponentsMs?: Medians,
 *   shapedComponentsRatio?: Ratios,
 *   aws?: StackResult,
 *   gcp?: StackResult,
 *   azure?: StackResult,
 * }} Results what latest.json holds
 */
/** @type {Results} */
const results = {
  date: new Date().toISOString(),
  machine: machine(),
  node: process.version,
  count: COUNT,
  rounds: ROUNDS,
  pairedRatios: true,
};

// ---- 1. How many Deployments fit on one role ------------------------------------------------
/** @type {TrustPolicy} */
const BASE_POLICY = {
  Version: "2012-10-17",
  Statement: [{ Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" }],
};
const ADJECTIVES = ["celestial", "eclipsing", "nebular", "stellar", "orbital", "spectral", "galactic", "lunar"];
const NOUNS = ["galaxy", "quasar", "pulsar", "nebula", "comet", "asteroid", "supernova", "meteor"];
/**
 * Astro-style namespaces and identities: `<adjective>-<noun>-<4 digits>`, `astro-<namespace>`.
 * @param {number} i
 */
function namespace(i) {
  return `${ADJECTIVES[i % 8]}-${NOUNS[(i >> 3) % 8]}-${String(1000 + ((i * 7919) % 9000)).padStart(4, "0")}`;
}
/**
 * The AWS grant planned for Deployment `i`.
 * @param {number} i
 * @param {Trust | undefined} trust
 * @returns {OwnedGrant}
 */
function inputs(i, trust) {
  const raw = {
    owner: `platform/prod/deployment-${i}`,
    aws: {
      targetRole: "arn:aws:iam::123456789012:role/data-lake-reader",
      region: "us-east-1",
      ...(trust ? { trust: trust(i) } : {}),
    },
    connection: {
      connectionId: "aws_default",
      airflow: { url: "https://myorg.astronomer.run/d1", auth: { kind: "token" } },
    },
    ...(trust ? {} : { workloadIdentity: `arn:aws:iam::851725478632:role/astro-${namespace(i)}` }),
  };
  const parsed = parseInputs(raw);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.failures));
  const grant = /** @type {AwsGrant} */ (planAuthorization(parsed.plugin, parsed.value).grant);
  if (!grant.statement) throw new Error(`the plan of Deployment ${i} has no trust statement`);
  return { sid: grant.sid, entryPath: grant.entryPath, statement: grant.statement };
}
const ISSUER = "https://oidc.eks.us-east-1.amazonaws.com/id/A1B2C3D4E5F60718293A4B5C6D7E8F90";
/** @typedef {(i: number) => Record<string, unknown>} Trust the `aws.trust` input of Deployment i */
/** @type {Record<string, Trust | undefined>} */
const MODES = {
  "default identity": undefined,
  "web identity, 5 service accounts": (i) => ({ kind: "webIdentity", issuerUrl: ISSUER, namespace: namespace(i) }),
  "web identity, namespace-wide": (i) => ({
    kind: "webIdentity",
    issuerUrl: ISSUER,
    namespace: namespace(i),
    namespaceWide: true,
  }),
};
/**
 * One statement per Deployment, each with a Sid of its own: what packing is measured against.
 * @param {OwnedGrant} grant
 * @param {number} i
 */
function unpacked(grant, i) {
  return { ...grant.statement, Sid: `AirflowDA${String(i).padStart(16, "0")}` };
}
/**
 * @param {number} quota
 * @param {Trust | undefined} trust
 * @param {boolean} packed
 */
function fits(quota, trust, packed) {
  let policy = BASE_POLICY;
  for (let i = 0; ; i++) {
    const grant = inputs(i, trust);
    const next = packed ? withGrant(policy, grant) : withStatement(policy, unpacked(grant, i));
    if (minify(next).length > quota) return i;
    policy = next;
  }
}
/** @type {Capacity[]} */
const capacity = [];
results.capacity = capacity;
for (const [mode, trust] of Object.entries(MODES)) {
  for (const packed of [true, false]) {
    capacity.push({
      mode,
      packing: packed ? "packed" : "one statement each",
      q2048: fits(2048, trust, packed),
      q4096: fits(4096, trust, packed),
    });
  }
}

// ---- 2-4. pulumi up, remote calls, state sizes (real CLI, sandbox) -------------------------------
const { endpoints, aws, airflow, google, app, env, close } = await benchWorld();
/** @typedef {ReturnType<typeof stackOf>} Stack */
/**
 * @param {string} program
 * @param {string} stackName
 * @param {import("./benchLib.mjs").StackConfig} config
 * @returns {Stack}
 */
const project = (program, stackName, config) => stackOf(app, program, stackName, config, env);
const UP = ["up", "--yes", "--skip-preview"];
const UP64 = [...UP, "--parallel", "64"];
const REFRESH = ["refresh", "--yes", "--skip-preview"];
const DESTROY = ["destroy", "--yes", "--skip-preview"];

function calls() {
  /**
   * @param {RecordedRequest[]} list
   * @param {(request: RecordedRequest) => string} key
   */
  const count = (list, key) =>
    list.reduce((acc, r) => ((acc[key(r)] = (acc[key(r)] ?? 0) + 1), acc), /** @type {Record<string, number>} */ ({}));
  const out = {
    aws: count(aws.requests, (r) => new URLSearchParams(r.body).get("Action") ?? r.method),
    airflow: count(
      airflow.requests,
      (r) => `${r.method} ${r.url.replace(/\/connections\/[^?]+/, "/connections/{id}").replace(/\?.*/, "")}`,
    ),
    google: count(google.requests, (r) => {
      const route = r.url.replace(/\?.*/, "");
      const method = /:(\w+)$/.exec(route)?.[1] ?? r.method;
      return `${route.includes("/serviceAccounts/") ? "serviceAccounts" : "projects"}.${method}`;
    }),
  };
  aws.requests.length = 0;
  airflow.requests.length = 0;
  google.requests.length = 0;
  return out;
}
/** @param {ReturnType<typeof calls>} c */
const perResource = (c) => {
  const all = {
    ...Object.fromEntries(Object.entries(c.aws).map(([k, v]) => [`IAM ${k}`, v])),
    ...Object.fromEntries(Object.entries(c.google).map(([k, v]) => [`Google ${k}`, v])),
    ...Object.fromEntries(Object.entries(c.airflow).map(([k, v]) => [`Airflow ${k}`, v])),
  };
  return Object.fromEntries(Object.entries(all).map(([k, v]) => [k, round2(v / COUNT)]));
};
const WRITES = /UpdateAssumeRolePolicy|setIamPolicy|CreateOrUpdate|Delete|Create$|POST \/api|PATCH|DELETE/;
/** @param {Record<string, number>} perRes */
const writesIn = (perRes) =>
  Math.round(
    Object.entries(perRes)
      .filter(([k]) => WRITES.test(k))
      .reduce((n, [, v]) => n + v, 0) * COUNT,
  );

/**
 * One round of the operations every stack is timed on, in order: create, no-op preview, no-op up,
 * refresh, destroy, then up at --parallel 64. `phase` follows each operation (and `state` comes
 * after the refresh); it counts the calls the operation made.
 * @param {Stack} stack
 * @param {(phase: string) => Promise<unknown>} phase
 * @returns {Promise<Times>}
 */
async function roundTimes(stack, phase) {
  await phase("before");
  const up = await timed(() => stack.run(...UP));
  await phase("create");
  const preview = await timed(() => stack.run("preview"));
  await phase("preview");
  const noOpUp = await timed(() => stack.run(...UP));
  await phase("noOpUp");
  const refresh = await timed(() => stack.run(...REFRESH));
  await phase("refresh");
  await phase("state");
  const destroy = await timed(() => stack.run(...DESTROY));
  await phase("destroy");
  const up64 = await timed(() => stack.run(...UP64));
  await phase("create64");
  await stack.run(...DESTROY);
  await phase("after");
  return { up, preview, noOpUp, refresh, destroy, up64 };
}
/** @param {Times[]} rounds every round times the same operations */
const operationsOf = (rounds) => /** @type {(keyof Times)[]} */ (Object.keys(/** @type {Times} */ (rounds[0])));
/**
 * @param {Times[]} rounds
 * @returns {Medians}
 */
const medians = (rounds) => Object.fromEntries(operationsOf(rounds).map((k) => [k, median(rounds.map((t) => t[k]))]));
/**
 * The median over rounds of each round's ratio: every round times all stacks back to back, so each
 * ratio compares a stack with a baseline timed within the same few minutes of a machine whose
 * speed drifts.
 */
/**
 * @param {Times[]} rounds
 * @param {Times[]} baseRounds
 * @returns {Ratios}
 */
const pairedRatios = (rounds, baseRounds) =>
  Object.fromEntries(
    operationsOf(rounds).map((k) => [
      k,
      // every stack is timed in every round; round2(undefined) was NaN too
      round2(median(rounds.map((t, i) => t[k] / /** @type {Times} */ (baseRounds[i])[k])) ?? NaN),
    ]),
  );

const roleArn = await createRole(endpoints.moto.url, `bench-${randomBytes(3).toString("hex")}`, BASE_POLICY);

try {
  /** @param {string} ns */
  const airflowConfig = (ns) => airflowConfigOf(ns, { airflow, endpoints });
  // Baselines: bare trivial dynamic resources, and the engine's floor for our shape (a component
  // over one dynamic resource with check and diff, outputs registered).
  const trivial = project("trivial.js", "bench", { "many:count": { value: String(COUNT) } });
  const floor = project("trivialComponents.js", "bench", { "many:count": { value: String(COUNT) } });
  const auth = project("many.js", "bench", oneRoleConfig(COUNT, roleArn, { airflow, endpoints }));
  // The third baseline: components of this resource's shape over a provider that does no work and
  // answers with the AWS stack's own state (captured in the first round, before its first run).
  const shapedDir = path.join(app, "node_modules", "bench-shaped-provider");
  mkdirSync(shapedDir, { recursive: true });
  copyFileSync(path.join(BENCH_PROGRAMS, "shapedProvider.js"), path.join(shapedDir, "index.js"));
  const shapedTemplate = path.join(app, "shaped-template.json");
  const shaped = project("shapedComponents.js", "bench", {
    "many:count": { value: String(COUNT) },
    "many:targetRole": { value: roleArn },
    "shaped:template": { value: shapedTemplate },
  });

  // GCP: the same count of project-role grants on one project.
  const projectId = `bench-${randomBytes(3).toString("hex")}`;
  await fetch(`${endpoints.gcp.fakeUrl}/_fake/projects`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ projectId }),
  });
  const gcp = project("gcp.js", "gcpbench", {
    "gcpe2e:count": { value: String(COUNT) },
    "gcpe2e:kind": { value: "projectRole" },
    "gcpe2e:project": { value: projectId },
    "gcpe2e:role": { value: "roles/bigquery.dataViewer" },
    ...airflowConfig("gcpe2e"),
  });

  // Azure: the same count of Deployments, five per managed identity (Entra's 20 credentials), each
  // with four credentials and the identity's (shared) role assignment on one storage account.
  const subscriptionId = "5ca1ab1e-0000-4000-8000-00000000be9c";
  /** @type {string[]} */
  const identities = [];
  for (let i = 0; i < Math.ceil(COUNT / 5); i++) {
    const response = await fetch(`${endpoints.azure.fakeUrl}/_fake/identities`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ subscriptionId, resourceGroup: "bench", name: `bench-${randomBytes(3).toString("hex")}` }),
    });
    identities.push(/** @type {{ id: string }} */ (await response.json()).id);
  }
  const countAzure = async () => {
    const response = await fetch(`${endpoints.azure.fakeUrl}/_fake/calls`);
    const counts = /** @type {Record<string, number>} */ (await response.json());
    await fetch(`${endpoints.azure.fakeUrl}/_fake/calls/reset`, { method: "POST" });
    return Object.fromEntries(Object.entries(counts).map(([k, v]) => [`Azure ${k}`, round2(v / COUNT)]));
  };
  const azure = project("azure.js", "azbench", {
    "aze2e:count": { value: String(COUNT) },
    "aze2e:identities": { value: JSON.stringify(identities) },
    "aze2e:issuerUrl": { value: "https://westus2.oic.prod-aks.azure.com/bench/" },
    "aze2e:scope": {
      value: `/subscriptions/${subscriptionId}/resourceGroups/bench/providers/Microsoft.Storage/storageAccounts/lake`,
    },
    ...airflowConfig("aze2e"),
  });

  /**
   * @typedef {{ stack: Stack, rounds: Times[] }} Timed
   * @typedef {Timed & { name: "trivialMs" | "trivialComponentsMs" | "shapedComponentsMs", out?: undefined, onState?: undefined, extraCalls?: undefined }} Baseline
   * @typedef {Timed & {
   *   name: "aws" | "gcp" | "azure",
   *   out: StackOut,
   *   onState?: (exported: string) => void,
   *   extraCalls?: () => Promise<Record<string, number>>,
   * }} Measured calls, writes and state recorded too
   */
  /** @type {(Baseline | Measured)[]} */
  const measured = [
    { name: "trivialMs", stack: trivial, rounds: [] },
    { name: "trivialComponentsMs", stack: floor, rounds: [] },
    {
      name: "aws",
      stack: auth,
      rounds: [],
      out: { callsPerResource: {} },
      onState: (exported) => writeShapedTemplate(exported),
    },
    { name: "shapedComponentsMs", stack: shaped, rounds: [] },
    { name: "gcp", stack: gcp, rounds: [], out: { callsPerResource: {} } },
    { name: "azure", stack: azure, rounds: [], out: { callsPerResource: {} }, extraCalls: countAzure },
  ];
  if (ONLY)
    measured.splice(
      0,
      measured.length,
      ...measured.filter((m) => m.name !== ONLY && m.out === undefined && m.stack !== shaped),
      ...measured.filter((m) => m.name === ONLY),
    );
  // Unmeasured: the first pulumi run of a session pays for loading the CLI, plugins and modules.
  await trivial.run(...UP);
  await trivial.run(...DESTROY);
  /** @param {Baseline | Measured} m */
  const reset = async (m) => {
    calls();
    await m.extraCalls?.();
  };
  for (let round = 0; round < ROUNDS; round++) {
    for (const m of measured) {
      // Calls, writes and state come from the first round; the later ones only time the same steps.
      const out = round === 0 ? m.out : undefined;
      m.rounds.push(
        await roundTimes(m.stack, async (phase) => {
          if (!out || phase === "before" || phase === "after") return reset(m);
          if (phase === "state") {
            const exported = await m.stack.run("stack", "export");
            out.state = stateBreakdown(exported);
            m.onState?.(exported);
            return;
          }
          out.callsPerResource[phase] = { ...(await m.extraCalls?.()), ...perResource(calls()) };
        }),
      );
    }
  }
  const [base, floorOf] = measured;
  if (!base || !floorOf) throw new Error("the two baselines are measured first");
  for (const m of measured) {
    if (!m.out) {
      results[m.name] = medians(m.rounds);
      continue;
    }
    results[m.name] = {
      ...m.out,
      ms: medians(m.rounds),
      ratio: pairedRatios(m.rounds, base.rounds),
      ratioToComponentFloor: pairedRatios(m.rounds, floorOf.rounds),
      writes: Object.fromEntries(Object.entries(m.out.callsPerResource).map(([k, v]) => [k, writesIn(v)])),
    };
  }
  if (!ONLY) {
    const shapedRounds = measured.find((m) => m.stack === shaped)?.rounds;
    if (!shapedRounds) throw new Error("the shaped components were not measured");
    results.shapedComponentsRatio = pairedRatios(shapedRounds, base.rounds);
  }
  for (const m of measured) m.stack.dispose();

  /**
   * Each AWS authorization's inputs and outputs, by owner, without the provider and the secret.
   * @param {string} exported `pulumi stack export` as printed
   */
  function writeShapedTemplate(exported) {
    /** @param {Record<string, unknown>} properties */
    const strip = ({ __provider: _p, credentials: _c, ...rest }) => rest;
    /**
     * @typedef {Record<string, unknown> & { owner: string }} Properties
     * @type {{ deployment: { resources: { type: string, inputs: Properties, outputs: Properties }[] } }}
     */
    const state = JSON.parse(exported);
    const dynamic = state.deployment.resources.filter((r) => r.type.startsWith("pulumi-nodejs:dynamic"));
    const byOwner = Object.fromEntries(
      dynamic.map((r) => [r.inputs.owner, { inputs: strip(r.inputs), outputs: strip(r.outputs) }]),
    );
    writeFileSync(shapedTemplate, JSON.stringify(byOwner));
  }
} finally {
  await close();
}

// ---- report -----------------------------------------------------------------------------------
/**
 * @template T
 * @param {T | undefined} value
 * @param {string} what
 * @returns {T}
 */
function measuredOf(value, what) {
  if (value === undefined) throw new Error(`${what} was not measured`);
  return value;
}
const trivialMs = measuredOf(results.trivialMs, "trivialMs");
const trivialComponentsMs = measuredOf(results.trivialComponentsMs, "trivialComponentsMs");
const awsResult = measuredOf(results.aws, "aws");
if (ONLY) {
  table(`Wall time, ${COUNT} resources (ms); ratio to the trivial dynamic resources / to trivial components`, [
    ["operation", "trivial", "trivial components", "AWS, one role"],
    ...["up", "up64", "preview", "noOpUp", "refresh", "destroy"].map((k) => [
      k,
      trivialMs[k],
      trivialComponentsMs[k],
      `${awsResult.ms[k]} (${awsResult.ratio[k]} / ${awsResult.ratioToComponentFloor[k]})`,
    ]),
  ]);
  mkdirSync(path.join(repoRoot, "bench", "results"), { recursive: true });
  writeFileSync(path.join(repoRoot, "bench", "results", "standard-aws.json"), JSON.stringify(results, null, 2) + "\n");
  console.log("\nwritten to bench/results/standard-aws.json");
  process.exit(0);
}
const rows = [["Deployments per role (trust policy quota)", "2,048", "4,096"]];
for (const c of capacity) rows.push([`${c.mode}, ${c.packing}`, String(c.q2048), String(c.q4096)]);
table("Capacity", rows);
const CLOUDS = /** @type {const} */ (["aws", "gcp", "azure"]);
const OPS = [
  ["up", "up (create)"],
  ["up64", "up --parallel 64 (create)"],
  ["preview", "preview, no changes"],
  ["noOpUp", "no-op up"],
  ["refresh", "refresh"],
  ["destroy", "destroy"],
];
table(`Wall time, ${COUNT} resources (ms); ratio to the trivial dynamic resources / to trivial components`, [
  [
    "operation",
    "trivial",
    "trivial components",
    "shaped components (ratio)",
    "AWS, one role",
    "GCP, one project",
    "Azure, 5 per identity",
  ],
  ...OPS.map(([k = "", label]) => [
    label,
    trivialMs[k],
    trivialComponentsMs[k],
    `${measuredOf(results.shapedComponentsMs, "shapedComponentsMs")[k]} (${measuredOf(results.shapedComponentsRatio, "shapedComponentsRatio")[k]})`,
    ...CLOUDS.map((c) => {
      const r = measuredOf(results[c], c);
      return `${r.ms[k]} (${r.ratio[k]} / ${r.ratioToComponentFloor[k]})`;
    }),
  ]),
]);
const PHASES = ["create", "preview", "noOpUp", "refresh", "destroy"];
for (const cloud of CLOUDS) {
  const result = measuredOf(results[cloud], cloud);
  const c = result.callsPerResource;
  const keys = [...new Set(PHASES.flatMap((p) => Object.keys(c[p] ?? {})))].sort();
  table(`${cloud}: remote calls per resource`, [
    ["call", ...PHASES],
    ...keys.map((k) => [k, ...PHASES.map((p) => String(c[p]?.[k] ?? 0))]),
    ["writes (all)", ...PHASES.map((p) => String(result.writes[p] ?? 0))],
  ]);
}
const state = measuredOf(awsResult.state, "aws state");
table("State per authorization (AWS stack; bytes)", [
  ["what", "bytes"],
  ["pulumi stack export, as printed", state.bytesPerResource],
  ["minified", state.minifiedBytesPerResource],
  ["__provider (one copy; it is in inputs and outputs)", state.providerBytesPerResource],
  ...Object.entries(state.minifiedBytesByPart).map(([k, v]) => [`  ${k} (minified)`, v]),
]);
mkdirSync(path.join(repoRoot, "bench", "results"), { recursive: true });
writeFileSync(path.join(repoRoot, "bench", "results", "latest.json"), JSON.stringify(results, null, 2) + "\n");
console.log("\nwritten to bench/results/latest.json");
