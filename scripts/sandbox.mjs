#!/usr/bin/env node
// Local sandbox of real servers for tests and the demo: moto (AWS mock), Airflow 3 API
// server, Airflow 2 webserver, each from its pinned venv (scripts/bootstrap/python.sh); gcp:
// a fake of Google Cloud IAM (sandbox/fakes/gcp) behind Stoplight Prism, which holds every request
// and response to the OpenAPI generated from Google's discovery documents; and azure: a fake of
// the Azure Resource Manager operations we call (sandbox/fakes/azure), served over https through
// Prism, which holds every request and response to sandbox/fakes/azure/openapi.json. astro: a fake
// of the Astro Platform API operations we call (sandbox/fakes/astro) behind Prism, which holds every
// request and response to sandbox/fakes/astro/openapi.yaml (logs astro.log and astro-prism.log).
//
//   node scripts/sandbox.mjs up [moto|airflow3|airflow2|gcp|azure|astro ...]   # prints endpoints.json
//   node scripts/sandbox.mjs status | down
//   import { startSandbox, stopSandbox } from './scripts/sandbox.mjs'   // vitest globalSetup
//
// State lives in <dir> (default <repo>/.sandbox, env SANDBOX_DIR): endpoints.json, one log
// per process (gcp.log and gcp-prism.log for gcp, azure.log and azure-prism.log for azure), one
// home directory per server, and tls/: the throwaway CA and server certificate of azure's https
// front, made with openssl and reused while valid. Only Node built-ins, so it runs before
// `npm install`; gcp, azure and astro alone need Prism from node_modules.
import { execFile, spawn } from "node:child_process";
import { X509Certificate, createHash, randomUUID } from "node:crypto";
import fs from "node:fs";
import https from "node:https";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

/**
 * @typedef {{ url: string }} MotoEndpoint
 * @typedef {{ url: string, apiVersion: "v1" | "v2", username: string, password: string }} AirflowEndpoint
 * @typedef {{ url: string, fakeUrl: string }} GcpEndpoint url: Prism, validating against Google's
 *   discovery documents (the clients' rootUrl); fakeUrl: the fake, for /_fake/.
 * @typedef {{ url: string, fakeUrl: string, caFile: string, tenantId: string }} AzureEndpoint url: the
 *   https front (the SDKs' endpoint), through Prism, validating against sandbox/fakes/azure/openapi.json;
 *   fakeUrl: the fake over http, for /_fake/; caFile: the CA that signed the front's certificate;
 *   tenantId: the fake's one tenant.
 * @typedef {{ url: string, fakeUrl: string, token: string }} AstroEndpoint url: the Astro Platform
 *   API base through Prism (http://127.0.0.1:<port>/v1), validating against
 *   sandbox/fakes/astro/openapi.yaml; fakeUrl: the fake, for /_fake/; token: a bearer token it takes.
 * @typedef {{
 *   moto: MotoEndpoint,
 *   airflow3: AirflowEndpoint,
 *   airflow2: AirflowEndpoint,
 *   gcp: GcpEndpoint,
 *   azure: AzureEndpoint,
 *   astro: AstroEndpoint,
 * }} Endpoints what endpoints.json records for each server
 * @typedef {keyof Endpoints} ServerName
 * @typedef {{ pid?: number, prismPid?: number }} Processes the process groups behind a server
 * @typedef {{ [N in ServerName]?: Endpoints[N] & Processes }} Recorded endpoints.json as read
 * @typedef {{ pid: number | undefined, exited: string | null, logFile: string }} Launched
 */

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const CACHE = path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache"), "deployment-authorization");
/** @type {ServerName[]} */
export const SERVERS = ["moto", "airflow3", "airflow2", "gcp", "azure", "astro"];
const USERNAME = "admin";
const TEMPLATE_REV = "t2"; // as in python.sh
const PRISM = path.join(ROOT, "node_modules", "@stoplight", "prism-cli", "dist", "index.js");
const AZURE_OPENAPI = path.join(ROOT, "sandbox", "fakes", "azure", "openapi.json");
const ASTRO_OPENAPI = path.join(ROOT, "sandbox", "fakes", "astro", "openapi.yaml");
const ASTRO_TOKEN = "sandbox-astro-token"; // the fake takes any bearer token; this one is the tests'
const PASSWORD = "sandbox-pw-4p9xk2"; // Airflow 2's is baked into the template DB by the bootstrap
const READY_TIMEOUT_MS = 120_000;
const STOP_TIMEOUT_MS = 10_000;

const log = (/** @type {string} */ msg) => process.stderr.write(`[sandbox] ${msg}\n`);
const secs = (/** @type {number} */ t0) => `${((performance.now() - t0) / 1000).toFixed(1)}s`;
const sleep = (/** @type {number} */ ms) => new Promise((r) => setTimeout(r, ms));
const defaultDir = () => path.resolve(process.env.SANDBOX_DIR || path.join(ROOT, ".sandbox"));

// Venvs and DB templates are keyed by the lock file's hash, exactly as python.sh does.
/** @param {ServerName} name */
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
    child.on("exit", (code) =>
      code === 0 ? resolve(undefined) : reject(new Error(`python bootstrap failed (exit ${code})`)),
    );
  });
}

// Ports handed out by this process: a port is free again once we close it, so another server of the
// sandbox, started in parallel, could be given the same one before the first has bound it.
/** @type {Set<number>} */
const handedOut = new Set();

async function freePort() {
  for (;;) {
    /** @type {number} */
    const port = await new Promise((resolve, reject) => {
      const srv = net.createServer().once("error", reject);
      srv.listen(0, "127.0.0.1", () => {
        const { port } = /** @type {net.AddressInfo} */ (srv.address());
        srv.close(() => resolve(port));
      });
    });
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

// Settings shared by both Airflows; everything is env so AIRFLOW_HOME needs no airflow.cfg.
/** @param {string} home */
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

/**
 * @typedef {{ cmd: string, args: string[], env?: Record<string, string>, cwd?: string, logFile: string }} Launch
 * @typedef {(bin: string, port: number, home: string) => Omit<Launch, "logFile">} Launcher
 * @typedef {{
 *   moto: { health: string, launch: Launcher, endpoint: (url: string) => MotoEndpoint },
 *   airflow3: { health: string, launch: Launcher, endpoint: (url: string) => AirflowEndpoint },
 *   airflow2: { health: string, launch: Launcher, endpoint: (url: string) => AirflowEndpoint },
 *   gcp: { health: string },
 *   azure: { health: string },
 *   astro: { health: string },
 * }} Specs
 */

// How to launch each server on `port`, with `home` as its private directory.
/** @type {Specs} */
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
  // Two processes: the fake (entry.pid: its http API and admin at entry.fakeUrl, and the https
  // front at entry.url, the SDKs' endpoint) and Prism between the two (entry.prismPid). The front
  // trusts entry.caFile. Started by startAzure.
  azure: { health: "/_fake/health" },
  // Two processes: the fake (entry.pid, entry.fakeUrl) and Prism in front of it (entry.prismPid);
  // entry.url is the API base through Prism (…/v1, like https://api.astronomer.io/v1). Started
  // by startAstro.
  astro: { health: "/_fake/health" },
};

/**
 * @param {string} url
 * @param {string} health
 * @param {(status: number) => boolean} [ok]
 */
async function answers(url, health, ok = (status) => status === 200) {
  try {
    const res = await fetch(url + health, { signal: AbortSignal.timeout(2000) });
    return ok(res.status);
  } catch {
    return false;
  }
}

/** @type {(entry: Processes | undefined) => number[]} */
const pidsOf = (entry) => [entry?.pid, entry?.prismPid].flatMap((pid) => (pid ? [pid] : []));

// Over https, trusting only `caFile`; any answer counts but the front's 502 (Prism not up yet).
/**
 * @param {string} url
 * @param {string} caFile
 * @returns {Promise<boolean>}
 */
function answersTls(url, caFile) {
  return new Promise((resolve) => {
    let ca;
    try {
      ca = fs.readFileSync(caFile);
    } catch {
      return resolve(false);
    }
    const req = https.get(url, { ca, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode !== 502);
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", () => resolve(false));
  });
}

// Prism answers any path (404 for one outside the document), which is all readiness needs.
/**
 * @param {string} name
 * @param {Processes & { url: string, fakeUrl?: string, caFile?: string }} e
 */
async function healthy(name, e) {
  if (!pidsOf(e).every(alive)) return false;
  if (name === "azure") {
    const [fake, front] = await Promise.all([
      answers(e.fakeUrl ?? "", SPECS.azure.health),
      answersTls(`${e.url}/`, e.caFile ?? ""),
    ]);
    return fake && front;
  }
  if (!isServer(name)) return false;
  if (name !== "gcp" && name !== "astro") return answers(e.url, SPECS[name].health);
  const [fake, prism] = await Promise.all([
    answers(e.fakeUrl ?? "", SPECS[name].health),
    answers(e.url, "/", () => true),
  ]);
  return fake && prism;
}

/** @type {(name: string) => name is ServerName} */
const isServer = (name) => SERVERS.some((server) => server === name);

/** @param {unknown} e */
const errorCode = (e) => (e instanceof Error && "code" in e ? e.code : undefined);

/** @param {number} pid */
function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errorCode(e) === "EPERM";
  }
}

const tail = (/** @type {string} */ file, n = 30) =>
  fs.existsSync(file) ? fs.readFileSync(file, "utf8").trimEnd().split("\n").slice(-n).join("\n") : "(no log)";

// Our own process group (detached), so stop can signal the server and all its workers.
/**
 * @param {Launch} launch
 * @returns {Launched}
 */
function launch({ cmd, args, env = {}, cwd, logFile }) {
  const out = fs.openSync(logFile, "w");
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("AIRFLOW")));
  const child = spawn(cmd, args, { cwd, detached: true, stdio: ["ignore", out, out], env: { ...inherited, ...env } });
  fs.closeSync(out);
  child.unref();
  /** @type {Launched} */
  const proc = { pid: child.pid, exited: null, logFile };
  child.on("exit", (code, signal) => (proc.exited = signal ?? `exit ${code}`));
  child.on("error", (e) => (proc.exited = e.message)); // e.g. the venv's binary is missing
  return proc;
}

/**
 * An error that carries the entry of what a failed start launched, so it can be stopped.
 * @param {string} message
 * @param {Processes} entry
 */
function startError(message, entry) {
  return Object.assign(new Error(message), { entry });
}

/**
 * @param {string} name
 * @param {() => Promise<boolean>} ready
 * @param {Launched[]} procs
 * @param {Processes} entry
 * @param {number} t0
 */
async function waitUntil(name, ready, procs, entry, t0) {
  while (!(await ready())) {
    const dead = procs.find((p) => p.exited);
    if (dead || performance.now() - t0 > READY_TIMEOUT_MS) {
      const why = dead ? `exited (${dead.exited})` : `not ready after ${READY_TIMEOUT_MS / 1000}s`;
      const logs = procs.map((p) => `last lines of ${p.logFile}:\n${tail(p.logFile)}`).join("\n");
      throw startError(`${name} ${why}; ${logs}`, entry);
    }
    await sleep(250);
  }
}

/**
 * @param {ServerName} name
 * @param {string} dir
 * @returns {Promise<Endpoints[ServerName] & Processes>}
 */
async function startOne(name, dir) {
  const t0 = performance.now();
  const home = path.join(dir, name);
  fs.rmSync(home, { recursive: true, force: true }); // each start gets a clean state
  fs.mkdirSync(home, { recursive: true });
  if (name === "gcp") return startGcp(dir, home, t0);
  if (name === "azure") return startAzure(dir, home, t0);
  if (name === "astro") return startAstro(dir, home, t0);
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

/**
 * @param {string} dir
 * @param {string} home
 * @param {number} t0
 * @returns {Promise<GcpEndpoint & Processes>}
 */
async function startGcp(dir, home, t0) {
  const { buildOpenApi, readDiscovery } = await import("../sandbox/fakes/gcp/openapi.mjs");
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
    args: [path.join(ROOT, "sandbox", "fakes", "gcp", "server.mjs"), "--port", `${fakePort}`],
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

// The project's own document goes to Prism as it is. Its paths carry the API's base path /v1, so
// clients get a base URL with a path, as in production.
/**
 * @param {string} dir
 * @param {string} home
 * @param {number} t0
 * @returns {Promise<AstroEndpoint & Processes>}
 */
async function startAstro(dir, home, t0) {
  const ports = new Set();
  while (ports.size < 2) ports.add(await freePort());
  const [fakePort, prismPort] = [...ports];
  const fakeUrl = `http://127.0.0.1:${fakePort}`;
  const prismUrl = `http://127.0.0.1:${prismPort}`;
  // Both start at once: Prism needs no upstream until the first request, and takes the longer.
  const fake = launch({
    cmd: process.execPath,
    args: [path.join(ROOT, "sandbox", "fakes", "astro", "server.mjs"), "--port", `${fakePort}`],
    cwd: home,
    logFile: path.join(dir, "astro.log"),
  });
  const prism = launch({
    cmd: process.execPath,
    args: [PRISM, "proxy", "--errors", "-h", "127.0.0.1", "-p", `${prismPort}`, ASTRO_OPENAPI, fakeUrl],
    cwd: home,
    logFile: path.join(dir, "astro-prism.log"),
  });
  const entry = { url: `${prismUrl}/v1`, fakeUrl, token: ASTRO_TOKEN, pid: fake.pid, prismPid: prism.pid };
  await waitUntil("astro", () => healthy("astro", entry), [fake, prism], entry, t0);
  log(`astro up at ${entry.url} (fake ${fakeUrl}, pid ${fake.pid}; prism pid ${prism.pid}) in ${secs(t0)}`);
  return entry;
}

/** @type {(cmd: string, args: string[], cwd: string) => Promise<void>} */
const run = (cmd, args, cwd) =>
  new Promise((resolve, reject) =>
    execFile(cmd, args, { cwd }, (err, _stdout, stderr) =>
      err ? reject(new Error(`${cmd} ${args.join(" ")}: ${stderr || err.message}`)) : resolve(),
    ),
  );

// A throwaway CA and a certificate for 127.0.0.1 and localhost signed by it, in <dir>/tls; kept
// while both are valid for another day, so clients that trust ca.pem keep trusting restarts.
/** @param {string} dir */
async function sandboxTls(dir) {
  const tls = path.join(dir, "tls");
  const files = {
    caFile: path.join(tls, "ca.pem"),
    cert: path.join(tls, "server.pem"),
    key: path.join(tls, "server.key"),
  };
  /** @type {(file: string, ms: number) => boolean} */
  const validFor = (file, ms) => {
    try {
      return new Date(new X509Certificate(fs.readFileSync(file)).validTo).getTime() > Date.now() + ms;
    } catch {
      return false;
    }
  };
  if (fs.existsSync(files.key) && validFor(files.caFile, 86_400_000) && validFor(files.cert, 86_400_000)) return files;
  fs.rmSync(tls, { recursive: true, force: true });
  fs.mkdirSync(tls, { recursive: true });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await run(
    "openssl",
    [
      ...["req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "30"],
      ...["-subj", "/CN=deployment-authorization sandbox CA"],
      ...["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
    ],
    tls,
  );
  await run(
    "openssl",
    ["req", "-new", ...ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"],
    tls,
  );
  fs.writeFileSync(
    path.join(tls, "server.ext"),
    "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n",
  );
  await run(
    "openssl",
    [
      ...["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial"],
      ...["-out", "server.pem", "-days", "29", "-extfile", "server.ext"],
    ],
    tls,
  );
  // Nothing is ever signed with the CA key again.
  for (const f of ["ca.key", "ca.srl", "server.csr", "server.ext"]) fs.rmSync(path.join(tls, f), { force: true });
  return files;
}

// The https front and the fake are one process; Prism sits between them. Prism starts first (it
// takes the longest) and needs no certificate; the fake starts once the certificate exists.
/**
 * @param {string} dir
 * @param {string} home
 * @param {number} t0
 * @returns {Promise<AzureEndpoint & Processes>}
 */
async function startAzure(dir, home, t0) {
  const ports = new Set();
  while (ports.size < 3) ports.add(await freePort());
  const [fakePort, frontPort, prismPort] = [...ports];
  const fakeUrl = `http://127.0.0.1:${fakePort}`;
  const prismUrl = `http://127.0.0.1:${prismPort}`;
  const url = `https://127.0.0.1:${frontPort}`;
  const tenantId = randomUUID();
  const prism = launch({
    cmd: process.execPath,
    args: [PRISM, "proxy", "--errors", "-h", "127.0.0.1", "-p", `${prismPort}`, AZURE_OPENAPI, fakeUrl],
    cwd: home,
    logFile: path.join(dir, "azure-prism.log"),
  });
  /** @type {AzureEndpoint & Processes} */
  const entry = { url, fakeUrl, caFile: "", tenantId, pid: undefined, prismPid: prism.pid };
  let tls;
  try {
    tls = await sandboxTls(dir);
  } catch (e) {
    throw startError(e instanceof Error ? e.message : String(e), entry);
  }
  const fake = launch({
    cmd: process.execPath,
    args: [
      path.join(ROOT, "sandbox", "fakes", "azure", "server.mjs"),
      ...["--port", `${fakePort}`, "--front-port", `${frontPort}`, "--upstream", prismUrl],
      ...["--cert", tls.cert, "--key", tls.key, "--tenant-id", tenantId],
    ],
    cwd: home,
    logFile: path.join(dir, "azure.log"),
  });
  Object.assign(entry, { caFile: tls.caFile, pid: fake.pid });
  await waitUntil("azure", () => healthy("azure", entry), [fake, prism], entry, t0);
  log(`azure up at ${url} (fake ${fakeUrl}, pid ${fake.pid}; prism ${prismUrl}, pid ${prism.pid}) in ${secs(t0)}`);
  return entry;
}

const endpointsFile = (/** @type {string} */ dir) => path.join(dir, "endpoints.json");
/**
 * @param {string} dir
 * @returns {Recorded}
 */
function readEndpoints(dir) {
  try {
    return JSON.parse(fs.readFileSync(endpointsFile(dir), "utf8"));
  } catch {
    return {};
  }
}
/**
 * @param {string} dir
 * @param {Recorded} endpoints
 */
function writeEndpoints(dir, endpoints) {
  const tmp = `${endpointsFile(dir)}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(endpoints, null, 2)}\n`);
  fs.renameSync(tmp, endpointsFile(dir));
}

// SIGTERM each process group, wait for them to go, then SIGKILL what is left.
/** @param {number[]} pids */
async function killGroups(pids) {
  pids = pids.filter((pid) => Number.isInteger(pid) && pid > 1); // -0/-1 would hit us or everything
  /** @type {(pid: number, sig: NodeJS.Signals | 0) => void} */
  const signal = (pid, sig) => {
    try {
      process.kill(-pid, sig);
    } catch {} // already gone
  };
  const groupAlive = (/** @type {number} */ pid) => {
    try {
      process.kill(-pid, 0);
      return true;
    } catch (e) {
      return errorCode(e) === "EPERM";
    }
  };
  pids.forEach((pid) => signal(pid, "SIGTERM"));
  const deadline = performance.now() + STOP_TIMEOUT_MS;
  while (pids.some(groupAlive) && performance.now() < deadline) await sleep(100);
  pids.filter(groupAlive).forEach((pid) => signal(pid, "SIGKILL"));
}

// One start/stop at a time per dir (CLI and vitest may race): otherwise both start servers
// and the last endpoints.json written orphans the other's. Lock file = holder's pid.
/**
 * @template T
 * @param {string} dir
 * @param {() => Promise<T>} fn
 * @returns {Promise<T>}
 */
async function withLock(dir, fn) {
  fs.mkdirSync(dir, { recursive: true });
  const lock = path.join(dir, ".lock");
  for (const deadline = performance.now() + READY_TIMEOUT_MS + STOP_TIMEOUT_MS; ; await sleep(200)) {
    try {
      fs.writeFileSync(lock, `${process.pid}`, { flag: "wx" });
      break;
    } catch (e) {
      if (errorCode(e) !== "EEXIST") throw e;
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

/**
 * Starts (or reuses, when recorded and answering) every server; returns endpoints.json's content.
 * @overload
 * @param {{ dir?: string }} [options]
 * @returns {Promise<Endpoints & Recorded>}
 */
/**
 * Starts (or reuses, when recorded and answering) the servers named; returns endpoints.json's
 * content, which holds at least those.
 * @template {ServerName} N
 * @overload
 * @param {{ only: readonly N[], dir?: string }} options
 * @returns {Promise<Pick<Endpoints, N> & Recorded>}
 */
/**
 * Starts (or reuses) the servers named on the command line, checked here.
 * @overload
 * @param {{ only?: readonly string[], dir?: string }} options
 * @returns {Promise<Recorded>}
 */
/**
 * @param {{ only?: readonly string[], dir?: string }} [options]
 * @returns {Promise<Recorded>}
 */
export async function startSandbox({ only = SERVERS, dir = defaultDir() } = {}) {
  const unknown = only.filter((n) => !isServer(n));
  if (unknown.length) throw new Error(`unknown sandbox server(s): ${unknown.join(", ")}`);
  return withLock(dir, () => start(only.filter(isServer), dir));
}

/**
 * @param {readonly ServerName[]} only
 * @param {string} dir
 */
async function start(only, dir) {
  const t0 = performance.now();
  const endpoints = readEndpoints(dir);
  // Keep recorded servers that are alive and answering; forget (and kill) the rest.
  /** @type {number[]} */
  const stale = [];
  await Promise.all(
    Object.entries(endpoints).map(async ([name, e]) => {
      if (isServer(name) && (await healthy(name, e))) return;
      stale.push(...pidsOf(e));
      delete endpoints[/** @type {ServerName} */ (name)];
    }),
  );
  await killGroups(stale);
  const missing = only.filter((n) => !endpoints[n]);
  if (!missing.length) {
    log(`reusing running sandbox in ${dir}`);
    return endpoints;
  }
  // Only the Python servers need their venvs (gcp reads Google's discovery documents from moto's).
  if (missing.some((n) => n !== "azure" && n !== "astro")) await bootstrap();
  const results = await Promise.allSettled(missing.map((name) => startOne(name, dir)));
  const failed = results.filter((r) => r.status === "rejected");
  if (failed.length) {
    // Don't leave half a sandbox behind: stop whatever this call started.
    const ours = results.flatMap((r) => pidsOf(r.status === "fulfilled" ? r.value : r.reason?.entry));
    await killGroups(ours);
    throw new Error(
      failed.map((r) => (r.status === "rejected" ? String(r.reason?.message ?? r.reason) : "")).join("\n\n"),
    );
  }
  missing.forEach((name, i) => {
    const result = results[i];
    if (result?.status === "fulfilled") Object.assign(endpoints, { [name]: result.value });
  });
  writeEndpoints(dir, endpoints);
  log(`sandbox ready in ${secs(t0)} (${endpointsFile(dir)})`);
  return endpoints;
}

/**
 * Stops exactly the recorded process groups and removes endpoints.json.
 * @param {{ dir?: string }} [options]
 */
export async function stopSandbox({ dir = defaultDir() } = {}) {
  if (!fs.existsSync(dir)) return log("stopped nothing (no sandbox dir)");
  return withLock(dir, () => stop(dir));
}

/** @param {string} dir */
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
    const up = isServer(name) && (await healthy(name, e));
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
      console.error("usage: node scripts/sandbox.mjs up [moto|airflow3|airflow2|gcp|azure|astro ...] | down | status");
      process.exitCode = 2;
    }
  } catch (e) {
    log(`error: ${e instanceof Error ? e.message : String(e)}`);
    process.exitCode = 1;
  }
}
