import type { z } from "zod";
import { pluginOf, type CloudModule } from "./core/cloud";
import { ParseResult, inputsSchema, parseWith } from "./core/schema";
import type { CloudInputs, GrantPlanner, GrantPlugin } from "./core/types";
import { BUILT_IN_CLOUDS } from "./grants";
import { awsInputs } from "./grants/aws/inputs";
import { azureInputs } from "./grants/azure/inputs";
import { gcpInputs } from "./grants/gcp/inputs";

/**
 * The built-in clouds' inputs, imported here rather than loaded, so that `parseInputs` and the
 * schema stay synchronous values: this module is what the first `check` loads, and with it zod.
 */
const BUILT_IN_INPUTS: Readonly<Record<string, CloudInputs>> = {
  aws: awsInputs as CloudInputs,
  gcp: gcpInputs as CloudInputs,
  azure: azureInputs as CloudInputs,
};

/** The built-in clouds' plug-ins: each cloud's planner with its inputs. */
export const GRANT_PLUGINS: ReadonlyArray<GrantPlugin> = BUILT_IN_CLOUDS.map((c) =>
  pluginOf(c.planner as GrantPlanner, BUILT_IN_INPUTS[c.cloud]!),
);

/**
 * The one definition of the resource's inputs: `check` validates with it, the SDK derives its types from it.
 * Typed by name, so the declaration files point at inputsSchema's type, which keeps each field's JSDoc.
 */
export const authorizationInputsSchema: ReturnType<typeof inputsSchema> = inputsSchema(GRANT_PLUGINS);

export type AuthorizationInputs = z.infer<typeof authorizationInputsSchema>;

export function parseInputs(raw: unknown): ParseResult<AuthorizationInputs> {
  return parseWith(GRANT_PLUGINS, authorizationInputsSchema, raw);
}

/** The parser over any list of clouds (the built-in ones and those registered), each one's inputs loaded. */
export async function loadInputParser(clouds: readonly CloudModule[]): Promise<(raw: unknown) => ParseResult<unknown>> {
  const plugins = await Promise.all(clouds.map(async (c) => pluginOf(c.planner, await c.loadInputs())));
  const schema = inputsSchema(plugins);
  return (raw) => parseWith(plugins, schema, raw);
}
