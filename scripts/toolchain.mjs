// The Pulumi CLI environment shared by the demo, the tests and the benchmark.
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import path from "node:path";

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** Builds (or finds) the CLI and returns an environment in which `pulumi` and its plugins resolve. */
export function pulumiEnv(base = process.env) {
  const out = execFileSync("bash", [path.join(repoRoot, "scripts/bootstrap/pulumi.sh")], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  const binDir = out.trim().split("\n").at(-1);
  // The dynamic-provider shim ships inside the @pulumi/pulumi package, not with the CLI.
  const shimDir = path.join(repoRoot, "node_modules/@pulumi/pulumi");
  return {
    ...base,
    PATH: [binDir, shimDir, base.PATH].join(path.delimiter),
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK: "true",
    PULUMI_CLI_PATH: binDir,
    binDir,
  };
}

/** AWS SDK settings that point IAM and STS at the local moto server. */
export function motoEnv(motoUrl) {
  return {
    AWS_ENDPOINT_URL_IAM: motoUrl,
    AWS_ENDPOINT_URL_STS: motoUrl,
    AWS_ACCESS_KEY_ID: "testing",
    AWS_SECRET_ACCESS_KEY: "testing",
    AWS_REGION: "us-east-1",
  };
}
