import type * as pulumi from "@pulumi/pulumi";

/**
 * The dynamic provider as state refers to it when this package is installed. Pulumi serializes an
 * object that is a whole module's exports under node_modules as a `require()` of that module, so
 * `__provider` is a reference of a few hundred bytes instead of code, and refresh and destroy run
 * the installed version. The methods load the provider (and its SDKs) only when the engine calls.
 */
type Provider = Required<pulumi.dynamic.ResourceProvider>;

// eslint-disable-next-line @typescript-eslint/no-require-imports
const load = (): Provider => require("../provider/runtime").provider;

export const configure: Provider["configure"] = (req) => load().configure(req);
export const check: Provider["check"] = (olds, news) => load().check(olds, news);
export const diff: Provider["diff"] = (id, olds, news) => load().diff(id, olds, news);
export const create: Provider["create"] = (inputs) => load().create(inputs);
export const read: Provider["read"] = (id, props) => load().read(id, props);
export const update: Provider["update"] = (id, olds, news) => load().update(id, olds, news);
const remove: Provider["delete"] = (id, props) => load().delete(id, props);
export { remove as delete };
