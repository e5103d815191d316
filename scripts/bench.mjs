// The benchmark (`npm run bench`): trust policy capacity per role, `pulumi up` wall time against a
// baseline of trivial dynamic resources, remote calls per resource, and state sizes, for AWS (one
// role) and GCP (one project). Prints tables and writes bench/results/latest.json.
import { execFile, execFileSync } from "node:child_process";
import { promisify } from "node:util";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { startRecordingProxy } from "./recordingProxy.mjs";
import { startSandbox, stopSandbox } from "./sandbox.mjs";
import { azureEnv, gcpEnv, motoEnv, pulumiEnv, repoRoot } from "./toolchain.mjs";

const require = createRequire(import.meta.url);
const { planAuthorization } = require("../dist/provider/core/plan.js");
const { parseInputs } = require("../dist/provider/inputs.js");
const { withGrant, withStatement, minify } = require("../dist/provider/grants/aws/trustPolicy.js");
const { IAMClient, CreateRoleCommand } = require("@aws-sdk/client-iam");

const COUNT = Number(process.env.BENCH_COUNT ?? 50);
const results = { date: new Date().toISOString(), node: process.version, count: COUNT };

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
const toolchain = pulumiEnv();
const sandboxDir = process.env.SANDBOX_DIR ?? path.join(repoRoot, ".sandbox");
const endpoints = await startSandbox({ dir: sandboxDir, only: ["moto", "airflow3", "gcp", "azure"] });
const aws = await startRecordingProxy(endpoints.moto.url);
const airflow = await startRecordingProxy(endpoints.airflow3.url);
const google = await startRecordingProxy(endpoints.gcp.url);
const workRoot = path.join(repoRoot, ".pulumi-state");
mkdirSync(workRoot, { recursive: true });

function project(program, stackName, config) {
  const dir = mkdtempSync(path.join(workRoot, "bench-"));
  writeFileSync(
    path.join(dir, "Pulumi.yaml"),
    "name: bench\nruntime:\n  name: nodejs\n  options:\n    typescript: false\nmain: index.js\n",
  );
  writeFileSync(
    path.join(dir, "index.js"),
    `module.exports = require(${JSON.stringify(path.join(repoRoot, "tests/e2e/programs", program))});\n`,
  );
  const env = {
    ...toolchain,
    ...motoEnv(aws.url),
    ...gcpEnv(google.url),
    ...azureEnv(endpoints.azure.url, endpoints.azure.caFile),
    PULUMI_BACKEND_URL: `file://${dir}/backend`,
    PULUMI_CONFIG_PASSPHRASE: "bench",
    PULUMI_HOME: path.join(dir, ".pulumi-home"),
  };
  mkdirSync(path.join(dir, "backend"));
  // Asynchronous: the recording proxies live in this process and must keep serving meanwhile.
  const run = async (...args) =>
    (
      await promisify(execFile)("pulumi", [...args, "--stack", stackName, "--non-interactive"], {
        cwd: dir,
        env,
        maxBuffer: 1 << 28,
      })
    ).stdout;
  execFileSync("pulumi", ["stack", "init", stackName, "--non-interactive"], { cwd: dir, env, stdio: "ignore" });
  for (const [key, value] of Object.entries(config)) {
    execFileSync("pulumi", ["config", "set", ...(value.secret ? ["--secret"] : []), key, "--stack", stackName], {
      cwd: dir,
      env,
      input: value.value,
    });
  }
  return { run, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}
async function timed(fn) {
  const t0 = performance.now();
  await fn();
  return Math.round(performance.now() - t0);
}
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
  return Object.fromEntries(Object.entries(all).map(([k, v]) => [k, Math.round((v / COUNT) * 100) / 100]));
};

const roleName = `bench-${randomBytes(3).toString("hex")}`;
const iam = new IAMClient({
  endpoint: endpoints.moto.url,
  region: "us-east-1",
  credentials: { accessKeyId: "x", secretAccessKey: "x" },
});
const role = await iam.send(
  new CreateRoleCommand({ RoleName: roleName, AssumeRolePolicyDocument: JSON.stringify(BASE_POLICY) }),
);

try {
  const auth = project("many.js", "bench", {
    "many:count": { value: String(COUNT) },
    "many:targetRole": { value: role.Role.Arn },
    "many:airflowUrl": { value: airflow.url },
    "many:airflowUsername": { value: endpoints.airflow3.username },
    "deployment-authorization:airflowPassword": { value: endpoints.airflow3.password, secret: true },
    "deployment-authorization:awsTrustPolicySizeQuota": { value: "4096" },
  });
  const trivial = project("trivial.js", "bench", { "many:count": { value: String(COUNT) } });
  calls();
  results.upMs = { authorizations: await timed(() => auth.run("up", "--yes", "--skip-preview")) };
  results.callsPerResource = { create: perResource(calls()) };
  results.upMs.noOpAuthorizations = await timed(() => auth.run("up", "--yes", "--skip-preview"));
  results.callsPerResource.noOpUp = perResource(calls());
  results.refreshMs = await timed(() => auth.run("refresh", "--yes", "--skip-preview"));
  results.callsPerResource.refresh = perResource(calls());
  const state = await auth.run("stack", "export");
  const resources = JSON.parse(state).deployment.resources.filter((r) => r.type.startsWith("pulumi-nodejs:dynamic"));
  results.state = {
    bytesPerResource: Math.round(Buffer.byteLength(state) / resources.length),
    providerBytesPerResource: Math.round(
      resources.reduce((n, r) => n + Buffer.byteLength(r.inputs.__provider), 0) / resources.length,
    ),
  };
  results.destroyMs = await timed(() => auth.run("destroy", "--yes", "--skip-preview"));
  calls();
  results.upMs.trivial = await timed(() => trivial.run("up", "--yes", "--skip-preview"));
  await trivial.run("destroy", "--yes", "--skip-preview");
  results.upMs.ratio = Math.round((results.upMs.authorizations / results.upMs.trivial) * 100) / 100;
  auth.dispose();
  trivial.dispose();

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
    "gcpe2e:airflowUrl": { value: airflow.url },
    "gcpe2e:airflowUsername": { value: endpoints.airflow3.username },
    "deployment-authorization:airflowPassword": { value: endpoints.airflow3.password, secret: true },
  });
  calls();
  results.gcp = { upMs: await timed(() => gcp.run("up", "--yes", "--skip-preview")) };
  const created = calls();
  results.gcp.setIamPolicyCalls = created.google["projects.setIamPolicy"] ?? 0;
  results.gcp.callsPerResource = { create: perResource(created) };
  results.gcp.noOpUpMs = await timed(() => gcp.run("up", "--yes", "--skip-preview"));
  results.gcp.callsPerResource.noOpUp = perResource(calls());
  results.gcp.refreshMs = await timed(() => gcp.run("refresh", "--yes", "--skip-preview"));
  results.gcp.callsPerResource.refresh = perResource(calls());
  results.gcp.destroyMs = await timed(() => gcp.run("destroy", "--yes", "--skip-preview"));
  results.gcp.ratio = Math.round((results.gcp.upMs / results.upMs.trivial) * 100) / 100;
  gcp.dispose();

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
    return Object.fromEntries(
      Object.entries(counts).map(([k, v]) => [`Azure ${k}`, Math.round((v / COUNT) * 100) / 100]),
    );
  };
  const azure = project("azure.js", "azbench", {
    "aze2e:count": { value: String(COUNT) },
    "aze2e:identities": { value: JSON.stringify(identities) },
    "aze2e:issuerUrl": { value: "https://westus2.oic.prod-aks.azure.com/bench/" },
    "aze2e:scope": {
      value: `/subscriptions/${subscriptionId}/resourceGroups/bench/providers/Microsoft.Storage/storageAccounts/lake`,
    },
    "aze2e:airflowUrl": { value: airflow.url },
    "aze2e:airflowUsername": { value: endpoints.airflow3.username },
    "deployment-authorization:airflowPassword": { value: endpoints.airflow3.password, secret: true },
  });
  await countAzure();
  calls();
  results.azure = { upMs: await timed(() => azure.run("up", "--yes", "--skip-preview")) };
  results.azure.callsPerResource = { create: { ...(await countAzure()), ...perResource(calls()) } };
  results.azure.noOpUpMs = await timed(() => azure.run("up", "--yes", "--skip-preview"));
  results.azure.callsPerResource.noOpUp = { ...(await countAzure()), ...perResource(calls()) };
  results.azure.refreshMs = await timed(() => azure.run("refresh", "--yes", "--skip-preview"));
  results.azure.callsPerResource.refresh = { ...(await countAzure()), ...perResource(calls()) };
  results.azure.destroyMs = await timed(() => azure.run("destroy", "--yes", "--skip-preview"));
  results.azure.ratio = Math.round((results.azure.upMs / results.upMs.trivial) * 100) / 100;
  azure.dispose();
} finally {
  await aws.close();
  await airflow.close();
  await google.close();
  await stopSandbox({ dir: sandboxDir });
}

// ---- report -----------------------------------------------------------------------------------
const rows = [["Deployments per role (trust policy quota)", "2,048", "4,096"]];
for (const c of results.capacity) rows.push([`${c.mode}, ${c.packing}`, String(c.q2048), String(c.q4096)]);
const table = (title, data) => {
  const widths = data[0].map((_, i) => Math.max(...data.map((r) => r[i].length)));
  console.log(`\n${title}`);
  for (const [n, r] of data.entries()) {
    console.log(`| ${r.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`);
    if (n === 0) console.log(`| ${widths.map((w) => "-".repeat(w)).join(" | ")} |`);
  }
};
table("Capacity", rows);
table(`pulumi up, ${COUNT} resources on one role (ms)`, [
  ["what", "ms"],
  [`${COUNT} DeploymentAuthorizations (create)`, String(results.upMs.authorizations)],
  [`${COUNT} trivial dynamic resources (create)`, String(results.upMs.trivial)],
  ["ratio", String(results.upMs.ratio)],
  [`no-op up of the ${COUNT} authorizations`, String(results.upMs.noOpAuthorizations)],
  [`refresh of the ${COUNT} authorizations`, String(results.refreshMs)],
  [`destroy of the ${COUNT} authorizations`, String(results.destroyMs)],
]);
const phases = ["create", "noOpUp", "refresh"];
const keys = [...new Set(phases.flatMap((p) => Object.keys(results.callsPerResource[p])))].sort();
table("Remote calls per resource", [
  ["call", ...phases],
  ...keys.map((k) => [k, ...phases.map((p) => String(results.callsPerResource[p][k] ?? 0))]),
]);
table(`GCP: ${COUNT} project-role grants on one project (ms)`, [
  ["what", "ms"],
  [`pulumi up (create), ratio ${results.gcp.ratio} to the trivial baseline`, String(results.gcp.upMs)],
  [`setIamPolicy calls for the ${COUNT} creates`, String(results.gcp.setIamPolicyCalls)],
  ["no-op up", String(results.gcp.noOpUpMs)],
  ["refresh", String(results.gcp.refreshMs)],
  ["destroy", String(results.gcp.destroyMs)],
]);
const gcpKeys = [...new Set(phases.flatMap((p) => Object.keys(results.gcp.callsPerResource[p])))].sort();
table("GCP remote calls per resource", [
  ["call", ...phases],
  ...gcpKeys.map((k) => [k, ...phases.map((p) => String(results.gcp.callsPerResource[p][k] ?? 0))]),
]);
table(`Azure: ${COUNT} Deployments, five per managed identity, one shared role assignment each (ms)`, [
  ["what", "ms"],
  [`pulumi up (create), ratio ${results.azure.ratio} to the trivial baseline`, String(results.azure.upMs)],
  ["no-op up", String(results.azure.noOpUpMs)],
  ["refresh", String(results.azure.refreshMs)],
  ["destroy", String(results.azure.destroyMs)],
]);
const azureKeys = [...new Set(phases.flatMap((p) => Object.keys(results.azure.callsPerResource[p])))].sort();
table("Azure remote calls per resource", [
  ["call", ...phases],
  ...azureKeys.map((k) => [k, ...phases.map((p) => String(results.azure.callsPerResource[p][k] ?? 0))]),
]);
table("State", [
  ["what", "bytes"],
  ["state file per resource", String(results.state.bytesPerResource)],
  ["__provider per resource", String(results.state.providerBytesPerResource)],
]);
mkdirSync(path.join(repoRoot, "bench", "results"), { recursive: true });
writeFileSync(path.join(repoRoot, "bench", "results", "latest.json"), JSON.stringify(results, null, 2) + "\n");
console.log("\nwritten to bench/results/latest.json");
