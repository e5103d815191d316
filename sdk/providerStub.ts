import { existsSync } from "node:fs";
import * as path from "node:path";
import type * as pulumi from "@pulumi/pulumi";

const PACKAGE = "pulumi-deployment-authorization";

/**
 * Where the provider process finds the provider code. Installed as a package, the package name, so
 * refresh and destroy run whatever version is installed then; inside this repository (examples,
 * tests), the compiled file itself.
 */
export function providerModuleId(cwd: string = process.cwd()): string {
  // The provider process resolves from its working directory through node_modules only (no
  // self-reference by package name), so look exactly where it will look.
  for (let dir = path.resolve(cwd); ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, "node_modules", PACKAGE, "package.json"))) return `${PACKAGE}/provider`;
    if (path.dirname(dir) === dir) return path.resolve(__dirname, "..", "provider", "index.js");
  }
}

/**
 * The object Pulumi serializes into `__provider`. Its methods only `require()` the provider module
 * when they run, so state holds this small stub instead of the provider and its SDKs.
 */
export function providerStub(moduleId: string): pulumi.dynamic.ResourceProvider {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const load = () => require(moduleId).provider;
  return {
    configure: (req) => load().configure(req),
    check: (olds, news) => load().check(olds, news),
    diff: (id, olds, news) => load().diff(id, olds, news),
    create: (inputs) => load().create(inputs),
    read: (id, props) => load().read(id, props),
    update: (id, olds, news) => load().update(id, olds, news),
    delete: (id, props) => load().delete(id, props),
  };
}
