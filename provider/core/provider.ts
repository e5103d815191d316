import { AuthorizationError } from "./errors";
import { AmbientCredentials, AuthorizationLifecycle } from "./lifecycle";
import { DiffDecision, ValidInputs, diffAuthorization, planAuthorization } from "./plan";
import { type CheckFailure, describeFailure } from "./checkFailure";
import type { ParseResult } from "./schema";
import type { AuthorizationState, Drivers, GrantBase, GrantPlanner, PlannedAuthorization } from "./types";

/** The stack config namespace the provider reads in `configure`. */
export const CONFIG_NAMESPACE = "deployment-authorization";

const PROVIDER_KEY = "__provider";

interface ConfigureRequest {
  config: { get(key: string): string | undefined };
}

/** The dynamic provider's methods; `G` narrows the grant for callers that know their cloud. */
export interface ProviderMethods<G extends GrantBase = GrantBase> {
  configure(req: ConfigureRequest): Promise<void>;
  check(
    olds: unknown,
    news: Record<string, unknown>,
  ): Promise<{ inputs?: Record<string, unknown>; failures?: CheckFailure[] }>;
  diff(id: string, olds: AuthorizationState<G>, news: PlannedAuthorization<G>): Promise<DiffDecision>;
  create(inputs: PlannedAuthorization<G>): Promise<{ id: string; outs: AuthorizationState<G> }>;
  read(
    id: string,
    props: AuthorizationState<G>,
  ): Promise<{ id: string; props: AuthorizationState<G>; inputs: Record<string, unknown> }>;
  update(
    id: string,
    olds: AuthorizationState<G>,
    news: PlannedAuthorization<G>,
  ): Promise<{ outs: AuthorizationState<G> }>;
  delete(id: string, props: AuthorizationState<G>): Promise<void>;
}

/** Provider settings by key (`awsTrustPolicySizeQuota`, ...): stack config first, then the environment. */
export type ProviderSettings = (key: string) => string | undefined;

/** Validates the inputs of `check` and picks the cloud's plug-in, with which they are planned. */
export type InputParser = (raw: unknown) => ParseResult<unknown>;

/**
 * Thin provider methods: `check` validates and plans (no remote call), the rest hand the plan to the
 * lifecycle over the drivers that `makeDrivers` builds once, after `configure`. `loadParser` runs on
 * the first `check`: a refresh or a destroy, which run none, do not load the schemas.
 */
export function createProvider(options: {
  /** The clouds' planners, or where to read them when first needed (a registry that may grow). */
  planners: ReadonlyArray<GrantPlanner> | (() => ReadonlyArray<GrantPlanner>);
  loadParser: () => InputParser | Promise<InputParser>;
  makeDrivers: (settings: ProviderSettings) => Drivers;
  env?: NodeJS.ProcessEnv;
}): ProviderMethods {
  const env = options.env ?? process.env;
  let known: ReadonlyMap<string, GrantPlanner> | undefined;
  const plugins = () => {
    const planners = typeof options.planners === "function" ? options.planners() : options.planners;
    return (known ??= new Map(planners.map((p) => [p.cloud, p])));
  };
  let parse: Promise<InputParser> | undefined;
  let config: ProviderSettings = () => undefined;
  let ambient: AmbientCredentials = fromEnvironment(env);
  let drivers: Drivers | undefined;
  /** The lifecycle, once the driver of the subject's cloud is ready (loaded on the first call that needs it). */
  const lifecycle = async (subject: { grant?: { cloud?: unknown } }) => {
    const made = (drivers ??= options.makeDrivers(config));
    const cloud = subject.grant?.cloud;
    if (typeof cloud === "string" && plugins().has(cloud)) await made.prepare?.(cloud);
    return new AuthorizationLifecycle(plugins(), made, ambient);
  };

  return {
    async configure(req) {
      const get = (key: string) => req.config.get(`${CONFIG_NAMESPACE}:${key}`) || undefined;
      const fromEnv = fromEnvironment(env);
      ambient = {
        token: get("airflowToken") ?? fromEnv.token,
        password: get("airflowPassword") ?? fromEnv.password,
        astroToken: get("astroToken") ?? fromEnv.astroToken,
      };
      config = get;
    },

    async check(_olds, news) {
      const { [PROVIDER_KEY]: _provider, ...raw } = news;
      const parsed = (await (parse ??= Promise.resolve(options.loadParser())))(raw);
      // The engine shows a failure's value only for a top-level property: each line carries its own.
      if (!parsed.ok) {
        return { inputs: news, failures: parsed.failures.map((f) => ({ property: "", reason: describeFailure(f) })) };
      }
      const planned = planAuthorization(parsed.plugin, parsed.value as ValidInputs);
      return { inputs: planned as unknown as Record<string, unknown> };
    },

    async diff(_id, olds, news) {
      return diffAuthorization(plugins(), withoutProvider(olds), withoutProvider(news));
    },

    create: (inputs) => coded(lifecycle(inputs).then((l) => l.create(withoutProvider(inputs)))),
    read: (id, props) =>
      coded(
        lifecycle(props)
          .then((l) => l.read(id, withoutProvider(props)))
          .then((result) => ({ ...result, inputs: result.inputs as unknown as Record<string, unknown> })),
      ),
    update: (id, olds, news) =>
      coded(lifecycle(news).then((l) => l.update(id, withoutProvider(olds), withoutProvider(news)))),
    delete: (id, props) => coded(lifecycle(props).then((l) => l.delete(id, withoutProvider(props)))),
  };
}

/**
 * The engine passes only an error's text on: it starts with the stable code, so programs (the
 * Automation helper, a portal) can tell a conflict from a missing role without parsing prose.
 */
async function coded<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (error) {
    if (error instanceof AuthorizationError && !error.message.startsWith(`${error.code}: `)) {
      error.message = `${error.code}: ${error.message}`;
    }
    throw error;
  }
}

function fromEnvironment(env: NodeJS.ProcessEnv): AmbientCredentials {
  return {
    token: env.AIRFLOW_API_TOKEN || undefined,
    password: env.AIRFLOW_API_PASSWORD || undefined,
    astroToken: env.ASTRO_API_TOKEN || undefined,
  };
}

function withoutProvider<T>(value: T): T {
  const { [PROVIDER_KEY]: _provider, ...rest } = value as Record<string, unknown>;
  return rest as T;
}
