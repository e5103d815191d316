import type { GrantPlanner } from "../core/types";
import { awsPlanner } from "./aws/planner";
import { azurePlanner } from "./azure/planner";
import { gcpPlanner } from "./gcp/planner";

/**
 * Every cloud this version can grant in, once its inputs are planned: what `diff`, `read`, `update`
 * and `delete` need. It loads no schema; `GRANT_PLUGINS` adds the validation `check` runs.
 */
export const GRANT_PLANNERS: ReadonlyArray<GrantPlanner> = [
  awsPlanner as GrantPlanner,
  gcpPlanner as GrantPlanner,
  azurePlanner as GrantPlanner,
];
