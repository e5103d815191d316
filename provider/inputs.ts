import type { z } from "zod";
import { ParseResult, inputsSchema, parseWith } from "./core/schema";
import { GRANT_PLUGINS } from "./grants";

/**
 * The one definition of the resource's inputs: `check` validates with it, the SDK derives its types from it.
 * Typed by name, so the declaration files point at inputsSchema's type, which keeps each field's JSDoc.
 */
export const authorizationInputsSchema: ReturnType<typeof inputsSchema> = inputsSchema(GRANT_PLUGINS);

export type AuthorizationInputs = z.infer<typeof authorizationInputsSchema>;

export function parseInputs(raw: unknown): ParseResult<AuthorizationInputs> {
  return parseWith(GRANT_PLUGINS, authorizationInputsSchema, raw);
}
