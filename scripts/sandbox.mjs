#!/usr/bin/env node
// Local sandbox of real servers for tests and the demo: moto (AWS mock), Airflow 3 API
// server, Airflow 2 webserver, each from its pinned venv (scripts/bootstrap/python.sh), and gcp:
// a fake of Google Cloud IAM (tests/fakes/gcp) behind Stoplight Prism, which holds every request
// and response to the OpenAPI generated from Google's discovery documents.
//
//   node scripts/sandbox.mjs up [moto|airflow3|airflow2|gcp ...]   # prints endpoints.json
//   node scripts/sandbox.mjs status | down
//   import { startSandbox, stopSandbox } from './scripts/sandbox.mjs'   // vitest globalSetup
//
// State lives in <dir> (default <repo>/.sandbox, env SANDBOX_DIR): endpoints.json, one log
// per process (gcp.log and gcp-prism.log for gcp) and one home directory per server. Only Node
// built-ins, so it runs before `npm install`; gcp alone needs Prism from node_modules.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const CACHE = path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache"), "deployment-authorization");
export const SERVERS = ["moto", "airflow3", "airflow2", "gcp"];
const USERNAME = "admin";
const TEMPLATE_REV = "t2"; // as in python.sh
const PRISM = path.join(ROOT, "node_modules", "@stoplight", "prism-cli", "dist", "index.js");
const PASSWORD = "sandbox-pw-4p9xk2"; // Airflow 2's is baked into the template DB by the bootstrap
const READY_TIMEOUT_MS = 120_000;
const STOP_TIMEOUT_MS = 10_000;

const log = (msg) => process.stderr.write(`[sandbox] ${msg}\n`);
const secs = (t0) => `${((performance.now() - t0) / 1000).toFixed(1)}s`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const defaultDir = () => path.resolve(process.env.SANDBOX_DIR || path.join(ROOT, ".sandbox"));

// Venvs and DB templates are keyed by the lock file's hash, exactly as python.sh does.
function cached(name) {
  const lock = fs.readFileSync(path.join(ROOT, "sandbox", "requirements", `${name}.txt`));
  const key = `${name}-${createHash("sha256").update(lock).digest("hex").slice(0, 12)}`;
  return {
    bin: path.join(CACHE, "venvs", key, "bin"),
    dbTemplate: path.join(CACHE, "airflow-db", `${key}-${TEMPLATE_REV}.sqlite`),
  };
}

function bootstrap() {
  return new Promise((resolve, reject) => {
    const child = spawn("bash", [path.join(ROOT, "scripts", "bootstrap", "python.sh")], {
      stdio: ["ignore", "inherit", "inherit"],
    });
    child.on("error", reject);
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`python bootstrap failed (exit ${code})`))));
  });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer().once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// Settings shared by both Airflows; everything is env so AIRFLOW_HOME needs no airflow.cfg.
function airflowEnv(home) {
  fs.mkdirSync(path.join(home, "dags"), { recursive: true });
  return {
    AIRFLOW_HOME: home,
    AIRFLOW__DATABASE__SQL_ALCHEMY_CONN: `sqlite:///${path.join(home, "airflow.db")}`,
    AIRFLOW__CORE__DAGS_FOLDER: path.join(home, "dags"),
    AIRFLOW__CORE__LOAD_EXAMPLES: "False",
    AIRFLOW__DATABASE__LOAD_DEFAULT_CONNECTIONS: "False",
    // Fixed, so connection secrets stay readable across restarts of the same DB.
    AIRFLOW__CORE__FERNET_KEY: "c2FuZGJveC1mZXJuZXQta2V5LTMyLWJ5dGVzLWxvbmc=",
  };
}

// How to launch each server on `port`, with `home` as its private directory.
const SPECS = {
  moto: {
    health: "/moto-api/",
    launch: (bin, port) => ({
      cmd: path.join(bin, "moto_server"),
      args: ["-H", "127.0.0.1", "-p", `${port}`],
      env: {},
    }),
    endpoint: (url) => ({ url }),
  },
  airflow3: {
    health: "/api/v2/monitor/health",
    launch(bin, port, home) {
      const passwords = path.join(home, "simple_auth_manager_passwords.json");
      fs.writeFileSync(passwords, JSON.stringify({ [USERNAME]: PASSWORD }));
      return {
        cmd: path.join(bin, "airflow"),
        args: ["api-server", "--port", `${port}`, "--host", "127.0.0.1", "--workers", "1"],
        env: {
          ...airflowEnv(home),
          AIRFLOW__CORE__AUTH_MANAGER: "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
          AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS: `${USERNAME}:ADMIN`,
          AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE: passwords,
          // Fixed, so tokens survive restarts; >= 64 bytes, else PyJWT warns about HS512.
          AIRFLOW__API_AUTH__JWT_SECRET: "sandbox-jwt-secret-not-for-production-".padEnd(64, "0"),
          AIRFLOW__API__SECRET_KEY: "sandbox-secret-key",
          // Mirrors the CLI flags: SimpleAuthManager reads [api] host to decide whether to
          // warn that the deployment "looks like production".
          AIRFLOW__API__HOST: "127.0.0.1",
          AIRFLOW__API__PORT: `${port}`,
          AIRFLOW__API__BASE_URL: `http://127.0.0.1:${port}`,
          // One worker: SQLite and one process are enough, and start-up stays fast.
          AIRFLOW__API__WORKERS: "1",
        },
      };
    },
    endpoint: (url) => ({ url, apiVersion: "v2", username: USERNAME, password: PASSWORD }),
  },
  airflow2: {
    health: "/health",
    launch: (bin, port, home) => ({
      cmd: path.join(bin, "airflow"),
      args: ["webserver", "--port", `${port}`, "--hostname", "127.0.0.1", "--workers", "1"],
      env: {
        ...airflowEnv(home),
        AIRFLOW__API__AUTH_BACKENDS: "airflow.api.auth.backend.basic_auth",
        AIRFLOW__WEBSERVER__SECRET_KEY: "sandbox-secret-key",
        AIRFLOW__WEBSERVER__WORKERS: "1",
        // No rolling gunicorn worker restarts: with one worker they cause brief outages.
        AIRFLOW__WEBSERVER__WORKER_REFRESH_BATCH_SIZE: "0",
        // Permissions were synced when the template's admin user was created.
        AIRFLOW__FAB__UPDATE_FAB_PERMS: "False",
        AIRFLOW__WEBSERVER__UPDATE_FAB_PERMS: "False",
      },
    }),
    endpoint: (url) => ({ url, apiVersion: "v1", username: USERNAME, password: PASSWORD }),
  },
  // Two processes: the fake (entry.pid, entry.fakeUrl) and Prism in front of it (entry.prismPid,
  // entry.url, the clients' rootUrl). Started by startGcp.
  gcp: { health: "/_fake/health" },
};

async function answers(url, health, ok = (status) => status === 200) {
  try {
    const res = await fetch(url + health, { signal: AbortSignal.timeout(2000) });
    return ok(res.status);
  } catch {
    return false;
  }
}

const pidsOf = (entry) => [entry?.pid, entry?.prismPid].filter(Boolean);

// Prism answers any path (404 for one outside the document), which is all readiness needs.
async function healthy(name, e) {
  if (!pidsOf(e).every(alive)) return false;
  if (name !== "gcp") return answers(e.url, SPECS[name].health);
  const [fake, prism] = await Promise.all([answers(e.fakeUrl, SPECS.gcp.health), answers(e.url, "/", () => true)]);
  return fake && prism;
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === "EPERM";
  }
}

const tail = (file, n = 30) =>
  fs.existsSync(file) ? fs.readFileSync(file, "utf8").trimEnd().split("\n").slice(-n).join("\n") : "(no log)";

// Our own process group (detached), so stop can signal the server and all its workers.
function launch({ cmd, args, env = {}, cwd, logFile }) {
  const out = fs.openSync(logFile, "w");
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("AIRFLOW")));
  const child = spawn(cmd, args, { cwd, detached: true, stdio: ["ignore", out, out], env: { ...inherited, ...env } });
  fs.closeSync(out);
  child.unref();
  const proc = { pid: child.pid, exited: null, logFile };
  child.on("exit", (code, signal) => (proc.exited = signal ?? `exit ${code}`));
  child.on("error", (e) => (proc.exited = e.message)); // e.g. the venv's binary is missing
  return proc;
}

async function waitUntil(name, ready, procs, entry, t0) {
  while (!(await ready())) {
    const dead = procs.find((p) => p.exited);
    if (dead || performance.now() - t0 > READY_TIMEOUT_MS) {
      const why = dead ? `exited (${dead.exited})` : `not ready after ${READY_TIMEOUT_MS / 1000}s`;
      const logs = procs.map((p) => `last lines of ${p.logFile}:\n${tail(p.logFile)}`).join("\n");
      const err = new Error(`${name} ${why}; ${logs}`);
      err.entry = entry;
      throw err;
    }
    await sleep(250);
  }
}

async function startOne(name, dir) {
  const t0 = performance.now();
  const home = path.join(dir, name);
  fs.rmSync(home, { recursive: true, force: true }); // each start gets a clean state
  fs.mkdirSync(home, { recursive: true });
  if (name === "gcp") return startGcp(dir, home, t0);
  const spec = SPECS[name];
  const { bin, dbTemplate } = cached(name);
  if (name !== "moto") fs.copyFileSync(dbTemplate, path.join(home, "airflow.db"));
  const port = await freePort();
  const proc = launch({ ...spec.launch(bin, port, home), cwd: home, logFile: path.join(dir, `${name}.log`) });
  const url = `http://127.0.0.1:${port}`;
  const entry = { ...spec.endpoint(url), pid: proc.pid };
  await waitUntil(name, () => answers(url, spec.health), [proc], entry, t0);
  log(`${name} up at ${url} (pid ${proc.pid}) in ${secs(t0)}`);
  return entry;
}

// Google's discovery documents come with google-api-python-client in the moto venv.
function discoveryDocuments() {
  const lib = path.join(cached("moto").bin, "..", "lib");
  const docs = fs
    .readdirSync(lib)
    .map((py) => path.join(lib, py, "site-packages", "googleapiclient", "discovery_cache", "documents"))
    .find((dir) => fs.existsSync(dir));
  if (!docs) throw new Error(`no googleapiclient discovery documents under ${lib} (see sandbox/requirements/moto.in)`);
  return docs;
}

async function startGcp(dir, home, t0) {
  const { buildOpenApi, readDiscovery } = await import("../tests/fakes/gcp/openapi.mjs");
  const openapi = path.join(home, "openapi.json");
  fs.writeFileSync(openapi, `${JSON.stringify(buildOpenApi(readDiscovery(discoveryDocuments())), null, 2)}\n`);
  const fakePort = await freePort();
  let prismPort;
  do prismPort = await freePort();
  while (prismPort === fakePort);
  const fakeUrl = `http://127.0.0.1:${fakePort}`;
  const url = `http://127.0.0.1:${prismPort}`;
  // Both start at once: Prism needs no upstream until the first request, and takes the longer.
  const fake = launch({
    cmd: process.execPath,
    args: [path.join(ROOT, "tests", "fakes", "gcp", "server.mjs"), "--port", `${fakePort}`],
    cwd: home,
    logFile: path.join(dir, "gcp.log"),
  });
  const prism = launch({
    cmd: process.execPath,
    args: [PRISM, "proxy", "--errors", "-h", "127.0.0.1", "-p", `${prismPort}`, openapi, fakeUrl],
    cwd: home,
    logFile: path.join(dir, "gcp-prism.log"),
  });
  const entry = { url, fakeUrl, pid: fake.pid, prismPid: prism.pid };
  await waitUntil("gcp", () => healthy("gcp", entry), [fake, prism], entry, t0);
  log(`gcp up at ${url} (fake ${fakeUrl}, pid ${fake.pid}; prism pid ${prism.pid}) in ${secs(t0)}`);
  return entry;
}

const endpointsFile = (dir) => path.join(dir, "endpoints.json");
function readEndpoints(dir) {
  try {
    return JSON.parse(fs.readFileSync(endpointsFile(dir), "utf8"));
  } catch {
    return {};
  }
}
function writeEndpoints(dir, endpoints) {
  const tmp = `${endpointsFile(dir)}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(endpoints, null, 2)}\n`);
  fs.renameSync(tmp, endpointsFile(dir));
}

// SIGTERM each process group, wait for them to go, then SIGKILL what is left.
async function killGroups(pids) {
  pids = pids.filter((pid) => Number.isInteger(pid) && pid > 1); // -0/-1 would hit us or everything
  const signal = (pid, sig) => {
    try {
      process.kill(-pid, sig);
    } catch {} // already gone
  };
  const groupAlive = (pid) => {
    try {
      process.kill(-pid, 0);
      return true;
    } catch (e) {
      return e.code === "EPERM";
    }
  };
  pids.forEach((pid) => signal(pid, "SIGTERM"));
  const deadline = performance.now() + STOP_TIMEOUT_MS;
  while (pids.some(groupAlive) && performance.now() < deadline) await sleep(100);
  pids.filter(groupAlive).forEach((pid) => signal(pid, "SIGKILL"));
}

// One start/stop at a time per dir (CLI and vitest may race): otherwise both start servers
// and the last endpoints.json written orphans the other's. Lock file = holder's pid.
async function withLock(dir, fn) {
  fs.mkdirSync(dir, { recursive: true });
  const lock = path.join(dir, ".lock");
  for (const deadline = performance.now() + READY_TIMEOUT_MS + STOP_TIMEOUT_MS; ; await sleep(200)) {
    try {
      fs.writeFileSync(lock, `${process.pid}`, { flag: "wx" });
      break;
    } catch (e) {
      if (e.code !== "EEXIST") throw e;
      const holder = Number(fs.readFileSync(lock, "utf8"));
      if (!(holder > 0 && alive(holder)))
        fs.rmSync(lock, { force: true }); // holder died
      else if (performance.now() > deadline) throw new Error(`${lock} held by pid ${holder}`);
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(lock, { force: true });
  }
}

/** Starts (or reuses, when recorded and answering) the servers; returns endpoints.json's content. */
export async function startSandbox({ only = SERVERS, dir = defaultDir() } = {}) {
  const unknown = only.filter((n) => !SERVERS.includes(n));
  if (unknown.length) throw new Error(`unknown sandbox server(s): ${unknown.join(", ")}`);
  return withLock(dir, () => start(only, dir));
}

async function start(only, dir) {
  const t0 = performance.now();
  const endpoints = readEndpoints(dir);
  // Keep recorded servers that are alive and answering; forget (and kill) the rest.
  const stale = [];
  await Promise.all(
    Object.entries(endpoints).map(async ([name, e]) => {
      if (SPECS[name] && (await healthy(name, e))) return;
      stale.push(...pidsOf(e));
      delete endpoints[name];
    }),
  );
  await killGroups(stale);
  const missing = only.filter((n) => !endpoints[n]);
  if (!missing.length) {
    log(`reusing running sandbox in ${dir}`);
    return endpoints;
  }
  await bootstrap();
  const results = await Promise.allSettled(missing.map((name) => startOne(name, dir)));
  const failed = results.filter((r) => r.status === "rejected");
  if (failed.length) {
    // Don't leave half a sandbox behind: stop whatever this call started.
    const ours = results.flatMap((r) => pidsOf(r.status === "fulfilled" ? r.value : r.reason.entry));
    await killGroups(ours);
    throw new Error(failed.map((r) => r.reason.message).join("\n\n"));
  }
  missing.forEach((name, i) => (endpoints[name] = results[i].value));
  writeEndpoints(dir, endpoints);
  log(`sandbox ready in ${secs(t0)} (${endpointsFile(dir)})`);
  return endpoints;
}

/** Stops exactly the recorded process groups and removes endpoints.json. */
export async function stopSandbox({ dir = defaultDir() } = {}) {
  if (!fs.existsSync(dir)) return log("stopped nothing (no sandbox dir)");
  return withLock(dir, () => stop(dir));
}

async function stop(dir) {
  const t0 = performance.now();
  const endpoints = readEndpoints(dir);
  await killGroups(Object.values(endpoints).flatMap(pidsOf));
  fs.rmSync(endpointsFile(dir), { force: true });
  log(`stopped ${Object.keys(endpoints).join(", ") || "nothing"} in ${secs(t0)}`);
}

async function status(dir = defaultDir()) {
  const endpoints = readEndpoints(dir);
  let ok = true;
  for (const [name, e] of Object.entries(endpoints)) {
    const up = Boolean(SPECS[name]) && (await healthy(name, e));
    ok &&= up;
    console.log(`${name.padEnd(9)} ${up ? "up  " : "DOWN"} ${e.url} pid ${pidsOf(e).join(", ")}`);
  }
  if (!Object.keys(endpoints).length) console.log("no sandbox recorded");
  return ok && Object.keys(endpoints).length > 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [command, ...names] = process.argv.slice(2);
  try {
    if (command === "up") console.log(JSON.stringify(await startSandbox(names.length ? { only: names } : {}), null, 2));
    else if (command === "down") await stopSandbox();
    else if (command === "status") process.exitCode = (await status()) ? 0 : 1;
    else {
      console.error("usage: node scripts/sandbox.mjs up [moto|airflow3|airflow2|gcp ...] | down | status");
      process.exitCode = 2;
    }
  } catch (e) {
    log(`error: ${e.message}`);
    process.exitCode = 1;
  }
}
