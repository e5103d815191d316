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

const require = createRequire(import.meta.url);
const { planAuthorization } = require("../dist/provider/core/plan.js");
const { parseInputs } = require("../dist/provider/inputs.js");
const { withGrant, withStatement, minify } = require("../dist/provider/grants/aws/trustPolicy.js");

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
const results = {
  date: new Date().toISOString(),
  machine: machine(),
  node: process.version,
  count: COUNT,
  rounds: ROUNDS,
  pairedRatios: true,
};

// ---- 1. How many Deployments fit on one role ------------------------------------------------
const BASE_POLICY = {
  Version: "2012-10-17",
  Statement: [{ Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" }],
};
const ADJECTIVES = ["celestial", "eclipsing", "nebular", "stellar", "orbital", "spectral", "galactic", "lunar"];
const NOUNS = ["galaxy", "quasar", "pulsar", "nebula", "comet", "asteroid", "supernova", "meteor"];
/** Astro-style namespaces and identities: `<adjective>-<noun>-<4 digits>`, `astro-<namespace>`. */
function namespace(i) {
  return `${ADJECTIVES[i % 8]}-${NOUNS[(i >> 3) % 8]}-${String(1000 + ((i * 7919) % 9000)).padStart(4, "0")}`;
}
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
  return planAuthorization(parsed.plugin, parsed.value).grant;
}
const ISSUER = "https://oidc.eks.us-east-1.amazonaws.com/id/A1B2C3D4E5F60718293A4B5C6D7E8F90";
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
/** One statement per Deployment, each with a Sid of its own: what packing is measured against. */
function unpacked(grant, i) {
  return { ...grant.statement, Sid: `AirflowDA${String(i).padStart(16, "0")}` };
}
function fits(quota, trust, packed) {
  let policy = BASE_POLICY;
  for (let i = 0; ; i++) {
    const grant = inputs(i, trust);
    const next = packed ? withGrant(policy, grant) : withStatement(policy, unpacked(grant, i));
    if (minify(next).length > quota) return i;
    policy = next;
  }
}
results.capacity = [];
for (const [mode, trust] of Object.entries(MODES)) {
  for (const packed of [true, false]) {
    results.capacity.push({
      mode,
      packing: packed ? "packed" : "one statement each",
      q2048: fits(2048, trust, packed),
      q4096: fits(4096, trust, packed),
    });
  }
}

// ---- 2-4. pulumi up, remote calls, state sizes (real CLI, sandbox) -------------------------------
const { endpoints, aws, airflow, google, app, env, close } = await benchWorld();
const project = (program, stackName, config) => stackOf(app, program, stackName, config, env);
const UP = ["up", "--yes", "--skip-preview"];
const UP64 = [...UP, "--parallel", "64"];
const REFRESH = ["refresh", "--yes", "--skip-preview"];
const DESTROY = ["destroy", "--yes", "--skip-preview"];

function calls() {
  const count = (list, key) => list.reduce((acc, r) => ((acc[key(r)] = (acc[key(r)] ?? 0) + 1), acc), {});
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
const perResource = (c) => {
  const all = {
    ...Object.fromEntries(Object.entries(c.aws).map(([k, v]) => [`IAM ${k}`, v])),
    ...Object.fromEntries(Object.entries(c.google).map(([k, v]) => [`Google ${k}`, v])),
    ...Object.fromEntries(Object.entries(c.airflow).map(([k, v]) => [`Airflow ${k}`, v])),
  };
  return Object.fromEntries(Object.entries(all).map(([k, v]) => [k, round2(v / COUNT)]));
};
const WRITES = /UpdateAssumeRolePolicy|setIamPolicy|CreateOrUpdate|Delete|Create$|POST \/api|PATCH|DELETE/;
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
 */
async function roundTimes(stack, phase) {
  const t = {};
  await phase("before");
  t.up = await timed(() => stack.run(...UP));
  await phase("create");
  t.preview = await timed(() => stack.run("preview"));
  await phase("preview");
  t.noOpUp = await timed(() => stack.run(...UP));
  await phase("noOpUp");
  t.refresh = await timed(() => stack.run(...REFRESH));
  await phase("refresh");
  await phase("state");
  t.destroy = await timed(() => stack.run(...DESTROY));
  await phase("destroy");
  t.up64 = await timed(() => stack.run(...UP64));
  await phase("create64");
  await stack.run(...DESTROY);
  await phase("after");
  return t;
}
const medians = (rounds) => Object.fromEntries(Object.keys(rounds[0]).map((k) => [k, median(rounds.map((t) => t[k]))]));
/**
 * The median over rounds of each round's ratio: every round times all stacks back to back, so each
 * ratio compares a stack with a baseline timed within the same few minutes of a machine whose
 * speed drifts.
 */
const pairedRatios = (rounds, baseRounds) =>
  Object.fromEntries(
    Object.keys(rounds[0]).map((k) => [k, round2(median(rounds.map((t, i) => t[k] / baseRounds[i][k])))]),
  );

const roleArn = await createRole(endpoints.moto.url, `bench-${randomBytes(3).toString("hex")}`, BASE_POLICY);

try {
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
  const identities = [];
  for (let i = 0; i < Math.ceil(COUNT / 5); i++) {
    const response = await fetch(`${endpoints.azure.fakeUrl}/_fake/identities`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ subscriptionId, resourceGroup: "bench", name: `bench-${randomBytes(3).toString("hex")}` }),
    });
    identities.push((await response.json()).id);
  }
  const countAzure = async () => {
    const response = await fetch(`${endpoints.azure.fakeUrl}/_fake/calls`);
    const counts = await response.json();
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

  const measured = [
    { name: "trivialMs", stack: trivial },
    { name: "trivialComponentsMs", stack: floor },
    { name: "aws", stack: auth, out: { callsPerResource: {} }, onState: (exported) => writeShapedTemplate(exported) },
    { name: "shapedComponentsMs", stack: shaped },
    { name: "gcp", stack: gcp, out: { callsPerResource: {} } },
    { name: "azure", stack: azure, out: { callsPerResource: {} }, extraCalls: countAzure },
  ];
  if (ONLY)
    measured.splice(
      0,
      measured.length,
      ...measured.filter((m) => m.name !== ONLY && m.out === undefined && m.stack !== shaped),
      ...measured.filter((m) => m.name === ONLY),
    );
  for (const m of measured) m.rounds = [];
  // Unmeasured: the first pulumi run of a session pays for loading the CLI, plugins and modules.
  await trivial.run(...UP);
  await trivial.run(...DESTROY);
  const reset = async (m) => {
    calls();
    await m.extraCalls?.();
  };
  for (let round = 0; round < ROUNDS; round++) {
    for (const m of measured) {
      // Calls, writes and state come from the first round; the later ones only time the same steps.
      const record = round === 0 && m.out;
      m.rounds.push(
        await roundTimes(m.stack, async (phase) => {
          if (!record || phase === "before" || phase === "after") return reset(m);
          if (phase === "state") {
            const exported = await m.stack.run("stack", "export");
            m.out.state = stateBreakdown(exported);
            m.onState?.(exported);
            return;
          }
          m.out.callsPerResource[phase] = { ...(await m.extraCalls?.()), ...perResource(calls()) };
        }),
      );
    }
  }
  const [base, floorOf] = measured;
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
  if (!ONLY) results.shapedComponentsRatio = pairedRatios(measured.find((m) => m.stack === shaped).rounds, base.rounds);
  for (const m of measured) m.stack.dispose();

  /** Each AWS authorization's inputs and outputs, by owner, without the provider and the secret. */
  function writeShapedTemplate(exported) {
    const strip = ({ __provider: _p, credentials: _c, ...rest }) => rest;
    const dynamic = JSON.parse(exported).deployment.resources.filter((r) => r.type.startsWith("pulumi-nodejs:dynamic"));
    const byOwner = Object.fromEntries(
      dynamic.map((r) => [r.inputs.owner, { inputs: strip(r.inputs), outputs: strip(r.outputs) }]),
    );
    writeFileSync(shapedTemplate, JSON.stringify(byOwner));
  }
} finally {
  await close();
}

// ---- report -----------------------------------------------------------------------------------
if (ONLY) {
  table(`Wall time, ${COUNT} resources (ms); ratio to the trivial dynamic resources / to trivial components`, [
    ["operation", "trivial", "trivial components", "AWS, one role"],
    ...["up", "up64", "preview", "noOpUp", "refresh", "destroy"].map((k) => [
      k,
      results.trivialMs[k],
      results.trivialComponentsMs[k],
      `${results.aws.ms[k]} (${results.aws.ratio[k]} / ${results.aws.ratioToComponentFloor[k]})`,
    ]),
  ]);
  mkdirSync(path.join(repoRoot, "bench", "results"), { recursive: true });
  writeFileSync(path.join(repoRoot, "bench", "results", "standard-aws.json"), JSON.stringify(results, null, 2) + "\n");
  console.log("\nwritten to bench/results/standard-aws.json");
  process.exit(0);
}
const rows = [["Deployments per role (trust policy quota)", "2,048", "4,096"]];
for (const c of results.capacity) rows.push([`${c.mode}, ${c.packing}`, String(c.q2048), String(c.q4096)]);
table("Capacity", rows);
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
  ...OPS.map(([k, label]) => [
    label,
    results.trivialMs[k],
    results.trivialComponentsMs[k],
    `${results.shapedComponentsMs[k]} (${results.shapedComponentsRatio[k]})`,
    ...["aws", "gcp", "azure"].map(
      (c) => `${results[c].ms[k]} (${results[c].ratio[k]} / ${results[c].ratioToComponentFloor[k]})`,
    ),
  ]),
]);
const PHASES = ["create", "preview", "noOpUp", "refresh", "destroy"];
for (const cloud of ["aws", "gcp", "azure"]) {
  const c = results[cloud].callsPerResource;
  const keys = [...new Set(PHASES.flatMap((p) => Object.keys(c[p] ?? {})))].sort();
  table(`${cloud}: remote calls per resource`, [
    ["call", ...PHASES],
    ...keys.map((k) => [k, ...PHASES.map((p) => String(c[p]?.[k] ?? 0))]),
    ["writes (all)", ...PHASES.map((p) => String(results[cloud].writes[p] ?? 0))],
  ]);
}
const state = results.aws.state;
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
