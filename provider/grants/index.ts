import type { GrantPlugin } from "../core/types";
import { awsPlugin } from "./aws";
import { azurePlugin } from "./azure";
import { gcpPlugin } from "./gcp";

/** Every cloud this version can grant in, by its input key. Adding a cloud is adding its plug-in here. */
export const GRANT_PLUGINS: ReadonlyArray<GrantPlugin> = [
  awsPlugin as GrantPlugin,
  gcpPlugin as GrantPlugin,
  azurePlugin as GrantPlugin,
];
