import type { GrantPlugin } from "../core/types";
import { awsPlugin } from "./aws";
import { azurePlugin } from "./azure";
import { gcpPlugin } from "./gcp";

/**
 * Every cloud this version can grant in, with the schema `check` validates with. Adding a cloud is
 * adding its plug-in here and its planner to `GRANT_PLANNERS`.
 */
export const GRANT_PLUGINS: ReadonlyArray<GrantPlugin> = [
  awsPlugin as GrantPlugin,
  gcpPlugin as GrantPlugin,
  azurePlugin as GrantPlugin,
];
