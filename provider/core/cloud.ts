import type { RemoteTuning } from "./remoteCall";
import type { CloudDiscovery } from "./discovery";
import type { SharedPolicyOptions } from "./policyStore";
import type { ProviderSettings } from "./provider";
import type {
  CloudInputs,
  GrantBase,
  GrantDriver,
  GrantOutput,
  GrantOutputs,
  GrantPlanner,
  GrantPlugin,
  Resolved,
} from "./types";
import type { z } from "zod";

/**
 * Retries, backoff and timeouts of every remote call, for all drivers at once. The defaults suit
 * production; a test that injects faults makes them small so that retries take milliseconds.
 */
/**
 * Retries, backoff and timeouts of every remote call, for all drivers at once, by the names every
 * driver takes (`core/remoteCall.ts`); what is left out keeps each remote's default. The defaults
 * suit production; a test that injects faults makes them small so that retries take milliseconds.
 */
export interface DriverTuning extends RemoteTuning {
  /** Read-back and batching of shared policy documents (IAM trust policies, Google IAM policies). */
  policy?: SharedPolicyOptions;
}

/** What the component's program can ask of the Pulumi engine, without the cloud module importing it. */
export interface ProgramContext {
  /** Stack config, such as `config("aws", "region")`. */
  config(namespace: string, key: string): string | undefined;
  /** Whether a value is a Pulumi output (whose properties are outputs too, so `"arn" in value` holds). */
  isOutput(value: unknown): boolean;
}

/** A cloud's arguments in the component, as loosely as the program gives them (values may be outputs). */
export type ProgramArgs = Record<string, unknown>;

/**
 * What the component does with this cloud's arguments (`Args`, as the program gives them: values
 * may be Pulumi outputs) before it hands them to the provider's `check`.
 */
export interface ProgramRules<Args extends object = ProgramArgs> {
  /** The arguments with the component's defaults filled in (from stack config, an `aws.iam.Role`'s ARN). */
  withDefaults(args: Args, program: ProgramContext): object;
  /**
   * With `deployment`: the arguments with what Astro tells filled in where the program left it out
   * (`fill` adds the named fields from the Deployment), and whether the grant is for the
   * Deployment's own workload identity (which the component then reads from Astro too).
   */
  withDeploymentFacts(
    args: Args,
    fill: (given: object, keys: ReadonlyArray<"issuerUrl" | "namespace">) => object,
  ): { args: object; needsWorkloadIdentity: boolean };
}

/**
 * One cloud, whole: everything the provider, the component and the command line know of it. Core,
 * runtime, component and command line iterate the list of these (`provider/grants/index.ts`) and
 * name no cloud. What a program or a refresh needs is here as values (no schema, no cloud SDK);
 * the schema, the driver's SDK and discovery are loaded when first used.
 */
export interface CloudModule<
  Input = unknown,
  G extends GrantBase = GrantBase,
  R extends Resolved = Resolved,
  Output extends GrantOutput = GrantOutput,
  Remote = unknown,
  Args extends object = ProgramArgs,
> {
  /** The input key that selects this cloud (`aws`, `gcp`); also `grant.cloud` in the plan. */
  readonly cloud: string;
  /** Once planned: replace and stale rules, claims, the review's words, the Deployment settings rules. */
  readonly planner: GrantPlanner<G, R>;
  /** The component's `grant` output and `connection.extra`, from state. */
  readonly outputs: GrantOutputs<G, R, Output>;
  /**
   * The schema of its `grant` output, each field described: the one definition of the output's type
   * (the SDK's) and of its documentation.
   */
  loadOutputSchema(): Promise<z.ZodType<Output>>;
  /** Its schema piece, refinements and planning: loaded by the first `check`. */
  loadInputs(): Promise<CloudInputs<Input, G>>;
  /** The component's defaults and what it fills in from the Astro Deployment; `Args` types the component's `<cloud>` argument. */
  readonly program: ProgramRules<Args>;
  /**
   * Where the cloud's API is and the credentials the environment holds for it, from stack config
   * (`deployment-authorization:*`) or the environment.
   */
  remoteSettings(settings: ProviderSettings, env: NodeJS.ProcessEnv): Remote;
  /** Its driver, over the remote the settings name; loads the cloud's SDK. */
  loadDriver(remote: Remote, tuning: DriverTuning): Promise<GrantDriver<G, R>>;
  /** What `discover` can find of hand-made grants in this cloud; absent: it finds none. */
  readonly discovery?: CloudDiscovery<Remote>;
}

/** The cloud's plug-in as the core plans and checks with it: its planner and its loaded inputs. */
export function pluginOf<Input, G extends GrantBase, R extends Resolved>(
  planner: GrantPlanner<G, R>,
  inputs: CloudInputs<Input, G>,
): GrantPlugin<Input, G, R> {
  return { ...planner, ...inputs };
}
