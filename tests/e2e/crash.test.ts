import { readFileSync, readdirSync, readlinkSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { AirflowConnectionsDriver } from "../../provider/connections/airflow";
import type { ConnectionTarget } from "../../provider/core/types";
import { findStatement, minify, statementsOf } from "../../provider/grants/aws/trustPolicy";
import { createRole, iamClient, trustPolicyOf, uniqueName } from "../support/aws";
import { FOREIGN_COUNT, foreignPolicy } from "../support/fixtures";
import { ProgramStack, programStack, repoRoot } from "../support/pulumiProgram";
import { motoEnv } from "../../scripts/toolchain.mjs";

// 20 authorizations over two roles (even and odd indices) and two Airflows (every fifth on Airflow 2).
const COUNT = 20;
const INDICES = Array.from({ length: COUNT }, (_, i) => i);
const AIRFLOW2_EVERY = 5;
const SID = "AirflowDAAssumeRole";
const STACK = "crash";

const iam = () => iamClient(inject("endpoints").moto.url);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Authorization {
  index: number;
  principal: string;
  connectionId: string;
  roleName: string;
  airflow: ConnectionTarget;
}

function airflowTargetOf(server: { url: string; username: string; password: string }, apiVersion: "v1" | "v2") {
  return {
    url: server.url,
    apiVersion,
    auth: { kind: "password", username: server.username },
    credentials: { password: server.password },
  } satisfies ConnectionTarget;
}

/** Mirrors tests/e2e/programs/interrupted.js: what each index declares. */
function authorizationsOf(prefix: string, roleNames: string[]): Authorization[] {
  const endpoints = inject("endpoints");
  return INDICES.map((index) => ({
    index,
    principal: `arn:aws:iam::111122223333:role/astro-${prefix}-${index}`,
    connectionId: `${prefix}_${index}`.replace(/-/g, "_"),
    roleName: roleNames[index % roleNames.length]!,
    airflow:
      index % AIRFLOW2_EVERY === AIRFLOW2_EVERY - 1
        ? airflowTargetOf(endpoints.airflow2, "v1")
        : airflowTargetOf(endpoints.airflow3, "v2"),
  }));
}

function principalsIn(policy: Awaited<ReturnType<typeof trustPolicyOf>>): string[] {
  const aws = (findStatement(policy, SID)?.Principal as { AWS?: string | string[] } | undefined)?.AWS;
  return aws === undefined ? [] : ([] as string[]).concat(aws);
}

// ---- processes: the pulumi run and everything it started, found through /proc ----

interface ProcessInfo {
  pid: number;
  ppid: number;
  state: string;
  command: string;
}

function processTable(): Map<number, ProcessInfo> {
  const table = new Map<number, ProcessInfo>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // The command name in brackets may hold spaces and brackets: the fields start after the last ")".
      const [state, ppid] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const command = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").join(" ").trim();
      table.set(Number(entry), { pid: Number(entry), ppid: Number(ppid), state: state!, command });
    } catch {
      // the process ended while the table was read
    }
  }
  return table;
}

function descendantsOf(root: number, table = processTable()): ProcessInfo[] {
  const found: ProcessInfo[] = [];
  const parents = new Set([root]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const info of table.values()) {
      if (parents.has(info.ppid) && !parents.has(info.pid)) {
        parents.add(info.pid);
        found.push(info);
        grew = true;
      }
    }
  }
  return found;
}

/** The `pulumi up` this test worker started in the stack's folder (through ProgramStack.cli). */
function pulumiUpProcess(workDir: string): ProcessInfo | undefined {
  return descendantsOf(process.pid).find((info) => {
    const argv = info.command.split(" ");
    if (path.basename(argv[0] ?? "") !== "pulumi" || !argv.includes("up")) return false;
    try {
      return readlinkSync(`/proc/${info.pid}/cwd`) === workDir;
    } catch {
      return false;
    }
  });
}

const running = (pid: number) => {
  const info = processTable().get(pid);
  return info !== undefined && info.state !== "Z";
};

/**
 * A crash of the whole run at one instant: the CLI and each of its descendants (the language host,
 * the program, the dynamic provider) are stopped, so none can react to another's death (the CLI
 * writing a failed step, the provider finishing a call), and then SIGKILLed.
 */
async function crash(pulumi: ProcessInfo, workDir: string): Promise<ProcessInfo[]> {
  const signal = (pid: number, name: NodeJS.Signals) => {
    try {
      process.kill(pid, name);
    } catch {
      // already gone
    }
  };
  signal(pulumi.pid, "SIGSTOP");
  const tree = [pulumi, ...descendantsOf(pulumi.pid)];
  for (const info of tree.slice(1)) signal(info.pid, "SIGSTOP");
  for (const info of tree) signal(info.pid, "SIGKILL");
  for (const deadline = Date.now() + 10_000; tree.some((info) => running(info.pid)); await sleep(20)) {
    if (Date.now() > deadline) throw new Error(`still running after SIGKILL: ${tree.map((i) => i.pid).join(", ")}`);
  }
  // A child spawned while the tree was being stopped is in no snapshot of it: left alone, a
  // program whose engine is gone spins on a core for as long as the machine runs.
  return [...tree, ...(await killEverythingIn(workDir))];
}

/** Every process that runs in the stack's folder or names it (`--pwd <folder>`): SIGKILLed, and waited for. */
async function killEverythingIn(workDir: string): Promise<ProcessInfo[]> {
  const inFolder = (info: ProcessInfo) => {
    if (info.pid === process.pid || info.state === "Z") return false;
    if (info.command.split(" ").includes(workDir)) return true;
    try {
      const cwd = readlinkSync(`/proc/${info.pid}/cwd`);
      return cwd === workDir || cwd.startsWith(`${workDir}/`);
    } catch {
      return false;
    }
  };
  const stray = [...processTable().values()].filter(inFolder);
  for (const info of stray) {
    try {
      process.kill(info.pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  for (const deadline = Date.now() + 10_000; stray.some((info) => running(info.pid)); await sleep(20)) {
    if (Date.now() > deadline) throw new Error(`still running after SIGKILL: ${stray.map((i) => i.pid).join(", ")}`);
  }
  return stray;
}

// ---- what is live and what state holds ----

interface StackFile {
  checkpoint: {
    latest?: {
      resources?: Array<{ urn: string; type: string; id?: string }>;
      pending_operations?: Array<{ type: string; resource: { urn: string } }>;
    };
  };
}

function stateOf(program: ProgramStack) {
  const latest = (JSON.parse(program.stateText()) as StackFile).checkpoint.latest;
  const dynamic = (latest?.resources ?? []).filter((r) => r.type.startsWith("pulumi-nodejs:dynamic"));
  return { dynamic, pending: latest?.pending_operations ?? [] };
}

/** Creates recorded so far, while the CLI may be rewriting the file (-1: not readable this time). */
function finishedSoFar(program: ProgramStack): number {
  try {
    return stateOf(program).dynamic.length;
  } catch {
    return -1;
  }
}

function lockFiles(program: ProgramStack): string[] {
  const dir = path.join(program.workDir, "backend", ".pulumi", "locks");
  try {
    return (
      readdirSync(dir, { recursive: true, withFileTypes: true })
        // The file backend keeps an .attrs file beside each lock.
        .filter((entry) => entry.isFile() && entry.name.endsWith(".json"))
        .map((entry) => entry.name)
    );
  } catch {
    return [];
  }
}

/**
 * The file backend writes the stack file's `.attrs` sidecar in place (create, then write) before it
 * renames the new checkpoint over the stack file; a kill in between leaves it empty, and every
 * command then fails with "failed to load checkpoint: EOF". The checkpoint itself is whole. The
 * recovery in docs/recovery.md removes such a sidecar first (the backend reads a missing one as no attributes).
 */
function emptySidecar(program: ProgramStack): string | undefined {
  const file = path.join(
    program.workDir,
    "backend",
    ".pulumi",
    "stacks",
    "deployment-authorization-demo",
    `${STACK}.json.attrs`,
  );
  try {
    return statSync(file).size === 0 ? file : undefined;
  } catch {
    return undefined;
  }
}

async function liveOf(authorizations: Authorization[], roleNames: string[]) {
  const driver = new AirflowConnectionsDriver();
  const policies = new Map(
    await Promise.all(roleNames.map(async (name) => [name, await trustPolicyOf(iam(), name)] as const)),
  );
  const connections = await Promise.all(
    authorizations.map(async (a) => ({ authorization: a, payload: await driver.read(a.airflow, a.connectionId) })),
  );
  return { policies, connections };
}

/** For the log: what a kill left behind, before any recovery. */
async function leftovers(program: ProgramStack, authorizations: Authorization[], roleNames: string[]) {
  const { dynamic, pending } = stateOf(program);
  const { policies, connections } = await liveOf(authorizations, roleNames);
  const finished = new Set(dynamic.map((r) => r.urn.split("::").at(-1)));
  const pendingNames = new Set(pending.map((op) => op.resource.urn.split("::").at(-1)));
  const connected = connections.filter((c) => c.payload !== undefined).map((c) => c.authorization.connectionId);
  const entries = [...policies.values()].flatMap(principalsIn);
  return {
    finishedCreates: dynamic.length,
    pendingCreates: pending.filter((op) => op.type === "creating").length,
    trustEntries: entries.length,
    connections: connected.length,
    // The case the next create must cope with: a connection written by a create the state does not record.
    connectionsWithoutState: connections.filter(
      (c) => c.payload !== undefined && !finished.has(`deployment-${c.authorization.index}`),
    ).length,
    // Of those, the ones not even listed as a pending create.
    connectionsUnlisted: connections.filter(
      (c) =>
        c.payload !== undefined &&
        !finished.has(`deployment-${c.authorization.index}`) &&
        !pendingNames.has(`deployment-${c.authorization.index}`),
    ).length,
    lockFiles: lockFiles(program).length,
    emptySidecar: emptySidecar(program) ? 1 : 0,
  };
}

async function expectConverged(program: ProgramStack, authorizations: Authorization[], roleNames: string[]) {
  const { dynamic, pending } = stateOf(program);
  expect(pending).toEqual([]);
  expect(dynamic).toHaveLength(COUNT);
  expect(new Set(dynamic.map((r) => r.urn)).size).toBe(COUNT);

  const { policies, connections } = await liveOf(authorizations, roleNames);
  for (const name of roleNames) {
    const policy = policies.get(name)!;
    expect(statementsOf(policy).slice(0, FOREIGN_COUNT)).toEqual(statementsOf(foreignPolicy()));
    expect(statementsOf(policy)).toHaveLength(FOREIGN_COUNT + 1);
    const expected = authorizations.filter((a) => a.roleName === name).map((a) => a.principal);
    expect([...principalsIn(policy)].sort()).toEqual([...expected].sort());
  }
  for (const { authorization, payload } of connections) {
    expect(payload?.conn_type, authorization.connectionId).toBe("aws");
    expect(payload?.extra.role_arn).toBe(`arn:aws:iam::123456789012:role/${authorization.roleName}`);
  }
}

async function expectNothingLeft(program: ProgramStack, authorizations: Authorization[], roleNames: string[]) {
  const { dynamic, pending } = stateOf(program);
  expect(dynamic).toEqual([]);
  expect(pending).toEqual([]);
  const { policies, connections } = await liveOf(authorizations, roleNames);
  for (const name of roleNames) expect(minify(policies.get(name)!)).toBe(minify(foreignPolicy()));
  expect(connections.filter((c) => c.payload !== undefined).map((c) => c.authorization.connectionId)).toEqual([]);
}

// ---- the kill points ----

interface Progress {
  trustEntries: number;
  airflow3Connections: number;
  finishedCreates: number;
}

type Leftovers = Awaited<ReturnType<typeof leftovers>>;

interface KillPoint {
  name: string;
  /** True once the run has got as far as this point. */
  reached(progress: Progress): boolean;
  /** What the kill must have left for the recovery to cope with. */
  expectLeft(left: Leftovers): void;
}

const KILL_POINTS: KillPoint[] = [
  {
    // The first connection is written once the role's ARN is read, before the grant is even written;
    // no create finishes before its grant is read back, 300 ms or more after the write. The kill
    // comes one poll later, in which a busy machine may have let the first wave's creates finish.
    name: "early (as the first connections are written)",
    reached: (p) => p.airflow3Connections > 0 && p.finishedCreates === 0,
    expectLeft: (left) => {
      expect(left.finishedCreates).toBeLessThan(COUNT / 2);
      expect(left.connectionsWithoutState).toBeGreaterThan(0);
    },
  },
  {
    name: "in the middle (half the connections in Airflow 3)",
    reached: (p) => p.airflow3Connections >= 8,
    expectLeft: (left) => {
      expect(left.finishedCreates).toBeLessThan(COUNT);
      expect(left.connectionsWithoutState).toBeGreaterThan(0);
    },
  },
  {
    // Every grant is written and most creates are recorded; the last ones wait for their read-back.
    name: "near the end (all 20 grants written)",
    reached: (p) => p.trustEntries === COUNT && p.finishedCreates >= COUNT / 2,
    expectLeft: (left) => {
      expect(left.finishedCreates).toBeGreaterThanOrEqual(COUNT / 2);
      expect(left.connectionsWithoutState).toBeGreaterThan(0);
    },
  },
];

/** Counts the connections of one prefix in Airflow 3 (one list call, under one token). */
async function airflow3Counter(prefix: string): Promise<() => Promise<number>> {
  const server = inject("endpoints").airflow3;
  const login = await fetch(`${server.url}/auth/token`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username: server.username, password: server.password }),
  });
  const { access_token: token } = (await login.json()) as { access_token: string };
  const pattern = encodeURIComponent(prefix.replace(/-/g, "_"));
  return async () => {
    const response = await fetch(`${server.url}/api/v2/connections?limit=100&connection_id_pattern=${pattern}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    return ((await response.json()) as { total_entries: number }).total_entries;
  };
}

/** The recovery docs/recovery.md gives, after the interrupted run's processes are gone. */
const RECOVERY = [
  ["cancel", "--yes"],
  ["refresh", "--clear-pending-creates", "--yes", "--skip-preview"],
  ["up", "--yes", "--skip-preview"],
];

async function pulumiOk(program: ProgramStack, args: string[]) {
  const result = await program.cli(args);
  if (process.env.CRASH_TEST_VERBOSE) console.log(`pulumi ${args.join(" ")}\n${result.stdout}\n${result.stderr}`);
  expect(result.code, `pulumi ${args.join(" ")}:\n${result.stdout}\n${result.stderr}`).toBe(0);
  return result;
}

describe("a pulumi up killed (SIGKILL, CLI and provider) and recovered", { shuffle: false }, () => {
  let program: ProgramStack;
  let roleNames: string[];
  const report: Array<Record<string, unknown>> = [];
  const prefixes: string[] = [];

  beforeAll(async () => {
    roleNames = [uniqueName("crash-even"), uniqueName("crash-odd")];
    const roleArns = await Promise.all(roleNames.map((name) => createRole(iam(), name, foreignPolicy())));
    const endpoints = inject("endpoints");
    // The stack's one password (deployment-authorization:airflowPassword) serves both Airflows.
    expect(endpoints.airflow2.password).toBe(endpoints.airflow3.password);
    const airflows = INDICES.slice(0, AIRFLOW2_EVERY).map((i) =>
      i === AIRFLOW2_EVERY - 1 ? endpoints.airflow2.url : endpoints.airflow3.url,
    );
    program = await programStack({
      program: path.join(repoRoot, "tests/e2e/programs/interrupted.js"),
      stackName: STACK,
      config: {
        "aws:region": { value: "us-east-1" },
        "deployment-authorization:airflowPassword": { value: endpoints.airflow3.password, secret: true },
        "interrupted:prefix": { value: "crash" },
        "interrupted:indices": { value: JSON.stringify(INDICES) },
        "interrupted:roles": { value: JSON.stringify(roleArns) },
        "interrupted:airflows": { value: JSON.stringify(airflows) },
        "interrupted:airflowUsername": { value: endpoints.airflow3.username },
      },
      env: motoEnv(endpoints.moto.url) as Record<string, string>,
    });
  });

  afterAll(async () => {
    console.table(report);
    if (program && stateOf(program).dynamic.length > 0) {
      // A failed point: take down what it made, so the shared sandbox keeps no test connections.
      await program.cli(["cancel", "--yes"]);
      await program.cli(["refresh", "--clear-pending-creates", "--yes", "--skip-preview"]);
      await program.cli(["destroy", "--yes", "--skip-preview"]);
    }
    const driver = new AirflowConnectionsDriver();
    for (const prefix of prefixes) {
      await Promise.all(authorizationsOf(prefix, roleNames).map((a) => driver.remove(a.airflow, a.connectionId)));
    }
    // Whatever a failed point left running in the stack's folder goes with the test.
    if (program) await killEverythingIn(program.workDir);
    await program?.dispose();
  });

  it.each(KILL_POINTS)("killed $name: the documented recovery converges, destroy leaves nothing", async (point) => {
    const started = Date.now();
    const prefix = uniqueName(`crash${KILL_POINTS.indexOf(point)}`);
    prefixes.push(prefix);
    await program.stack.setConfig("interrupted:prefix", { value: prefix });
    const authorizations = authorizationsOf(prefix, roleNames);

    const countAirflow3 = await airflow3Counter(prefix);
    let runEnded = false;
    const run = program.cli(["up", "--yes", "--skip-preview"]).finally(() => (runEnded = true));
    let pulumi: ProcessInfo | undefined;
    for (;;) {
      if (runEnded) throw new Error(`the up ended before the kill point: ${JSON.stringify(await run)}`);
      pulumi ??= pulumiUpProcess(program.workDir);
      const [policies, airflow3Connections] = await Promise.all([
        Promise.all(roleNames.map((name) => trustPolicyOf(iam(), name))),
        countAirflow3(),
      ]);
      const progress = {
        trustEntries: policies.flatMap(principalsIn).length,
        airflow3Connections,
        finishedCreates: finishedSoFar(program),
      };
      if (pulumi && point.reached(progress)) break;
      if (progress.finishedCreates === COUNT) throw new Error(`the up finished before the kill point ${point.name}`);
      await sleep(20);
    }
    const killed = await crash(pulumi, program.workDir);
    const killedRun = await run;
    expect(killedRun.code).not.toBe(0);
    expect(killed.some((p) => p.command.includes("dynamic-provider"))).toBe(true);

    const left = await leftovers(program, authorizations, roleNames);
    report.push({ point: point.name, ...left, killed: killed.length });
    point.expectLeft(left);
    expect(left.finishedCreates).toBeLessThan(COUNT);
    expect(left.lockFiles).toBe(1);

    // The recovery, as docs/recovery.md gives it.
    const sidecar = emptySidecar(program);
    if (sidecar) rmSync(sidecar);
    for (const step of RECOVERY) await pulumiOk(program, step);
    await expectConverged(program, authorizations, roleNames);

    await pulumiOk(program, ["destroy", "--yes", "--skip-preview"]);
    await expectNothingLeft(program, authorizations, roleNames);
    report.at(-1)!.seconds = Math.round((Date.now() - started) / 1000);
  });
});
