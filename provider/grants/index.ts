import type { CloudModule } from "../core/cloud";
import type { GrantBase, GrantOutput, GrantPlanner, Resolved } from "../core/types";
import { awsCloud } from "./aws";
import { azureCloud } from "./azure";
import { gcpCloud } from "./gcp";

/**
 * Every cloud this version can grant in, each whole in one module object. The provider, the
 * component and the command line iterate this list; adding a cloud is adding its folder and its
 * module here. The order is the one the component looks for a cloud in its arguments.
 */
export const BUILT_IN_CLOUDS = [awsCloud, gcpCloud, azureCloud] as const;

const clouds: CloudModule[] = [...BUILT_IN_CLOUDS].map((c) => c as unknown as CloudModule);

/** The clouds known now: the built-in ones, then those registered, in order. */
export function cloudModules(): readonly CloudModule[] {
  return clouds;
}

/**
 * Adds a cloud that is not built in, for this process: providers, components and discoveries made
 * afterwards know it. Its key must be new.
 */
export function registerCloud<Input, G extends GrantBase, R extends Resolved, O extends GrantOutput, Remote>(
  cloud: CloudModule<Input, G, R, O, Remote>,
): void {
  if (clouds.some((c) => c.cloud === cloud.cloud)) throw new Error(`a cloud "${cloud.cloud}" is registered already`);
  // The list holds every cloud by the core's view of it: the grant and facts are the cloud's own.
  clouds.push(cloud as unknown as CloudModule);
}

/** The module of a cloud by its key, if known. */
export function cloudModule(cloud: string): CloudModule | undefined {
  return clouds.find((c) => c.cloud === cloud);
}

/** The built-in clouds once their inputs are planned: what `diff`, `read`, `update` and `delete` need. */
export const GRANT_PLANNERS: ReadonlyArray<GrantPlanner> = BUILT_IN_CLOUDS.map((c) => c.planner as GrantPlanner);
