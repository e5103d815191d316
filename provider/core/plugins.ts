import { AuthorizationError } from "./errors";
import type { GrantPlugin } from "./types";

export function pluginFor(plugins: ReadonlyMap<string, GrantPlugin>, cloud: string): GrantPlugin {
  const plugin = plugins.get(cloud);
  if (!plugin) {
    throw new AuthorizationError(
      "INVALID_INPUT",
      `this version of pulumi-deployment-authorization cannot grant in "${cloud}" (it knows ` +
        `${[...plugins.keys()].join(", ")}): the stack was written by a newer version; install that version again`,
    );
  }
  return plugin;
}
