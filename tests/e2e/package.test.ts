import { LocalWorkspace, PulumiCommand, Stack } from "@pulumi/pulumi/automation";
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, inject, it } from "vitest";
import { AirflowConnectionsDriver } from "../../provider/connections/airflow";
import { minify } from "../../provider/grants/aws/trustPolicy";
import { airflowTarget } from "../support/airflow";
import { seedDeployment, storedEnvironmentObjects } from "../support/astro";
import { createRole, iamClient, trustPolicyOf, uniqueName } from "../support/aws";
import {
  createIdentity,
  foreignCredentials,
  seedRoleAssignment,
  storageAccountScope,
  storedCredentials,
  storedRoleAssignments,
} from "../support/azure";
import { AKS_ISSUER, foreignPolicy } from "../support/fixtures";
import { createProject, foreignProjectPolicy, storedPolicy } from "../support/gcp";
import { repoRoot } from "../support/pulumiProgram";
import { astroEnv, azureEnv, gcpEnv, motoEnv } from "../../scripts/toolchain.mjs";

const run = promisify(execFile);

/**
 * A TypeScript program as a user writes it in an infrastructure repository of their own: one
 * authorization on each cloud, and one whose connection lives in Astro's Environment Manager.
 */
const PROGRAM = `import * as pulumi from "@pulumi/pulumi";
import { version as sdkVersion } from "@pulumi/pulumi/version";
import { DeploymentAuthorization } from "pulumi-deployment-authorization";

const config = new pulumi.Config();
const suffix = config.require("suffix");
const description = config.get("description");
const airflow = (server: "airflow3" | "airflow2") => ({
  url: config.require(\`\${server}Url\`),
  auth: { kind: "password" as const, username: config.require("airflowUser") },
});

const lake = new DeploymentAuthorization("lake", {
  workloadIdentity: "arn:aws:iam::111122223333:role/astro-lake",
  aws: { targetRole: config.require("lakeRole"), region: "us-east-1" },
  connection: { connectionId: \`aws_lake_\${suffix}\`, description, airflow: airflow("airflow3") },
});
const warehouse = new DeploymentAuthorization("warehouse", {
  workloadIdentity: "astro-lake@astronomer-prod.iam.gserviceaccount.com",
  gcp: { project: config.require("gcpProject"), grant: { kind: "projectRole", role: "roles/bigquery.dataViewer" } },
  connection: { connectionId: \`gcp_warehouse_\${suffix}\`, description, airflow: airflow("airflow2") },
});
const blobs = new DeploymentAuthorization("blobs", {
  azure: {
    identity: config.require("azureIdentity"),
    issuerUrl: config.require("azureIssuer"),
    namespace: \`lake-\${suffix.replace(/_/g, "-")}\`,
    roleAssignment: { scope: config.require("azureScope"), role: "Storage Blob Data Reader" },
  },
  connection: { connectionId: \`azure_blobs_\${suffix}\`, description, airflow: airflow("airflow3") },
});
const astro = new DeploymentAuthorization("astro-lake", {
  workloadIdentity: "arn:aws:iam::111122223333:role/astro-lake",
  aws: { targetRole: config.require("lakeRole"), region: "us-east-1" },
  connection: {
    connectionId: "aws_lake",
    description,
    target: "astro",
    astro: { organizationId: config.require("astroOrganization"), deploymentId: config.require("astroDeployment") },
  },
});

export const statementId = lake.grant.statementId;
export const connectionUrls = [lake, warehouse, blobs, astro].map((a) => a.connection.url);
export const runtime = { node: process.version, sdk: sdkVersion };
`;

/** The stack, and a component over one dynamic resource for each authorization. */
const RESOURCES = 1 + 2 * 4;

describe("the packed package, installed into a project outside the repository", () => {
  it("holds the compiled SDK and provider with types; a TypeScript program on every cloud goes up, previews no change, refreshes, updates and destroys on the toolchain's Node.js and @pulumi/pulumi; what it puts in state names no path", async () => {
    const endpoints = inject("endpoints");
    const toolchain = inject("toolchain");
    const iam = iamClient(endpoints.moto.url);
    const suffix = uniqueName("p").replace("-", "_");
    const roleName = uniqueName("packed");
    const roleArn = await createRole(iam, roleName, foreignPolicy());
    const { projectId } = await createProject(endpoints.gcp.fakeUrl, { policy: foreignProjectPolicy() });
    const gcpBefore = await storedPolicy(endpoints.gcp.fakeUrl, { project: projectId });
    const foreign = foreignCredentials(1);
    const identity = await createIdentity(endpoints.azure.fakeUrl, { credentials: foreign });
    const scope = storageAccountScope(identity.subscriptionId, identity.resourceGroup, "lake");
    const foreignAssignment = await seedRoleAssignment(endpoints.azure.fakeUrl, { scope, role: "Reader" });
    const deployment = await seedDeployment(endpoints.astro.fakeUrl, { cloudProvider: "AWS" });
    const airflow = new AirflowConnectionsDriver();
    const airflowConnections = () =>
      Promise.all([
        airflow.read(airflowTarget("airflow3"), `aws_lake_${suffix}`),
        airflow.read(airflowTarget("airflow2"), `gcp_warehouse_${suffix}`),
        airflow.read(airflowTarget("airflow3"), `azure_blobs_${suffix}`),
      ]);
    const project = mkdtempSync(path.join(os.tmpdir(), "lake-access-"));
    // npm, the language host's `node` and the dynamic provider's are the toolchain's Node.js.
    const toolchainEnv = { ...process.env, PATH: inject("pulumiPath") };
    let stack: Stack | undefined;
    let destroyed = false;
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
          "dist/cli/main.js",
          "dist/provider/index.js",
          "dist/provider/index.d.ts",
          "dist/provider/runtime.js",
          "dist/sdk/plugin/main.js",
          "bin/pulumi-resource-deployment-authorization",
          "schema.json",
          "README.md",
          "CHANGELOG.md",
        ]),
      );
      expect(
        files.filter(
          (f) =>
            !/^(dist\/(sdk|cli|provider)\/|bin\/pulumi-resource-deployment-authorization$|schema\.json$|README\.md$|CHANGELOG\.md$|package\.json$)/.test(
              f,
            ),
        ),
      ).toEqual([]);

      writeFileSync(
        path.join(project, "package.json"),
        JSON.stringify({
          name: "lake-access",
          private: true,
          dependencies: {
            "@pulumi/pulumi": toolchain.sdk,
            "pulumi-deployment-authorization": `file:./${packed[0]!.filename}`,
          },
        }),
      );
      // Strict about engines: the package's and the SDK's must admit the toolchain's Node.js.
      await run(
        "npm",
        ["install", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error", "--engine-strict"],
        { cwd: project, env: toolchainEnv },
      );
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
      expect(pulumiCommand.version?.toString()).toBe(toolchain.cli.replace(/^v/, ""));
      stack = await LocalWorkspace.createOrSelectStack(
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
            ASTRO_API_TOKEN: "",
            ...(motoEnv(endpoints.moto.url) as Record<string, string>),
            ...(gcpEnv(endpoints.gcp.url) as Record<string, string>),
            ...(azureEnv(endpoints.azure.url, endpoints.azure.caFile) as Record<string, string>),
            ...(astroEnv(endpoints.astro.url) as Record<string, string>),
          },
        },
      );
      // The one password serves both Airflows.
      expect(endpoints.airflow2.password).toBe(endpoints.airflow3.password);
      await stack.setAllConfig({
        suffix: { value: suffix },
        lakeRole: { value: roleArn },
        gcpProject: { value: projectId },
        azureIdentity: { value: identity.id },
        azureIssuer: { value: AKS_ISSUER },
        azureScope: { value: scope },
        astroOrganization: { value: deployment.organizationId },
        astroDeployment: { value: deployment.id },
        airflow3Url: { value: endpoints.airflow3.url },
        airflow2Url: { value: endpoints.airflow2.url },
        airflowUser: { value: endpoints.airflow3.username },
        "deployment-authorization:airflowPassword": { value: endpoints.airflow3.password, secret: true },
        "deployment-authorization:astroToken": { value: endpoints.astro.token, secret: true },
      });

      const up = await stack.up();
      expect(up.summary.resourceChanges).toEqual({ create: RESOURCES });
      expect(up.outputs.runtime!.value).toEqual({ node: `v${toolchain.node}`, sdk: toolchain.sdk });
      expect(up.outputs.statementId!.value).toBe("AirflowDAAssumeRole");
      const urls = up.outputs.connectionUrls!.value as string[];
      expect(urls.slice(0, 3)).toEqual([
        `${endpoints.airflow3.url}/api/v2/connections/aws_lake_${suffix}`,
        `${endpoints.airflow2.url}/api/v1/connections/gcp_warehouse_${suffix}`,
        `${endpoints.airflow3.url}/api/v2/connections/azure_blobs_${suffix}`,
      ]);
      expect(urls[3]).toMatch(`${endpoints.astro.url}/organizations/${deployment.organizationId}/environment-objects/`);
      expect((await airflowConnections()).map((c) => c?.conn_type)).toEqual(["aws", "google_cloud_platform", "azure"]);
      expect((await storedEnvironmentObjects(endpoints.astro.fakeUrl, deployment.id)).map((o) => o.objectKey)).toEqual([
        "aws_lake",
      ]);
      expect((await stack.preview()).changeSummary).toEqual({ same: RESOURCES });
      expect((await stack.refresh()).summary.resourceChanges).toEqual({ same: RESOURCES });
      expect((await stack.preview()).changeSummary).toEqual({ same: RESOURCES });

      // An update changes every connection in place: no replacement, no grant touched.
      const trustBefore = JSON.stringify(await trustPolicyOf(iam, roleName));
      await stack.setConfig("description", { value: "lake access (v2)" });
      const updated = await stack.up();
      expect(updated.summary.resourceChanges).toEqual({ same: RESOURCES - 4, update: 4 });
      expect(JSON.stringify(await trustPolicyOf(iam, roleName))).toBe(trustBefore);
      for (const connection of await airflowConnections()) {
        expect(connection?.description).toMatch(/^lake access \(v2\)/);
      }
      expect((await stack.preview()).changeSummary).toEqual({ same: RESOURCES });

      // What this package writes names no path of this machine: the provider is a module reference.
      // (The engine's own `sourcePosition` and `stackTrace` records of where resources were declared do.)
      const state = JSON.parse(readFileSync(path.join(backend, ".pulumi/stacks/lake-access/dev.json"), "utf8")) as {
        checkpoint: { latest: { resources: Array<Record<string, unknown>> } };
      };
      const ours = state.checkpoint.latest.resources.map(({ sourcePosition: _p, stackTrace: _t, ...rest }) => rest);
      const text = JSON.stringify(ours);
      for (const place of [project, repoRoot, os.homedir(), os.tmpdir()]) expect(text).not.toContain(place);
      const dynamic = state.checkpoint.latest.resources.filter((r) =>
        String(r.type).startsWith("pulumi-nodejs:dynamic"),
      );
      expect(dynamic).toHaveLength(4);
      for (const resource of dynamic) {
        const provider = (resource.inputs as { __provider: string }).__provider;
        expect(provider).toContain('require("pulumi-deployment-authorization/dynamic-provider")');
        expect(Buffer.byteLength(provider)).toBeLessThan(1024);
      }

      expect((await stack.destroy()).summary.resourceChanges).toEqual({ delete: RESOURCES });
      destroyed = true;
      expect(minify(await trustPolicyOf(iam, roleName))).toBe(minify(foreignPolicy()));
      expect({ ...(await storedPolicy(endpoints.gcp.fakeUrl, { project: projectId })), etag: undefined }).toEqual({
        ...gcpBefore,
        etag: undefined,
      });
      expect((await storedCredentials(endpoints.azure.fakeUrl, identity.id)).map((c) => c.name)).toEqual(
        foreign.map((c) => c.name),
      );
      expect((await storedRoleAssignments(endpoints.azure.fakeUrl, scope)).map((a) => a.name)).toEqual([
        foreignAssignment.name,
      ]);
      expect(await storedEnvironmentObjects(endpoints.astro.fakeUrl, deployment.id)).toEqual([]);
      expect(await airflowConnections()).toEqual([undefined, undefined, undefined]);
      expect(readdirSync(project)).toContain("node_modules");
    } finally {
      // A failed step: take down what it made, so the shared sandbox keeps no test connections.
      if (stack && !destroyed) await stack.destroy().catch(() => undefined);
      rmSync(project, { recursive: true, force: true });
    }
  });
});
