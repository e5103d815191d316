// The demo: a real `pulumi up` of the root Pulumi.yaml program against the local sandbox (moto for
// AWS IAM, Apache Airflow 3), then drift made by hand, seen by `preview --refresh`, repaired by
// `up`, and everything destroyed. Run with `npm run demo`.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync } from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { startSandbox, stopSandbox } from "./sandbox.mjs";
import { motoEnv, pulumiEnv, repoRoot } from "./toolchain.mjs";

const require = createRequire(import.meta.url);
const {
  IAMClient,
  CreateRoleCommand,
  GetRoleCommand,
  UpdateAssumeRolePolicyCommand,
  DeleteRoleCommand,
} = require("@aws-sdk/client-iam");

const STACK = "demo";
const ROLE = "data-lake-reader";
const CONNECTION_ID = "aws_data_lake";
const IDENTITY = "arn:aws:iam::111122223333:role/astro-celestial-galaxy-1234";
const FOREIGN_TRUST = {
  Version: "2012-10-17",
  Statement: [
    { Sid: "Ec2Instances", Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" },
  ],
};

const step = (/** @type {string} */ text) => console.log(`\n\x1b[1m== ${text}\x1b[0m`);

const started = Date.now();
const sandboxDir = process.env.SANDBOX_DIR ?? path.join(repoRoot, ".sandbox");
step("toolchain and sandbox");
const toolchain = pulumiEnv();
const sandboxWasRunning = existsSync(path.join(sandboxDir, "endpoints.json"));
const endpoints = await startSandbox({ dir: sandboxDir, only: ["moto", "airflow3"] });
const airflow = endpoints.airflow3;
const stateDir = path.join(repoRoot, ".pulumi-state", "demo");
rmSync(stateDir, { recursive: true, force: true });
mkdirSync(stateDir, { recursive: true });
const env = {
  ...toolchain,
  ...motoEnv(endpoints.moto.url),
  PULUMI_BACKEND_URL: `file://${stateDir}`,
  PULUMI_CONFIG_PASSPHRASE: "demo-passphrase",
};
const pulumi = (/** @type {string[]} */ ...args) =>
  execFileSync("pulumi", [...args, "--stack", STACK, "--non-interactive"], { cwd: repoRoot, env, stdio: "inherit" });
const iam = new IAMClient({
  endpoint: endpoints.moto.url,
  region: "us-east-1",
  credentials: { accessKeyId: "testing", secretAccessKey: "testing" },
});

try {
  step(`an IAM role that belongs to someone else: ${ROLE}, trusting EC2 only`);
  await iam.send(new DeleteRoleCommand({ RoleName: ROLE })).catch(() => {});
  const role = await iam.send(
    new CreateRoleCommand({ RoleName: ROLE, AssumeRolePolicyDocument: JSON.stringify(FOREIGN_TRUST) }),
  );
  const roleArn = role.Role?.Arn ?? "";
  console.log(roleArn);

  step("pulumi up");
  execFileSync("pulumi", ["stack", "init", STACK, "--non-interactive"], { cwd: repoRoot, env, stdio: "inherit" });
  for (const [key, value] of Object.entries({
    "aws:region": "us-east-1",
    "demo:workloadIdentity": IDENTITY,
    "demo:targetRole": roleArn,
    "demo:airflowUrl": airflow.url,
    "demo:airflowUsername": airflow.username,
    "demo:connectionId": CONNECTION_ID,
  })) {
    pulumi("config", "set", key, value);
  }
  execFileSync("pulumi", ["config", "set", "--secret", "deployment-authorization:airflowPassword", "--stack", STACK], {
    cwd: repoRoot,
    env,
    input: airflow.password,
    stdio: ["pipe", "inherit", "inherit"],
  });
  pulumi("up", "--yes", "--skip-preview");
  await show();

  step("drift by hand: the trust statement removed, the connection's region edited");
  await iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: ROLE, PolicyDocument: JSON.stringify(FOREIGN_TRUST) }));
  await airflowApi("PATCH", `/connections/${CONNECTION_ID}?update_mask=extra`, {
    connection_id: CONNECTION_ID,
    conn_type: "aws",
    extra: JSON.stringify({ role_arn: roleArn, region_name: "eu-west-1" }),
  });
  await show();

  step("pulumi preview --refresh --diff: both drifts show");
  pulumi("preview", "--refresh", "--diff");

  step("pulumi up --refresh: repaired");
  pulumi("up", "--refresh", "--yes", "--skip-preview");
  await show();

  step("pulumi destroy: the role keeps exactly its own statement, the connection is gone");
  pulumi("destroy", "--yes", "--skip-preview");
  await show();
} finally {
  step("clean up");
  try {
    execFileSync("pulumi", ["stack", "rm", STACK, "--yes", "--force", "--non-interactive"], {
      cwd: repoRoot,
      env,
      stdio: "inherit",
    });
  } catch {
    // nothing to remove
  }
  rmSync(stateDir, { recursive: true, force: true });
  await iam.send(new DeleteRoleCommand({ RoleName: ROLE })).catch(() => {});
  if (!sandboxWasRunning) await stopSandbox({ dir: sandboxDir });
  console.log(`\ndemo finished in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

async function show() {
  const role = await iam.send(new GetRoleCommand({ RoleName: ROLE }));
  console.log("trust policy:", decodeURIComponent(role.Role?.AssumeRolePolicyDocument ?? ""));
  const response = await airflowApi("GET", `/connections/${CONNECTION_ID}`);
  if (response.status === 404) console.log(`connection ${CONNECTION_ID}: none`);
  else {
    const c = /** @type {{ conn_type: string, extra: string | null }} */ (await response.json());
    console.log(`connection ${CONNECTION_ID}: conn_type=${c.conn_type} extra=${c.extra}`);
  }
}

/**
 * A call to the sandbox's Airflow 3 REST API, with a token for its user.
 * @param {string} method
 * @param {string} apiPath
 * @param {unknown} [body]
 */
async function airflowApi(method, apiPath, body) {
  const token = await fetch(`${airflow.url}/auth/token`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username: airflow.username, password: airflow.password }),
  }).then(async (r) => /** @type {{ access_token: string }} */ (await r.json()));
  return fetch(`${airflow.url}/api/v2${apiPath}`, {
    method,
    headers: { authorization: `Bearer ${token.access_token}`, "content-type": "application/json" },
    body: body ? JSON.stringify(body) : undefined,
  });
}
