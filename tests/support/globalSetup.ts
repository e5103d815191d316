import { existsSync } from "node:fs";
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
  const env = pulumiEnv() as { PATH: string; binDir: string };
  project.provide("endpoints", endpoints);
  project.provide("pulumiPath", env.PATH);
  project.provide("pulumiBin", env.binDir);
  return async () => {
    if (!reused) await stopSandbox({ dir });
  };
}
