import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { AirflowConnectionsDriver } from "../../provider/connections/airflow";
import { createRole, iamClient, trustPolicyOf, uniqueName } from "../support/aws";
import { airflowTarget } from "../support/airflow";
import { foreignPolicy } from "../support/fixtures";
import { createProject, foreignProjectPolicy, storedPolicy } from "../support/gcp";
import { type Language, type LanguageStack, languageStack, preparePython } from "../support/languagePrograms";
import { repoRoot } from "../support/pulumiProgram";
import { gcpEnv, motoEnv } from "../../scripts/toolchain.mjs";

const programs = path.join(repoRoot, "tests/e2e/programs");
const program = (language: Language, cloud: string) =>
  readFileSync(path.join(programs, language, `${cloud}.${language === "python" ? "py" : "yaml"}`), "utf8");

let python: ReturnType<typeof preparePython>;
beforeAll(() => {
  python = preparePython();
});
afterAll(() => python?.cleanup());

/** What differs by cloud: the remote to set up and read back, and what the plan must show. */
interface Cloud {
  name: "aws" | "gcp";
  /** Makes the target holding foreign grants; returns its config and a reader of what it holds. */
  target(): Promise<{ config: Record<string, string>; read(): Promise<unknown>; ours(state: unknown): boolean }>;
  env(): Record<string, string>;
  workloadIdentity: string;
  /** Text the plan in preview shows for this grant. */
  planned: (config: Record<string, string>) => string[];
  /** The stack outputs of the Python program, which reads a field of the typed grant by attribute. */
  pythonOutputs: (config: Record<string, string>) => Record<string, unknown>;
}

const AWS: Cloud = {
  name: "aws",
  workloadIdentity: "arn:aws:iam::111122223333:role/astro-languages-1",
  async target() {
    const roleName = uniqueName("languages");
    const roleArn = await createRole(iamClient(inject("endpoints").moto.url), roleName, foreignPolicy());
    const read = () => trustPolicyOf(iamClient(inject("endpoints").moto.url), roleName);
    return {
      config: { targetRole: roleArn },
      read,
      ours: (policy) => JSON.stringify(policy).includes(AWS.workloadIdentity),
    };
  },
  env: () => motoEnv(inject("endpoints").moto.url) as Record<string, string>,
  planned: (config) => ['Sid      : "AirflowDAAssumeRole"', AWS.workloadIdentity, config.targetRole!],
  pythonOutputs: (config) => ({
    grant: expect.objectContaining({ cloud: "aws", roleArn: config.targetRole, trusted: [AWS.workloadIdentity] }),
    roleArn: config.targetRole,
  }),
};

const GCP: Cloud = {
  name: "gcp",
  workloadIdentity: "astro-languages-1@astronomer-prod.iam.gserviceaccount.com",
  async target() {
    const { projectId } = await createProject(inject("endpoints").gcp.fakeUrl, { policy: foreignProjectPolicy() });
    const read = async () => ({
      ...(await storedPolicy(inject("endpoints").gcp.fakeUrl, { project: projectId })),
      etag: undefined,
    });
    return {
      config: { project: projectId },
      read,
      ours: (policy) => JSON.stringify(policy).includes(`serviceAccount:${GCP.workloadIdentity}`),
    };
  },
  env: () => gcpEnv(inject("endpoints").gcp.url) as Record<string, string>,
  planned: (config) => [`serviceAccount:${GCP.workloadIdentity}`, "roles/bigquery.dataViewer", config.project!],
  pythonOutputs: () => ({
    grant: expect.objectContaining({ cloud: "gcp", members: [`serviceAccount:${GCP.workloadIdentity}`] }),
    members: [`serviceAccount:${GCP.workloadIdentity}`],
  }),
};

describe.each<Language>(["python", "yaml"])("a %s program through the provider plugin and the real CLI", (language) => {
  it.each([AWS, GCP])(
    "$name: preview shows the plan, up, no-op preview, refresh, update, destroy; foreign grants intact, no plaintext secret",
    async (cloud) => {
      const airflow = inject("endpoints").airflow3;
      const target = await cloud.target();
      const before = await target.read();
      const connectionId = `${cloud.name}_${language}_${uniqueName("c").slice(2)}`.replace(/-/g, "_");
      let stack: LanguageStack | undefined;
      const connections = new AirflowConnectionsDriver();
      try {
        stack = await languageStack({
          language,
          program: program(language, cloud.name),
          stackName: "dev",
          config: {
            workloadIdentity: { value: cloud.workloadIdentity },
            connectionId: { value: connectionId },
            description: { value: "Reader for the analytics DAGs" },
            airflowUrl: { value: airflow.url },
            airflowUsername: { value: airflow.username },
            airflowPassword: { value: airflow.password, secret: true },
            ...Object.fromEntries(Object.entries(target.config).map(([k, v]) => [k, { value: v }])),
          },
          env: cloud.env(),
          python,
        });
        const cli = stack.cli;
        const failed = (step: string, r: { stdout: string; stderr: string }) =>
          `${step} failed:\n${r.stdout.slice(-4000)}\n${r.stderr.slice(-4000)}`;

        // The plan, with what will be granted, before anything is written.
        const preview = await cli(["preview", "--diff"]);
        expect(preview.code, failed("preview", preview)).toBe(0);
        expect(preview.stdout).toContain("+ deployment-authorization:index:DeploymentAuthorization: (create)");
        expect(preview.stdout).toContain("+ deployment-authorization:index:Authorization: (create)");
        for (const text of cloud.planned(target.config)) expect(preview.stdout).toContain(text);
        expect(await target.read()).toEqual(before);
        expect(await connections.read(airflowTarget(), connectionId)).toBeUndefined();

        const up = await cli(["up", "--yes"]);
        expect(up.code, failed("up", up)).toBe(0);
        const granted = await target.read();
        expect(target.ours(granted)).toBe(true);
        expect(await connections.read(airflowTarget(), connectionId)).toMatchObject({
          conn_type: cloud.name === "aws" ? "aws" : "google_cloud_platform",
          description: expect.stringContaining("Reader for the analytics DAGs"),
        });

        if (language === "python") {
          const outputs = await cli(["stack", "output", "--json"]);
          expect(outputs.code, failed("stack output", outputs)).toBe(0);
          expect(JSON.parse(outputs.stdout)).toMatchObject(cloud.pythonOutputs(target.config));
        }

        const noop = await cli(["preview", "--expect-no-changes"]);
        expect(noop.code, failed("no-op preview", noop)).toBe(0);
        const refresh = await cli(["refresh", "--yes", "--expect-no-changes"]);
        expect(refresh.code, failed("refresh", refresh)).toBe(0);

        // An update in place: the connection's description.
        expect((await cli(["config", "set", "description", "Reader, second edition"])).code).toBe(0);
        const update = await cli(["up", "--yes"]);
        expect(update.code, failed("update", update)).toBe(0);
        expect(update.stdout).toMatch(/~ +1 updated|1 updated/);
        expect(await connections.read(airflowTarget(), connectionId)).toMatchObject({
          description: expect.stringContaining("Reader, second edition"),
        });
        expect(await target.read()).toEqual(granted);

        const state = await stack.state();
        expect(state).not.toContain(airflow.password);
        expect(state).toContain("deployment-authorization:index:Authorization");
        expect(state).toMatch(
          /"credentials": \{\s*"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",\s*"ciphertext"/,
        );

        // Destroy runs from state alone: the plugin deletes without the program.
        const destroy = await cli(["destroy", "--yes"]);
        expect(destroy.code, failed("destroy", destroy)).toBe(0);
        expect(await target.read()).toEqual(before);
        expect(await connections.read(airflowTarget(), connectionId)).toBeUndefined();
      } finally {
        stack?.dispose();
      }
    },
  );
});

describe("a Python program through the provider plugin behaves as the TypeScript component", () => {
  it("names a bad field before any remote call, answers errors with their code, shows drift and repairs it", async () => {
    const airflow = inject("endpoints").airflow3;
    const target = await AWS.target();
    const before = await target.read();
    const connectionId = `aws_python_${uniqueName("d").slice(2)}`.replace(/-/g, "_");
    const stack = await languageStack({
      language: "python",
      program: program("python", "aws"),
      stackName: "dev",
      config: {
        workloadIdentity: { value: "not-an-arn" },
        connectionId: { value: connectionId },
        description: { value: "Reader" },
        airflowUrl: { value: airflow.url },
        airflowUsername: { value: airflow.username },
        airflowPassword: { value: airflow.password, secret: true },
        targetRole: { value: "arn:aws:iam::123456789012:role/no-such-role-languages" },
      },
      env: AWS.env(),
      python,
    });
    const connections = new AirflowConnectionsDriver();
    try {
      const bad = await stack.cli(["preview"]);
      expect(bad.code).not.toBe(0);
      expect(bad.stdout + bad.stderr).toMatch(/workloadIdentity = "not-an-arn": .*IAM role ARN/);
      expect(bad.stdout + bad.stderr).not.toContain(airflow.password);

      // A valid program on a role that does not exist: the engine shows the error's code.
      expect((await stack.cli(["config", "set", "workloadIdentity", AWS.workloadIdentity])).code).toBe(0);
      const missing = await stack.cli(["up", "--yes"]);
      expect(missing.code).not.toBe(0);
      expect(missing.stdout + missing.stderr).toContain("TARGET_MISSING: ");
      expect(await connections.read(airflowTarget(), connectionId)).toBeUndefined();

      expect((await stack.cli(["config", "set", "targetRole", target.config.targetRole!])).code).toBe(0);
      const up = await stack.cli(["up", "--yes"]);
      expect(up.code, up.stdout + up.stderr).toBe(0);

      // Drift: the connection deleted by hand. A refresh sees it; the next up writes it again.
      await connections.remove(airflowTarget(), connectionId);
      const refresh = await stack.cli(["refresh", "--yes"]);
      expect(refresh.code, refresh.stdout + refresh.stderr).toBe(0);
      expect(refresh.stdout).toMatch(/~ +deployment-authorization:index:Authorization|1 updated/);
      const repair = await stack.cli(["up", "--yes"]);
      expect(repair.code, repair.stdout + repair.stderr).toBe(0);
      expect(await connections.read(airflowTarget(), connectionId)).toMatchObject({ conn_type: "aws" });
      expect((await stack.cli(["preview", "--expect-no-changes"])).code).toBe(0);

      expect((await stack.cli(["destroy", "--yes"])).code).toBe(0);
      expect(await target.read()).toEqual(before);
    } finally {
      stack.dispose();
    }
  });
});
