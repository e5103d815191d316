import { AuthorizationError } from "./errors";

export function pluginFor<P extends { readonly cloud: string }>(plugins: ReadonlyMap<string, P>, cloud: string): P {
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
