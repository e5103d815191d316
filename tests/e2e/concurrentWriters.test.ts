import { GetRoleCommand, UpdateAssumeRolePolicyCommand } from "@aws-sdk/client-iam";
import { spawn, type ChildProcess } from "node:child_process";
import { cpus } from "node:os";
import path from "node:path";
import { describe, expect, inject, it } from "vitest";
import {
  findStatement,
  minify,
  parsePolicyDocument,
  statementsOf,
  type TrustPolicy,
} from "../../provider/grants/aws/trustPolicy";
import { createRole, iamClient, trustPolicyOf, uniqueName } from "../support/aws";
import { FOREIGN_COUNT, foreignPolicy } from "../support/fixtures";
import { programStack, repoRoot } from "../support/pulumiProgram";
import { startRecordingProxy } from "../../scripts/recordingProxy.mjs";
import { motoEnv } from "../../scripts/toolchain.mjs";

const PER_STACK = 10;
/**
 * Added to every IAM call, split the worst way for a writer without etags: a read's on the way back
 * (it is served at once, and its answer arrives late), a write's on the way there (it lands late).
 */
const LATENCY_MS: [number, number] = [100, 300];
const NAIVE_SIDS = ["NaiveWriter0", "NaiveWriter1", "NaiveWriter2"];
/** What docs/concurrency-and-limits.md asks of another writer: its write goes out within this long after its read's answer. */
const NAIVE_SEND_WITHIN_MS = 200;

const naiveStatement = (sid: string) => ({
  Sid: sid,
  Effect: "Allow",
  Principal: { AWS: `arn:aws:iam::444455556666:role/${sid.toLowerCase()}` },
  Action: "sts:AssumeRole",
});

function principalsOf(policy: TrustPolicy): string[] {
  const aws = (findStatement(policy, "AirflowDAAssumeRole")?.Principal as { AWS?: string | string[] } | undefined)?.AWS;
  return aws === undefined ? [] : ([] as string[]).concat(aws);
}

function manyStack(stackName: string, roleArn: string, awsUrl: string) {
  const server = inject("endpoints").airflow3;
  return programStack({
    program: path.join(repoRoot, "tests/e2e/programs/many.js"),
    stackName,
    config: {
      "aws:region": { value: "us-east-1" },
      "deployment-authorization:airflowPassword": { value: server.password, secret: true },
      "deployment-authorization:awsTrustPolicySizeQuota": { value: "4096" },
      "many:count": { value: String(PER_STACK) },
      "many:targetRole": { value: roleArn },
      "many:airflowUrl": { value: server.url },
      "many:airflowUsername": { value: server.username },
    },
    env: motoEnv(awsUrl) as Record<string, string>,
  });
}

/** One child process per core, each spinning, started and later killed by its PID. */
function holdEveryCore(): ChildProcess[] {
  return cpus().map(() => spawn(process.execPath, ["-e", "for (;;) {}"], { stdio: "ignore" }));
}

/**
 * A writer with no read-back that edits its own statements of the same trust policy in a loop, and
 * sends each write as late as docs/concurrency-and-limits.md allows another writer to: up to 200 ms after its read's
 * answer. A write that would go out later is not sent (as the bound asks), and counted.
 */
function naiveWriter(url: string, roleName: string) {
  const iam = iamClient(url);
  const intended = new Set<string>();
  const stats = { reads: 0, writes: 0, skipped: 0, undoneSeen: 0 };
  let running = true;
  const mine = (policy: TrustPolicy) => statementsOf(policy).filter((s) => NAIVE_SIDS.includes(s.Sid ?? ""));
  const intact = (policy: TrustPolicy) =>
    mine(policy).length === intended.size &&
    [...intended].every((sid) => mine(policy).some((s) => JSON.stringify(s) === JSON.stringify(naiveStatement(sid))));
  const loop = (async () => {
    while (running) {
      const got = await iam.send(new GetRoleCommand({ RoleName: roleName }));
      const answeredAt = Date.now();
      stats.reads++;
      const policy = parsePolicyDocument(got.Role!.AssumeRolePolicyDocument!);
      if (stats.writes > 0 && !intact(policy)) stats.undoneSeen++;
      await new Promise((resolve) => setTimeout(resolve, 100 + Math.random() * 90));
      const sid = NAIVE_SIDS[Math.floor(Math.random() * NAIVE_SIDS.length)]!;
      const next = new Set(intended);
      if (next.has(sid)) next.delete(sid);
      else next.add(sid);
      const others = statementsOf(policy).filter((s) => !NAIVE_SIDS.includes(s.Sid ?? ""));
      const document = { ...policy, Statement: [...others, ...[...next].sort().map(naiveStatement)] };
      if (Date.now() - answeredAt > NAIVE_SEND_WITHIN_MS) {
        stats.skipped++;
        continue;
      }
      await iam.send(
        new UpdateAssumeRolePolicyCommand({ RoleName: roleName, PolicyDocument: JSON.stringify(document) }),
      );
      intended.clear();
      next.forEach((s) => intended.add(s));
      stats.writes++;
      // A script that edits the policy every second or so, not one that never stops: against one that
      // writes without pause on reads served before ours land, an edit of ours can lose eight times
      // in a row and fail with CONFLICT (seen in this test with 50-150 ms pauses).
      await new Promise((resolve) => setTimeout(resolve, 400 + Math.random() * 400));
    }
  })();
  return {
    stats,
    intended,
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

describe("concurrent writers of one trust policy on a saturated machine, against a slow IAM", () => {
  it("two stacks' ups and a writer with no read-back: no principal lost right after the ups, every foreign statement intact", async () => {
    const moto = inject("endpoints").moto.url;
    const roleName = uniqueName("busy");
    const roleArn = await createRole(iamClient(moto), roleName, foreignPolicy());
    const proxy = await startRecordingProxy(moto, { latencyMs: LATENCY_MS, split: "worst" });
    // Stack names are in the principals and connection ids: unique to this run.
    const names = [uniqueName("busya"), uniqueName("busyb")];
    const [a, b] = await Promise.all(names.map((name) => manyStack(name, roleArn, proxy.url)));
    let destroyed = false;
    let spinners: ChildProcess[] = [];
    const naive = naiveWriter(proxy.url, roleName);
    try {
      spinners = holdEveryCore();
      const started = Date.now();
      await Promise.all([a!.stack.up(), b!.stack.up()]);
      const upsTook = Date.now() - started;
      await naive.stop();
      spinners.forEach((spinner) => spinner.kill("SIGKILL"));
      spinners = [];

      const policy = await trustPolicyOf(iamClient(moto), roleName);
      const principals = principalsOf(policy);
      const expected = names.flatMap((stack) =>
        Array.from({ length: PER_STACK }, (_, i) => `arn:aws:iam::111122223333:role/astro-${stack}-${i}`),
      );
      const lost = expected.filter((p) => !principals.includes(p));
      const count = (action: string) =>
        proxy.requests.filter((r: { body: string }) => new URLSearchParams(r.body).get("Action") === action).length;
      console.log(
        `two ups of ${PER_STACK} on one role, every core held, ${LATENCY_MS.join("-")} ms per IAM call: ` +
          `${upsTook} ms; the stacks made ${count("GetRole") - naive.stats.reads} GetRole and ` +
          `${count("UpdateAssumeRolePolicy") - naive.stats.writes} UpdateAssumeRolePolicy; the other writer ` +
          `${naive.stats.writes} writes (${naive.stats.skipped} held past the bound and not sent, ` +
          `${naive.stats.undoneSeen} found undone at its next read); principals lost: ${lost.length}`,
      );
      // Right after the ups, with no refresh: every principal of both stacks is there, once.
      expect(lost).toEqual([]);
      expect(principals).toHaveLength(2 * PER_STACK);
      // What the role held before is untouched, and the other writer's statements are each as it
      // wrote them, never changed or doubled (an edit of its that landed between one of our reads
      // and its write can be undone, as docs/concurrency-and-limits.md says; its own read-back would see that).
      expect(statementsOf(policy).slice(0, FOREIGN_COUNT)).toEqual(statementsOf(foreignPolicy()));
      const naiveNow = statementsOf(policy).filter((s) => NAIVE_SIDS.includes(s.Sid ?? ""));
      expect(new Set(naiveNow.map((s) => s.Sid)).size).toBe(naiveNow.length);
      for (const statement of naiveNow) expect(statement).toEqual(naiveStatement(statement.Sid!));
      expect(statementsOf(policy)).toHaveLength(FOREIGN_COUNT + 1 + naiveNow.length);
      expect(naive.stats.writes).toBeGreaterThan(0);

      // The destroys need no latency to show what they leave.
      proxy.setLatency(0);
      await Promise.all([a!.stack.destroy(), b!.stack.destroy()]);
      destroyed = true;
      const after = await trustPolicyOf(iamClient(moto), roleName);
      expect(minify({ ...after, Statement: statementsOf(after).slice(0, FOREIGN_COUNT) })).toBe(
        minify(foreignPolicy()),
      );
      expect(statementsOf(after).filter((s) => NAIVE_SIDS.includes(s.Sid ?? ""))).toEqual(naiveNow);
      expect(findStatement(after, "AirflowDAAssumeRole")).toBeUndefined();
    } finally {
      spinners.forEach((spinner) => spinner.kill("SIGKILL"));
      await naive.stop();
      if (!destroyed) await Promise.allSettled([a!.stack.destroy(), b!.stack.destroy()]);
      await a!.dispose();
      await b!.dispose();
      await proxy.close();
    }
  });
});
