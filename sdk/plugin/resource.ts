import type * as pulumi from "@pulumi/pulumi";
import type { ProviderMethods } from "../../provider/core/provider";
import type { AuthorizationState, PlannedAuthorization } from "../../provider/core/types";
import { markSecret, unwrapProperties } from "./secrets";

/** The plugin's own resource type for what the dynamic resource does in a Node.js program. */
export const AUTHORIZATION_TYPE = "deployment-authorization:index:Authorization";

/** Always secret, whatever the program marked: the tokens and passwords the connection is written with. */
const ALWAYS_SECRET = ["credentials"];

type ResourceMethods = Required<
  Pick<pulumi.provider.Provider, "check" | "diff" | "create" | "read" | "update" | "delete">
>;

/**
 * The CRUD of `deployment-authorization:index:Authorization`: the dynamic provider's methods, which
 * work on plain values, with the engine's secrets unwrapped on the way in and marked again on the
 * way out. Nothing else happens here: validation, planning and the lifecycle are the provider's.
 */
export function servedResource(load: () => ProviderMethods): ResourceMethods {
  const ensureType = (urn: string) => {
    const type = urn.split("::")[2]?.split("$").at(-1);
    if (type !== AUTHORIZATION_TYPE) throw new Error(`unknown resource type ${type ?? urn}`);
  };
  const secretOut = (keys: Set<string>) => new Set([...keys, ...ALWAYS_SECRET]);
  return {
    async check(urn, olds, news) {
      ensureType(urn);
      const given = unwrapProperties(news);
      const result = await load().check(unwrapProperties(olds).plain, given.plain);
      return {
        ...result,
        ...(result.inputs ? { inputs: markSecret(result.inputs, secretOut(given.secretKeys)) } : {}),
      };
    },
    async diff(_id, urn, olds, news) {
      ensureType(urn);
      const decision = await load().diff(
        _id,
        unwrapProperties(olds).plain as unknown as AuthorizationState,
        unwrapProperties(news).plain as unknown as PlannedAuthorization,
      );
      return decision;
    },
    async create(urn, inputs) {
      ensureType(urn);
      const given = unwrapProperties(inputs);
      const { id, outs } = await load().create(given.plain as unknown as PlannedAuthorization);
      return { id, outs: markSecret(outs as unknown as Record<string, unknown>, secretOut(given.secretKeys)) };
    },
    async read(id, urn, props) {
      ensureType(urn);
      const stored = unwrapProperties(props);
      const found = await load().read(id, stored.plain as unknown as AuthorizationState);
      const keys = secretOut(stored.secretKeys);
      return {
        id: found.id,
        props: markSecret(found.props as unknown as Record<string, unknown>, keys),
        inputs: markSecret(found.inputs, keys),
      };
    },
    async update(id, urn, olds, news) {
      ensureType(urn);
      const given = unwrapProperties(news);
      const { outs } = await load().update(
        id,
        unwrapProperties(olds).plain as unknown as AuthorizationState,
        given.plain as unknown as PlannedAuthorization,
      );
      return { outs: markSecret(outs as unknown as Record<string, unknown>, secretOut(given.secretKeys)) };
    },
    async delete(id, urn, props) {
      ensureType(urn);
      await load().delete(id, unwrapProperties(props).plain as unknown as AuthorizationState);
    },
  };
}
