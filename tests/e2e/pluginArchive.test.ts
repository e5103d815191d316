import { execFile } from "node:child_process";
import { createReadStream, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createRole, iamClient, trustPolicyOf, uniqueName } from "../support/aws";
import { foreignPolicy } from "../support/fixtures";
import { languageStack } from "../support/languagePrograms";
import { repoRoot } from "../support/pulumiProgram";
import { languagesToolchain, motoEnv } from "../../scripts/toolchain.mjs";

const run = promisify(execFile);
const { version } = JSON.parse(readFileSync(path.join(repoRoot, "package.json"), "utf8")) as { version: string };

let work: string;
let archives: string;
beforeAll(async () => {
  languagesToolchain();
  work = mkdtempSync(path.join(os.tmpdir(), "da-plugin-archive-"));
  archives = path.join(work, "release");
  await run("bash", [path.join(repoRoot, "scripts/plugin-archive.sh"), archives], { maxBuffer: 16 * 1024 * 1024 });
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** `pulumi plugin install resource deployment-authorization <version> ...` into a PULUMI_HOME of its own. */
async function install(home: string, ...how: string[]) {
  const env = { ...process.env, PATH: inject("pulumiPath"), PULUMI_HOME: home, PULUMI_SKIP_UPDATE_CHECK: "true" };
  const pulumi = path.join(inject("pulumiBin"), "pulumi");
  await run(pulumi, ["plugin", "install", "resource", "deployment-authorization", version, ...how], { env });
  return (await run(pulumi, ["plugin", "ls", "--json"], { env })).stdout;
}

describe("the provider plugin's release archive", () => {
  it("is one archive per os and arch, named as the CLI downloads it", () => {
    expect(readdirSync(archives).sort()).toEqual(
      ["darwin-amd64", "darwin-arm64", "linux-amd64", "linux-arm64"].map(
        (platform) => `pulumi-resource-deployment-authorization-v${version}-${platform}.tar.gz`,
      ),
    );
  });

  it("installs with --file, and from a release's download URL (--server), and a YAML program runs on it with nothing else", async () => {
    const fromFile = path.join(work, "home-file");
    const archive = path.join(archives, `pulumi-resource-deployment-authorization-v${version}-linux-amd64.tar.gz`);
    expect(JSON.parse(await install(fromFile, "--file", archive))).toEqual([
      expect.objectContaining({ name: "deployment-authorization", kind: "resource", version }),
    ]);

    // The download URL form: <server>/pulumi-resource-<name>-v<version>-<os>-<arch>.tar.gz.
    const requested: string[] = [];
    const server = createServer((req, res) => {
      requested.push(req.url ?? "");
      const file = path.join(archives, path.basename(req.url ?? ""));
      if (!readdirSync(archives).includes(path.basename(file))) return void res.writeHead(404).end();
      res.writeHead(200, { "content-type": "application/gzip", "content-length": statSync(file).size });
      createReadStream(file).pipe(res);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const fromUrl = path.join(work, "home-url");
    try {
      const { port } = server.address() as AddressInfo;
      await install(fromUrl, "--server", `http://127.0.0.1:${port}/`);
    } finally {
      server.close();
    }
    expect(requested).toEqual([`/pulumi-resource-deployment-authorization-v${version}-linux-amd64.tar.gz`]);

    const roleName = uniqueName("archive");
    const moto = inject("endpoints").moto.url;
    const roleArn = await createRole(iamClient(moto), roleName, foreignPolicy());
    const airflow = inject("endpoints").airflow3;
    const stack = await languageStack({
      language: "yaml",
      program: readFileSync(path.join(repoRoot, "tests/e2e/programs/yaml/aws.yaml"), "utf8"),
      stackName: "dev",
      config: {
        workloadIdentity: { value: "arn:aws:iam::111122223333:role/astro-archive-1" },
        targetRole: { value: roleArn },
        connectionId: { value: `aws_${roleName.replace(/-/g, "_")}` },
        description: { value: "From the installed plugin" },
        airflowUrl: { value: airflow.url },
        airflowUsername: { value: airflow.username },
        airflowPassword: { value: airflow.password, secret: true },
      },
      env: motoEnv(moto) as Record<string, string>,
      pulumiHome: fromUrl,
    });
    try {
      const up = await stack.cli(["up", "--yes"]);
      expect(up.code, up.stderr).toBe(0);
      expect(up.stderr + up.stdout).not.toContain("from $PATH");
      expect(JSON.stringify(await trustPolicyOf(iamClient(moto), roleName))).toContain("astro-archive-1");
      const destroy = await stack.cli(["destroy", "--yes"]);
      expect(destroy.code, destroy.stderr).toBe(0);
      expect(await trustPolicyOf(iamClient(moto), roleName)).toEqual(foreignPolicy());
    } finally {
      stack.dispose();
    }
  });
});
