import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { TestProject } from "vitest/node";
// @ts-expect-error plain ESM scripts without type declarations
import { startSandbox, stopSandbox } from "../../scripts/sandbox.mjs";
// @ts-expect-error plain ESM scripts without type declarations
import { pulumiEnv, repoRoot } from "../../scripts/toolchain.mjs";

export interface Endpoints {
  moto: { url: string };
  airflow3: { url: string; username: string; password: string };
  airflow2: { url: string; username: string; password: string };
  /** url: Prism, validating against Google's discovery documents (the clients' rootUrl); fakeUrl: the fake, for /_fake/. */
  gcp: { url: string; fakeUrl: string };
  /**
   * url: the https front (the SDKs' endpoint), through Prism, validating against
   * tests/fakes/azure/openapi.json; fakeUrl: the fake over http, for /_fake/; caFile: the CA
   * that signed the front's certificate; tenantId: the fake's one tenant.
   */
  azure: { url: string; fakeUrl: string; caFile: string; tenantId: string };
  /**
   * url: the Astro Platform API base through Prism (http://127.0.0.1:<port>/v1), validating
   * against tests/fakes/astro/openapi.yaml; fakeUrl: the fake, for /_fake/; token: a bearer token
   * it takes.
   */
  astro: { url: string; fakeUrl: string; token: string };
}

declare module "vitest" {
  export interface ProvidedContext {
    endpoints: Endpoints;
    pulumiPath: string;
    pulumiBin: string;
  }
}

/** Starts the sandbox servers (or reuses running ones) and the Pulumi toolchain for contract and e2e tests. */
export default async function setup(project: TestProject) {
  const dir = process.env.SANDBOX_DIR ?? path.join(repoRoot as string, ".sandbox");
  const reused = existsSync(path.join(dir, "endpoints.json"));
  const endpoints = (await startSandbox({ dir })) as Endpoints;
  trustSandboxCa(endpoints.azure.caFile, dir);
  const env = pulumiEnv() as { PATH: string; binDir: string };
  project.provide("endpoints", endpoints);
  project.provide("pulumiPath", env.PATH);
  project.provide("pulumiBin", env.binDir);
  return async () => {
    if (!reused) await stopSandbox({ dir });
  };
}

/**
 * Makes the test workers trust the CA of the sandbox's https front. Node reads NODE_EXTRA_CA_CERTS
 * only when a process starts, and vitest forks its workers after the global setup, from this
 * process's environment. A CA file set already (a corporate proxy's) is kept, in one bundle.
 */
function trustSandboxCa(caFile: string, dir: string) {
  const current = process.env.NODE_EXTRA_CA_CERTS;
  if (!current || current === caFile) {
    process.env.NODE_EXTRA_CA_CERTS = caFile;
    return;
  }
  const bundle = path.join(dir, "tls", "bundle.pem");
  if (current === bundle) return;
  writeFileSync(bundle, `${readFileSync(current, "utf8").trimEnd()}\n${readFileSync(caFile, "utf8")}`);
  process.env.NODE_EXTRA_CA_CERTS = bundle;
}
