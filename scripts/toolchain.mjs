// The Pulumi CLI environment shared by the demo, the tests and the benchmark.
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, readFileSync } from "node:fs";
import os from "node:os";
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
  return {
    ...base,
    PATH: [binDir, ...shimDirs(binDir), base.PATH].join(path.delimiter),
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK: "true",
    PULUMI_CLI_PATH: binDir,
    binDir,
  };
}

/**
 * The dynamic-provider shim ships inside the @pulumi/pulumi package, not with a CLI built from
 * source. Beside a CLI we built, a copy of it is found like a bundled plugin; the shim itself
 * finds @pulumi/pulumi from the program's directory, so one copy serves every clone. A CLI from
 * elsewhere is left alone and the shim goes on PATH instead.
 */
function shimDirs(binDir) {
  const shimDir = path.join(repoRoot, "node_modules/@pulumi/pulumi");
  const shim = path.join(shimDir, "pulumi-resource-pulumi-nodejs");
  const cacheRoot = path.join(
    process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache"),
    "deployment-authorization",
  );
  if (!binDir.startsWith(cacheRoot)) return [shimDir];
  const beside = path.join(binDir, "pulumi-resource-pulumi-nodejs");
  if (!existsSync(beside) || !readFileSync(beside).equals(readFileSync(shim))) copyFileSync(shim, beside);
  return [];
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

/** Google client settings that point Cloud Resource Manager and IAM at the sandbox's gcp server. */
export function gcpEnv(url) {
  return {
    DEPLOYMENT_AUTHORIZATION_GCP_ROOT_URL: url,
    GOOGLE_OAUTH_ACCESS_TOKEN: "sandbox-gcp-token",
  };
}

/**
 * Azure SDK settings that point Resource Manager at the sandbox's azure server: its https front
 * (any non-empty bearer token is accepted) and the throwaway CA that signed the front's certificate,
 * which Node reads only when a process starts.
 */
export function azureEnv(url, caFile) {
  return {
    DEPLOYMENT_AUTHORIZATION_AZURE_ENDPOINT: url,
    DEPLOYMENT_AUTHORIZATION_AZURE_ACCESS_TOKEN: "sandbox-azure-token",
    NODE_EXTRA_CA_CERTS: caFile,
  };
}

/**
 * Astro Platform API settings that point the provider at the sandbox's astro server: `url` is the
 * API base through Prism (http://127.0.0.1:<port>/v1, in place of https://api.astronomer.io/v1),
 * and the fake takes any bearer token.
 */
export function astroEnv(url) {
  return {
    DEPLOYMENT_AUTHORIZATION_ASTRO_API_URL: url,
    ASTRO_API_TOKEN: "sandbox-astro-token",
  };
}
