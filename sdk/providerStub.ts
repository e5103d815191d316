import { existsSync } from "node:fs";
import * as path from "node:path";
import type * as pulumi from "@pulumi/pulumi";
import * as dynamicProvider from "./dynamicProvider";

const PACKAGE = "pulumi-deployment-authorization";

/**
 * Where the provider process finds the provider code. Installed as a package, the package name, so
 * refresh and destroy run whatever version is installed then; inside this repository (examples,
 * tests), the compiled file itself.
 */
export function providerModuleId(cwd: string = process.cwd(), self: string = __dirname): string {
  // Installed as a package, always by name: the Automation helper makes an inline program's
  // provider process find it (NODE_PATH), whatever the working directory.
  if (self.split(path.sep).join("/").includes(`/node_modules/${PACKAGE}/`)) return `${PACKAGE}/provider`;
  // The provider process resolves from its working directory through node_modules only (no
  // self-reference by package name), so look exactly where it will look.
  for (let dir = path.resolve(cwd); ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, "node_modules", PACKAGE, "package.json"))) return `${PACKAGE}/provider`;
    if (path.dirname(dir) === dir) return path.resolve(self, "..", "provider", "runtime.js");
  }
}

/** The node_modules folder this package is installed in; undefined when run from its own repository. */
export function installedIn(self: string = __dirname): string | undefined {
  const parts = path.resolve(self).split(path.sep);
  const at = parts.lastIndexOf(PACKAGE);
  return at > 0 && parts[at - 1] === "node_modules" ? parts.slice(0, at).join(path.sep) : undefined;
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

/**
 * The provider object a resource serializes into state. Installed as a package, the exports of
 * `./dynamic-provider`, which Pulumi writes as a `require()` of that module (a few hundred bytes);
 * run from this repository, the stub above with the compiled file's path.
 */
export function serializedProvider(
  self: string = __dirname,
  cwd: string = process.cwd(),
): pulumi.dynamic.ResourceProvider {
  if (installedIn(self)) return dynamicProvider;
  // One object per module id: Pulumi caches the serialized text by object, and serializing a
  // closure costs tens of milliseconds, which a program with hundreds of resources would pay each time.
  const moduleId = providerModuleId(cwd, self);
  let stub = stubs.get(moduleId);
  if (!stub) stubs.set(moduleId, (stub = providerStub(moduleId)));
  return stub;
}

const stubs = new Map<string, pulumi.dynamic.ResourceProvider>();
