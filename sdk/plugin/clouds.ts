import { GRANT_PLUGINS } from "../../provider/inputs";
import type { CloudSchemaPiece } from "./schema";

/** Where the package schema takes each cloud's inputs from: every cloud this version grants in. */
export const cloudSchemaPieces = (): CloudSchemaPiece[] =>
  GRANT_PLUGINS.map((plugin) => ({ cloud: plugin.cloud, schema: plugin.schema }));
