#!/usr/bin/env node
// Soak: two stacks create and destroy authorizations on ONE IAM role, cycle after cycle, while a
// naive writer edits the same trust policy with no verification at all (GetRole, edit its own
// statements, UpdateAssumeRolePolicy, in a loop; one read in ten is held 400–800 ms, longer than
// the provider's read-back delay, as a slow script would). At the end each stack runs one refresh
// and one up, the protocol's answer to an overwrite it could not see, and then the policy is
// counted against the stacks' state.
//
//   npm run soak -- --minutes 3
//
// Runs its own sandbox (moto and Airflow 3) in .pulumi-state/soak-sandbox (SOAK_SANDBOX_DIR), never
// the shared one, and stops it by its PIDs at the end. Prints a table and writes
// bench/results/soak.json. Exits non-zero when an entry is lost, a principal is in the policy twice
// or the naive writer's final statements are not all there as it wrote them.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { parseArgs } from "node:util";
import { startSandbox, stopSandbox } from "./sandbox.mjs";
import { motoEnv, pulumiEnv, repoRoot } from "./toolchain.mjs";

// The SDK's notice about Node.js lines would only crowd the soak's output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
const require = createRequire(import.meta.url);
const { CreateRoleCommand, GetRoleCommand, IAMClient, UpdateAssumeRolePolicyCommand } = require("@aws-sdk/client-iam");

const { values: options } = parseArgs({ options: { minutes: { type: "string", default: "3" } } });
const minutes = Number(options.minutes);
if (!(minutes > 0)) throw new Error(`--minutes must be a positive number, not ${options.minutes}`);

const STACKS = ["soak-a", "soak-b"];
const CANDIDATES = 10; // authorizations each stack may declare; each up declares a random 3 to 8 of them
const NAIVE_SIDS = ["NaiveWriter0", "NaiveWriter1", "NaiveWriter2"];
const FOREIGN = {
  Sid: "Ec2Instances",
  Effect: "Allow",
  Principal: { Service: "ec2.amazonaws.com" },
  Action: "sts:AssumeRole",
};
const PROGRAM = path.join(repoRoot, "tests/e2e/programs/interrupted.js");

/**
 * @typedef {{ Sid?: string, Effect: string, Principal?: { AWS?: string | string[], Service?: string }, Action: string | string[] }} Statement
 * @typedef {{ Version: string, Statement: Statement[] }} TrustPolicy
 * @typedef {{ code: number, stdout: string, stderr: string }} RunResult
 * @typedef {{
 *   name: string, pulumi: (args: string[]) => Promise<RunResult>, declared: Set<number>,
 *   ups: number, failedUps: number, cycles: number, entriesWritten: number, errors: string[],
 * }} SoakStack
 */

const sleep = (/** @type {number} */ ms) => new Promise((resolve) => setTimeout(resolve, ms));
/** @type {(low: number, high: number) => number} */
const randomInt = (low, high) => low + Math.floor(Math.random() * (high - low + 1));
const log = (/** @type {string} */ message) =>
  process.stderr.write(`[soak ${new Date().toISOString().slice(11, 19)}] ${message}\n`);

function randomSubset() {
  const all = Array.from({ length: CANDIDATES }, (_, i) => i).sort(() => Math.random() - 0.5);
  return all.slice(0, randomInt(3, 8)).sort((a, b) => a - b);
}

// As tests/e2e/programs/interrupted.js names them.
/** @type {(stack: string, index: number) => string} */
const principalOf = (stack, index) => `arn:aws:iam::111122223333:role/astro-${stack}-${index}`;
/** @type {(sid: string) => Statement} */
const naiveStatement = (sid) => ({
  Sid: sid,
  Effect: "Allow",
  Principal: { AWS: `arn:aws:iam::444455556666:role/${sid.toLowerCase()}` },
  Action: "sts:AssumeRole",
});

const sandboxDir = process.env.SOAK_SANDBOX_DIR ?? path.join(repoRoot, ".pulumi-state", "soak-sandbox");
const workRoot = path.join(repoRoot, ".pulumi-state");
mkdirSync(workRoot, { recursive: true });
const root = mkdtempSync(path.join(workRoot, "soak-"));
let endpoints;

try {
  const toolchain = pulumiEnv();
  endpoints = await startSandbox({ dir: sandboxDir, only: ["moto", "airflow3"] });
  const airflow = endpoints.airflow3;
  const iam = new IAMClient({
    endpoint: endpoints.moto.url,
    region: "us-east-1",
    credentials: { accessKeyId: "testing", secretAccessKey: "testing" },
    maxAttempts: 3,
  });
  const roleName = `soak-shared-${randomBytes(4).toString("hex")}`;
  const role = await iam.send(
    new CreateRoleCommand({
      RoleName: roleName,
      AssumeRolePolicyDocument: JSON.stringify({ Version: "2012-10-17", Statement: [FOREIGN] }),
    }),
  );
  const roleArn = role.Role?.Arn;
  if (!roleArn) throw new Error(`CreateRole ${roleName} answered without the role's ARN`);
  /** @returns {Promise<TrustPolicy>} */
  const readPolicy = async () => {
    const got = await iam.send(new GetRoleCommand({ RoleName: roleName }));
    return JSON.parse(decodeURIComponent(got.Role?.AssumeRolePolicyDocument ?? ""));
  };

  const backend = path.join(root, "backend");
  mkdirSync(backend);
  const env = {
    ...toolchain,
    ...motoEnv(endpoints.moto.url),
    PULUMI_BACKEND_URL: `file://${backend}`,
    PULUMI_CONFIG_PASSPHRASE: "soak-passphrase",
    PULUMI_HOME: path.join(root, ".pulumi-home"),
  };
  /** @type {SoakStack[]} */
  const stacks = STACKS.map((name) => {
    const dir = path.join(root, name);
    mkdirSync(dir);
    writeFileSync(
      path.join(dir, "Pulumi.yaml"),
      "name: deployment-authorization-soak\nruntime:\n  name: nodejs\n  options:\n    typescript: false\nmain: index.js\n",
    );
    writeFileSync(path.join(dir, "index.js"), `module.exports = require(${JSON.stringify(PROGRAM)});\n`);
    /** @type {(args: string[]) => Promise<RunResult>} */
    const pulumi = (args) =>
      new Promise((resolve) =>
        execFile(
          "pulumi",
          [...args, "--stack", name, "--non-interactive"],
          { cwd: dir, env, maxBuffer: 64 * 1024 * 1024 },
          (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
        ),
      );
    return { name, pulumi, declared: new Set(), ups: 0, failedUps: 0, cycles: 0, entriesWritten: 0, errors: [] };
  });

  /** @type {(stack: SoakStack, args: string[]) => Promise<RunResult>} */
  const ok = async (stack, args) => {
    const result = await stack.pulumi(args);
    if (result.code !== 0)
      throw new Error(`pulumi ${args.join(" ")} (${stack.name}): ${result.stdout}\n${result.stderr}`);
    return result;
  };
  for (const stack of stacks) {
    await ok(stack, ["stack", "init"]);
    const config = {
      "aws:region": "us-east-1",
      "deployment-authorization:awsTrustPolicySizeQuota": "4096",
      "interrupted:prefix": stack.name,
      "interrupted:indices": "[]",
      "interrupted:roles": JSON.stringify([roleArn]),
      "interrupted:airflows": JSON.stringify([airflow.url]),
      "interrupted:airflowUsername": airflow.username,
    };
    for (const [key, value] of Object.entries(config)) await ok(stack, ["config", "set", key, value]);
    await ok(stack, ["config", "set", "--secret", "deployment-authorization:airflowPassword", airflow.password]);
  }

  /** Whom each stack's state trusts: the entries of its dynamic resources. */
  /** @type {(stack: SoakStack) => Promise<string[]>} */
  const trustedInState = async (stack) => {
    /** @type {{ deployment: { resources?: Array<{ type: string, outputs?: { grant?: { entries?: string[] } } }> } }} */
    const exported = JSON.parse((await ok(stack, ["stack", "export"])).stdout);
    return (exported.deployment.resources ?? [])
      .filter((r) => r.type.startsWith("pulumi-nodejs:dynamic"))
      .flatMap((r) => r.outputs?.grant?.entries ?? []);
  };

  const started = Date.now();
  const deadline = started + minutes * 60_000;
  log(`role ${roleName}; ${STACKS.join(" and ")} cycling for ${minutes} min beside a naive writer`);

  // A cycle is two ups, each with another random subset: every up creates some and deletes some.
  const cycle = async (/** @type {SoakStack} */ stack) => {
    while (Date.now() < deadline) {
      let up = 0;
      for (; up < 2 && Date.now() < deadline; up++) {
        const subset = randomSubset();
        await ok(stack, ["config", "set", "interrupted:indices", JSON.stringify(subset)]);
        const result = await stack.pulumi(["up", "--yes", "--skip-preview"]);
        stack.ups++;
        stack.entriesWritten += subset.filter((i) => !stack.declared.has(i)).length;
        stack.declared = new Set(subset);
        if (result.code !== 0) {
          stack.failedUps++;
          stack.errors.push((result.stdout + result.stderr).match(/error: .*/)?.[0] ?? `exit ${result.code}`);
        }
      }
      if (up === 2) stack.cycles++;
    }
  };

  const naive = { writes: 0, overwrittenSeen: 0, heldReads: 0, intended: /** @type {Set<string>} */ (new Set()) };
  const naiveIntact = (/** @type {TrustPolicy} */ policy) => {
    const mine = policy.Statement.filter((s) => NAIVE_SIDS.includes(s.Sid ?? ""));
    return (
      mine.length === naive.intended.size &&
      [...naive.intended].every((sid) => mine.some((s) => JSON.stringify(s) === JSON.stringify(naiveStatement(sid))))
    );
  };
  const naiveWriter = async () => {
    while (Date.now() < deadline) {
      const policy = await readPolicy();
      if (naive.writes > 0 && !naiveIntact(policy)) naive.overwrittenSeen++;
      if (Math.random() < 0.1) {
        naive.heldReads++;
        await sleep(randomInt(400, 800));
      }
      const sid = NAIVE_SIDS[randomInt(0, NAIVE_SIDS.length - 1)] ?? "";
      if (naive.intended.has(sid)) naive.intended.delete(sid);
      else naive.intended.add(sid);
      const others = policy.Statement.filter((s) => !NAIVE_SIDS.includes(s.Sid ?? ""));
      const next = { ...policy, Statement: [...others, ...[...naive.intended].sort().map(naiveStatement)] };
      await iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: roleName, PolicyDocument: JSON.stringify(next) }));
      naive.writes++;
      await sleep(randomInt(100, 400));
    }
  };

  await Promise.all([...stacks.map(cycle), naiveWriter()]);
  log(`cycles done after ${Math.round((Date.now() - started) / 1000)} s; counting, then refresh + up of each stack`);

  const count = async () => {
    const policy = await readPolicy();
    const live = policy.Statement.filter((s) => s.Sid?.startsWith("AirflowDA")).flatMap((s) =>
      /** @type {string[]} */ ([]).concat(s.Principal?.AWS ?? []),
    );
    const trusted = (await Promise.all(stacks.map(trustedInState))).flat();
    /** @type {Map<string, number>} */
    const counts = new Map();
    for (const p of live) counts.set(p, (counts.get(p) ?? 0) + 1);
    return {
      policy,
      lost: trusted.filter((p) => !live.includes(p)).length,
      duplicates: [...counts.values()].filter((n) => n > 1).length,
      orphans: [...counts.keys()].filter((p) => !trusted.includes(p)).length,
      trusted,
    };
  };
  const beforeRepair = await count();

  const finals = await Promise.all(
    stacks.map(async (stack) => {
      const refresh = await stack.pulumi(["refresh", "--yes", "--skip-preview"]);
      const up = await stack.pulumi(["up", "--yes", "--skip-preview"]);
      stack.ups++;
      if (refresh.code !== 0 || up.code !== 0)
        stack.errors.push(`final: ${(refresh.stderr + up.stderr).slice(0, 500)}`);
      return refresh.code === 0 && up.code === 0;
    }),
  );
  const after = await count();
  const foreignIntact =
    JSON.stringify(after.policy.Statement.find((s) => s.Sid === FOREIGN.Sid)) === JSON.stringify(FOREIGN);
  // State after the final up must hold exactly what each stack's program last declared.
  const expected = stacks.flatMap((s) => [...s.declared].map((i) => principalOf(s.name, i)));
  const stateMatchesPrograms =
    after.trusted.length === expected.length && expected.every((p) => after.trusted.includes(p));

  const results = {
    date: new Date().toISOString(),
    minutes,
    node: process.version,
    cycles: stacks.reduce((n, s) => n + s.cycles, 0),
    ups: stacks.reduce((n, s) => n + s.ups, 0),
    failedUps: stacks.reduce((n, s) => n + s.failedUps, 0),
    entriesWritten: stacks.reduce((n, s) => n + s.entriesWritten, 0),
    lostBeforeRepair: beforeRepair.lost,
    lost: after.lost,
    duplicates: after.duplicates,
    orphans: after.orphans,
    trustedInState: after.trusted.length,
    stateMatchesPrograms,
    naiveWrites: naive.writes,
    naiveHeldReads: naive.heldReads,
    naiveOverwrittenSeen: naive.overwrittenSeen,
    naiveIntact: naiveIntact(after.policy),
    foreignIntact,
    finalRunsSucceeded: finals.every(Boolean),
    errors: stacks.flatMap((s) => s.errors.map((e) => `${s.name}: ${e}`)).slice(0, 20),
  };
  const { errors, ...figures } = results;
  console.table(Object.fromEntries(Object.entries(figures).map(([k, v]) => [k, { value: v }])));
  if (errors.length) console.log(`errors:\n  ${errors.join("\n  ")}`);
  mkdirSync(path.join(repoRoot, "bench/results"), { recursive: true });
  writeFileSync(path.join(repoRoot, "bench/results/soak.json"), `${JSON.stringify(results, null, 2)}\n`);
  const failed =
    results.lost > 0 ||
    results.duplicates > 0 ||
    !results.naiveIntact ||
    !results.foreignIntact ||
    !results.finalRunsSucceeded ||
    !results.stateMatchesPrograms;
  process.exitCode = failed ? 1 : 0;
} catch (error) {
  log(`error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exitCode = 1;
} finally {
  if (endpoints) await stopSandbox({ dir: sandboxDir });
  rmSync(root, { recursive: true, force: true });
}
