import { AirflowConnectionsDriver } from "./drivers/airflowConnections";
import { AwsIamTrustDriver } from "./drivers/awsIamTrust";
import type { Drivers } from "./drivers/types";
import { AmbientCredentials, AuthorizationLifecycle } from "./lifecycle";
import { AuthorizationState, PlannedAuthorization, diffAuthorization, planAuthorization } from "./plan";
import { CheckFailure, parseInputs } from "./schema";

export { planAuthorization, diffAuthorization } from "./plan";
export { parseInputs, authorizationInputsSchema, UNKNOWN } from "./schema";
export type { AuthorizationInputs } from "./schema";
export type { AuthorizationState, PlannedAuthorization, ConnectionPayload } from "./plan";
export { AuthorizationLifecycle } from "./lifecycle";
export { AwsIamTrustDriver } from "./drivers/awsIamTrust";
export { AirflowConnectionsDriver } from "./drivers/airflowConnections";
export type { Drivers, TrustDriver, ConnectionDriver, ConnectionTarget } from "./drivers/types";

/** The stack config namespace the provider reads in `configure`. */
export const CONFIG_NAMESPACE = "deployment-authorization";

const PROVIDER_KEY = "__provider";

interface ConfigureRequest {
  config: { get(key: string): string | undefined };
}

export interface ProviderMethods {
  configure(req: ConfigureRequest): Promise<void>;
  check(
    olds: unknown,
    news: Record<string, unknown>,
  ): Promise<{ inputs?: Record<string, unknown>; failures?: CheckFailure[] }>;
  diff(id: string, olds: AuthorizationState, news: PlannedAuthorization): Promise<ReturnType<typeof diffAuthorization>>;
  create(inputs: PlannedAuthorization): Promise<{ id: string; outs: AuthorizationState }>;
  read(
    id: string,
    props: AuthorizationState,
  ): Promise<{ id: string; props: AuthorizationState; inputs: Record<string, unknown> }>;
  update(id: string, olds: AuthorizationState, news: PlannedAuthorization): Promise<{ outs: AuthorizationState }>;
  delete(id: string, props: AuthorizationState): Promise<void>;
}

/** Provider methods over the given drivers; the real provider below uses the real ones. */
export interface ProviderSettings {
  /** Overrides the account's trust policy length quota (stack config awsTrustPolicySizeQuota). */
  policySizeQuota?: number;
}

export function createProvider(
  makeDrivers: (settings: ProviderSettings) => Drivers,
  env: NodeJS.ProcessEnv = process.env,
): ProviderMethods {
  let ambient: AmbientCredentials = fromEnvironment(env);
  let settings: ProviderSettings = {};
  let drivers: Drivers | undefined;
  const lifecycle = () => new AuthorizationLifecycle((drivers ??= makeDrivers(settings)), ambient);

  return {
    async configure(req) {
      const get = (key: string) => req.config.get(`${CONFIG_NAMESPACE}:${key}`) || undefined;
      const fromEnv = fromEnvironment(env);
      ambient = { token: get("airflowToken") ?? fromEnv.token, password: get("airflowPassword") ?? fromEnv.password };
      const quota = Number(get("awsTrustPolicySizeQuota") ?? env.AWS_TRUST_POLICY_SIZE_QUOTA ?? Number.NaN);
      settings = Number.isInteger(quota) && quota > 0 ? { policySizeQuota: quota } : {};
    },

    async check(_olds, news) {
      const { [PROVIDER_KEY]: _provider, ...raw } = news;
      const parsed = parseInputs(raw);
      if (!parsed.ok) return { inputs: news, failures: parsed.failures };
      return { inputs: planAuthorization(parsed.value) as unknown as Record<string, unknown> };
    },

    async diff(_id, olds, news) {
      return diffAuthorization(olds, news);
    },

    create: (inputs) => lifecycle().create(withoutProvider(inputs)),
    read: async (id, props) => {
      const result = await lifecycle().read(id, withoutProvider(props));
      return { ...result, inputs: result.inputs as unknown as Record<string, unknown> };
    },
    update: (id, olds, news) => lifecycle().update(id, withoutProvider(olds), withoutProvider(news)),
    delete: (id, props) => lifecycle().delete(id, withoutProvider(props)),
  };
}

function fromEnvironment(env: NodeJS.ProcessEnv): AmbientCredentials {
  return { token: env.AIRFLOW_API_TOKEN || undefined, password: env.AIRFLOW_API_PASSWORD || undefined };
}

function withoutProvider<T>(value: T): T {
  const { [PROVIDER_KEY]: _provider, ...rest } = value as Record<string, unknown>;
  return rest as T;
}

/** The provider the SDK's serialized stub loads with require(): one per provider process. */
export const provider: ProviderMethods = createProvider((settings) => ({
  trust: new AwsIamTrustDriver({ policySizeQuota: settings.policySizeQuota }),
  connections: new AirflowConnectionsDriver(),
}));
