import { LocalWorkspace, PulumiCommand } from "@pulumi/pulumi/automation";
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, inject, it } from "vitest";
import { minify } from "../../provider/grants/aws/trustPolicy";
import { createRole, iamClient, trustPolicyOf, uniqueName } from "../support/aws";
import { foreignPolicy } from "../support/fixtures";
import { repoRoot } from "../support/pulumiProgram";
// @ts-expect-error plain ESM script without type declarations
import { motoEnv } from "../../scripts/toolchain.mjs";

const run = promisify(execFile);

/** A TypeScript program as a user writes it in an infrastructure repository of their own. */
const PROGRAM = `import * as pulumi from "@pulumi/pulumi";
import { DeploymentAuthorization } from "pulumi-deployment-authorization";

const config = new pulumi.Config();
const lake = new DeploymentAuthorization("lake", {
  workloadIdentity: config.require("deploymentIdentity"),
  aws: { targetRole: config.require("lakeRole"), region: "us-east-1" },
  connection: {
    connectionId: "aws_lake",
    airflow: { url: config.require("airflowUrl"), auth: { kind: "password", username: config.require("airflowUser") } },
  },
});

export const statementId = lake.grant.statementId;
export const connectionUrl = lake.connection.url;
`;

describe("the packed package, installed into a project outside the repository", () => {
  it("holds the compiled SDK and provider with types; a TypeScript program on it goes up, previews no change, refreshes and destroys; what it puts in state names no path", async () => {
    const endpoints = inject("endpoints");
    const iam = iamClient(endpoints.moto.url);
    const roleName = uniqueName("packed");
    const roleArn = await createRole(iam, roleName, foreignPolicy());
    const project = mkdtempSync(path.join(os.tmpdir(), "lake-access-"));
    try {
      // `npm test` built dist already; packing without scripts keeps it from being rebuilt under the
      // other tests (`npm pack` alone builds first, through `prepare`).
      const packed = JSON.parse(
        (await run("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", project], { cwd: repoRoot }))
          .stdout,
      ) as Array<{ filename: string; files: Array<{ path: string }> }>;
      const files = packed[0]!.files.map((f) => f.path);
      expect(files).toEqual(
        expect.arrayContaining([
          "dist/sdk/index.js",
          "dist/sdk/index.d.ts",
          "dist/sdk/automation.js",
          "dist/sdk/automation.d.ts",
          "dist/sdk/dynamicProvider.js",
          "dist/sdk/cli.js",
          "dist/provider/index.js",
          "dist/provider/index.d.ts",
          "dist/provider/runtime.js",
          "README.md",
          "CHANGELOG.md",
        ]),
      );
      expect(
        files.filter((f) => !/^(dist\/(sdk|provider)\/|README\.md$|CHANGELOG\.md$|package\.json$)/.test(f)),
      ).toEqual([]);

      const own = JSON.parse(readFileSync(path.join(repoRoot, "package.json"), "utf8")) as {
        devDependencies: Record<string, string>;
      };
      writeFileSync(
        path.join(project, "package.json"),
        JSON.stringify({
          name: "lake-access",
          private: true,
          dependencies: {
            "@pulumi/pulumi": own.devDependencies["@pulumi/pulumi"],
            "pulumi-deployment-authorization": `file:./${packed[0]!.filename}`,
          },
        }),
      );
      await run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"], {
        cwd: project,
      });
      writeFileSync(path.join(project, "Pulumi.yaml"), "name: lake-access\nruntime: nodejs\n");
      writeFileSync(path.join(project, "index.ts"), PROGRAM);
      writeFileSync(
        path.join(project, "tsconfig.json"),
        JSON.stringify({
          compilerOptions: { strict: true, target: "ES2020", module: "commonjs", esModuleInterop: true },
        }),
      );

      const backend = path.join(project, ".state");
      mkdirSync(backend);
      const pulumiCommand = await PulumiCommand.get({
        root: path.dirname(inject("pulumiBin")),
        skipVersionCheck: true,
      });
      const stack = await LocalWorkspace.createOrSelectStack(
        { stackName: "dev", workDir: project },
        {
          pulumiCommand,
          envVars: {
            PATH: inject("pulumiPath"),
            PULUMI_BACKEND_URL: `file://${backend}`,
            PULUMI_CONFIG_PASSPHRASE: "lake",
            PULUMI_SKIP_UPDATE_CHECK: "true",
            PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
            PULUMI_HOME: path.join(project, ".pulumi-home"),
            ...(motoEnv(endpoints.moto.url) as Record<string, string>),
          },
        },
      );
      await stack.setAllConfig({
        deploymentIdentity: { value: "arn:aws:iam::111122223333:role/astro-lake" },
        lakeRole: { value: roleArn },
        airflowUrl: { value: endpoints.airflow3.url },
        airflowUser: { value: endpoints.airflow3.username },
        "deployment-authorization:airflowPassword": { value: endpoints.airflow3.password, secret: true },
      });

      const up = await stack.up();
      expect(up.outputs.statementId!.value).toBe("AirflowDAAssumeRole");
      expect(up.outputs.connectionUrl!.value).toBe(`${endpoints.airflow3.url}/api/v2/connections/aws_lake`);
      expect((await stack.preview()).changeSummary).toEqual({ same: 3 });
      await stack.refresh();
      expect((await stack.preview()).changeSummary).toEqual({ same: 3 });

      // What this package writes names no path of this machine: the provider is a module reference.
      // (The engine's own `sourcePosition` and `stackTrace` records of where resources were declared do.)
      const state = JSON.parse(readFileSync(path.join(backend, ".pulumi/stacks/lake-access/dev.json"), "utf8")) as {
        checkpoint: { latest: { resources: Array<Record<string, unknown>> } };
      };
      const ours = state.checkpoint.latest.resources.map(({ sourcePosition: _p, stackTrace: _t, ...rest }) => rest);
      const text = JSON.stringify(ours);
      for (const place of [project, repoRoot, os.homedir(), os.tmpdir()]) expect(text).not.toContain(place);
      const dynamic = state.checkpoint.latest.resources.find((r) => String(r.type).startsWith("pulumi-nodejs:dynamic"));
      const provider = (dynamic!.inputs as { __provider: string }).__provider;
      expect(provider).toContain('require("pulumi-deployment-authorization/dynamic-provider")');
      expect(Buffer.byteLength(provider)).toBeLessThan(1024);

      await stack.destroy();
      expect(minify(await trustPolicyOf(iam, roleName))).toBe(minify(foreignPolicy()));
      expect(readdirSync(project)).toContain("node_modules");
    } finally {
      rmSync(project, { recursive: true, force: true });
    }
  });
});
