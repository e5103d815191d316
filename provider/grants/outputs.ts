import type { GrantOutputs } from "../core/types";
import { awsOutputs } from "./aws/outputs";
import { azureOutputs } from "./azure/outputs";
import { gcpOutputs } from "./gcp/outputs";

/**
 * What the component shows of each cloud's authorization, by the cloud's input key. Kept apart from
 * the plug-ins because the Pulumi program loads it: the plug-ins' schemas (and zod) stay in the provider.
 */
export const GRANT_OUTPUTS: ReadonlyMap<string, GrantOutputs> = new Map([
  ["aws", awsOutputs as GrantOutputs],
  ["gcp", gcpOutputs as GrantOutputs],
  ["azure", azureOutputs as GrantOutputs],
]);

/** The clouds a grant can be in, in the order the component looks for them in its arguments. */
export const GRANT_CLOUDS: readonly string[] = [...GRANT_OUTPUTS.keys()];
