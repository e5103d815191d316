import { execFile } from "node:child_process";
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { AirflowConnectionsDriver } from "../../provider/connections/airflow";
import type { PolicyStatement, TrustPolicy } from "../../provider/grants/aws/trustPolicy";
import { airflowTarget } from "../support/airflow";
import { createRole, iamClient, trustPolicyOf, uniqueName } from "../support/aws";
import { seedDeployment } from "../support/astro";
import { foreignPolicy } from "../support/fixtures";
import { ProgramStack, programStack, repoRoot } from "../support/pulumiProgram";
import { motoEnv } from "../../scripts/toolchain.mjs";

const CLI = path.join(repoRoot, "dist/cli/main.js");
const TSC = path.join(repoRoot, "node_modules/.bin/tsc");

function run(file: string, args: string[], env: Record<string, string>, cwd = repoRoot) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(file, args, { cwd, env: { ...process.env, ...env } }, (error, stdout, stderr) =>
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** Whether some statement (ours or hand-made) lets `principal` assume the role. */
function trusts(policy: TrustPolicy, principal: string): boolean {
  const statements = ([] as PolicyStatement[]).concat(policy.Statement ?? []);
  return statements.some((s) => {
    const aws = (s.Principal as { AWS?: string | string[] } | undefined)?.AWS;
    return s.Effect === "Allow" && ([] as string[]).concat(aws ?? []).includes(principal);
  });
}

/**
 * A role set up by hand as the AWS guide says (Deployments pasted into the trust policy,
 * connections typed into two Airflows), then discover → up → no-op preview → destroy.
 */
describe("discover: from a manual setup to a program that owns it", () => {
  const iam = () => iamClient(inject("endpoints").moto.url);
  const connections = new AirflowConnectionsDriver();
  const deploymentA = "arn:aws:iam::111122223333:role/astro-discover-a";
  const deploymentB = "arn:aws:iam::111122223333:role/astro-discover-b";
  const deploymentC = "arn:aws:iam::111122223333:role/astro-discover-c";
  const id = uniqueName("lake").replace("-", "_");
  const roleName = uniqueName("discover");
  // Kept by hand: the user does not hand Deployment C to discover.
  const keptStatement = { Effect: "Allow", Principal: { AWS: [deploymentC] }, Action: "sts:AssumeRole" };
  const guideStatement = { Effect: "Allow", Principal: { AWS: [deploymentA, deploymentB] }, Action: "sts:AssumeRole" };
  let roleArn: string;
  let stack: ProgramStack;

  beforeAll(async () => {
    roleArn = await createRole(iam(), roleName, {
      ...foreignPolicy(),
      Statement: [...(foreignPolicy().Statement as PolicyStatement[]), guideStatement, keptStatement],
    });
    const extra = { role_arn: roleArn, region_name: "eu-west-1" };
    await connections.create(airflowTarget("airflow3"), `${id}_a`, {
      conn_type: "aws",
      description: "typed in the UI",
      extra,
    });
    await connections.create(airflowTarget("airflow2"), `${id}_b`, { conn_type: "aws", description: null, extra });
  });

  afterAll(async () => {
    await stack?.dispose();
    await connections.remove(airflowTarget("airflow3"), `${id}_a`);
    await connections.remove(airflowTarget("airflow2"), `${id}_b`);
  });

  it("declares what it found, takes it over without a moment of lost access, and gives back only what was kept", async () => {
    const endpoints = inject("endpoints");
    const env = {
      ...(motoEnv(endpoints.moto.url) as Record<string, string>),
      AIRFLOW_API_PASSWORD: endpoints.airflow3.password,
    };
    stack = await programStack({
      program: "(written by discover below)",
      stackName: "discover",
      config: { "deployment-authorization:airflowPassword": { value: endpoints.airflow3.password, secret: true } },
      env,
    });
    const program = path.join(stack.workDir, "index.ts");
    const discovered = await run(
      "node",
      [
        CLI,
        "discover",
        "--aws-role",
        roleArn,
        "--deployment",
        `identity=${deploymentA},airflow=${endpoints.airflow3.url}`,
        "--deployment",
        `identity=${deploymentB},airflow=${endpoints.airflow2.url},name=team-b`,
        "--airflow-username",
        endpoints.airflow3.username,
        "--take-over",
        "--out",
        program,
      ],
      env,
    );
    expect(discovered.stderr).toBe("");
    expect(discovered.code).toBe(0);
    expect(discovered.stdout).toContain("Found 2 authorization(s) to declare.");
    expect(discovered.stdout).toContain(`connection ${id}_a (existing, taken over)`);
    expect(discovered.stdout).toContain(`connection ${id}_b (existing, taken over)`);
    const source = readFileSync(program, "utf8");
    expect(source.match(/adoptExisting: true/g)).toHaveLength(2);
    expect(source.match(/adoptExistingTrust: true/g)).toHaveLength(2);
    expect(source).not.toContain(deploymentC);
    expect(source).toContain('region: "eu-west-1"');

    // The program as a user's TypeScript project compiles it, against the package's own types.
    mkdirSync(path.join(stack.workDir, "node_modules"), { recursive: true });
    symlinkSync(repoRoot, path.join(stack.workDir, "node_modules", "pulumi-deployment-authorization"));
    writeFileSync(path.join(stack.workDir, "index.js"), "");
    const compiled = await run(
      TSC,
      ["--strict", "--module", "commonjs", "--target", "es2022", "--skipLibCheck", "--outDir", stack.workDir, program],
      {},
      stack.workDir,
    );
    expect(compiled.stdout + compiled.stderr).toBe("");

    // Every moment of the up, each Deployment is trusted by one statement or another.
    let sampling = true;
    let samples = 0;
    const gaps: string[] = [];
    const sampler = (async () => {
      while (sampling) {
        const policy = await trustPolicyOf(iam(), roleName);
        samples++;
        for (const d of [deploymentA, deploymentB, deploymentC]) if (!trusts(policy, d)) gaps.push(d);
      }
    })();
    const up = await stack.stack.up().finally(() => (sampling = false));
    await sampler;
    expect(up.summary.resourceChanges).toEqual({ create: 5 });
    expect(samples).toBeGreaterThan(3);
    expect(gaps).toEqual([]);

    // The hand-made statement for A and B is gone; ours trusts them; C's is as it was.
    const owned = await trustPolicyOf(iam(), roleName);
    expect(owned.Statement).toEqual([
      ...(foreignPolicy().Statement as PolicyStatement[]),
      keptStatement,
      {
        Sid: "AirflowDAAssumeRole",
        Effect: "Allow",
        Principal: { AWS: expect.arrayContaining([deploymentA, deploymentB]) as unknown as string[] },
        Action: "sts:AssumeRole",
      },
    ]);
    // Taken over: the description keeps its text and ends in this resource's claim.
    expect(await connections.read(airflowTarget("airflow3"), `${id}_a`)).toEqual({
      conn_type: "aws",
      description: expect.stringMatching(
        /^typed in the UI\n\[DeploymentAuthorization instance=[0-9a-f]{12} grants=[0-9a-f]{8}\]$/,
      ),
      extra: { role_arn: roleArn, region_name: "eu-west-1" },
    });

    expect((await stack.stack.preview({ diff: true })).changeSummary).toEqual({ same: 5 });
    expect((await stack.stack.preview({ diff: true, refresh: true })).changeSummary).toEqual({ same: 5 });

    await stack.stack.destroy();
    expect(await trustPolicyOf(iam(), roleName)).toEqual({
      ...foreignPolicy(),
      Statement: [...(foreignPolicy().Statement as PolicyStatement[]), keptStatement],
    });
    expect(await connections.read(airflowTarget("airflow3"), `${id}_a`)).toBeUndefined();
    expect(await connections.read(airflowTarget("airflow2"), `${id}_b`)).toBeUndefined();
  });

  it("reads Astro Deployments from the Astro API and declares them by name", async () => {
    const endpoints = inject("endpoints");
    // Astro's Airflows take the Astro token; the sandbox's Airflow 3 takes the JWT it issues.
    const jwt = (
      (await (
        await fetch(`${endpoints.airflow3.url}/auth/token`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ username: endpoints.airflow3.username, password: endpoints.airflow3.password }),
        })
      ).json()) as { access_token: string }
    ).access_token;
    const deployment = await seedDeployment(endpoints.astro.fakeUrl, {
      cloudProvider: "AWS",
      airflowVersion: 3,
      webServerAirflowApiUrl: `${endpoints.airflow3.url}/api/v2`,
    });
    const identity = deployment.effectiveWorkloadIdentity!;
    const name = uniqueName("discover-astro");
    const arn = await createRole(iam(), name, {
      Version: "2012-10-17",
      Statement: [{ Effect: "Allow", Principal: { AWS: identity }, Action: "sts:AssumeRole" }],
    });
    const connectionId = uniqueName("astro").replace("-", "_");
    await connections.create(airflowTarget("airflow3"), connectionId, {
      conn_type: "aws",
      description: null,
      extra: { role_arn: arn, region_name: "us-east-1" },
    });
    try {
      const env = {
        ...(motoEnv(endpoints.moto.url) as Record<string, string>),
        DEPLOYMENT_AUTHORIZATION_ASTRO_API_URL: endpoints.astro.url,
        ASTRO_API_TOKEN: jwt,
      };
      const found = await run(
        "node",
        [
          CLI,
          "discover",
          "--aws-role",
          name,
          "--astro-deployment",
          `${deployment.organizationId}/${deployment.id}`,
          "--json",
        ],
        env,
      );
      expect(found.stderr).toBe("");
      const discovery = JSON.parse(found.stdout) as { authorizations: Array<Record<string, unknown>> };
      expect(discovery.authorizations).toEqual([
        expect.objectContaining({
          cloud: "aws",
          grant: { targetRole: arn, region: "us-east-1", trust: { kind: "deploymentRole" } },
          deployment: expect.objectContaining({
            identity,
            astro: { organizationId: deployment.organizationId, deploymentId: deployment.id },
          }),
          connection: { connectionId, adopted: true },
        }),
      ]);
      // Declared by name: the component reads the identity and the Airflow from Astro itself.
      expect(discovery.authorizations[0]).not.toHaveProperty("workloadIdentity");
    } finally {
      await connections.remove(airflowTarget("airflow3"), connectionId);
    }
  });
});
