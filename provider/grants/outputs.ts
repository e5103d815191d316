import type { GrantBase, GrantOutput, Resolved } from "../core/types";
import { awsGrantOutput } from "./aws/outputs";
import { azureGrantOutput } from "./azure/outputs";
import { gcpGrantOutput } from "./gcp/outputs";

type GrantOutputFn = (grant: GrantBase, resolved: Resolved) => GrantOutput;

/**
 * What the component shows of each cloud's grant, by the cloud's input key. Kept apart from the
 * plug-ins because the Pulumi program loads it: the plug-ins' schemas (and zod) stay in the provider.
 */
export const GRANT_OUTPUTS: ReadonlyMap<string, GrantOutputFn> = new Map([
  ["aws", awsGrantOutput as GrantOutputFn],
  ["gcp", gcpGrantOutput as GrantOutputFn],
  ["azure", azureGrantOutput as GrantOutputFn],
]);

/** The clouds a grant can be in, in the order the component looks for them in its arguments. */
export const GRANT_CLOUDS: readonly string[] = [...GRANT_OUTPUTS.keys()];
