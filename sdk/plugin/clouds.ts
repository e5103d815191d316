import { GRANT_PLUGINS } from "../../provider/inputs";
import { cloudModule } from "../../provider/grants";
import type { CloudSchemaPiece } from "./schema";

/** Where the package schema takes each cloud's inputs and `grant` output from: every cloud this version grants in. */
export const cloudSchemaPieces = (): Promise<CloudSchemaPiece[]> =>
  Promise.all(
    GRANT_PLUGINS.map(async (plugin) => ({
      cloud: plugin.cloud,
      schema: plugin.schema,
      output: await cloudModule(plugin.cloud)!.loadOutputSchema(),
    })),
  );
