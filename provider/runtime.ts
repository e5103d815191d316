/* eslint-disable @typescript-eslint/no-require-imports */
import { ProviderMethods, ProviderSettings, createProvider } from "./core/provider";
import type { CloudModule, DriverTuning } from "./core/cloud";
import type { ConnectionSink, ConnectionTargets, DeploymentSettingsDriver, Drivers, GrantDriver } from "./core/types";
import { cloudModules } from "./grants";

/**
 * The provider the serialized stub in state loads: one per provider process. A cloud's SDK is
 * loaded when a resource first needs that cloud, so a stack on one cloud does not wait for the
 * others' clients to load (a few hundred milliseconds before the first check); the schemas (zod)
 * are loaded by the first `check`, so a refresh or a destroy does without them.
 */
export const provider: ProviderMethods = createProvider({
  planners: () => cloudModules().map((c) => c.planner),
  loadParser: async () => (require("./inputs") as typeof import("./inputs")).loadInputParser(cloudModules()),
  makeDrivers: (settings) => realDrivers(settings),
});

export type { DriverTuning };

/** The connection drivers' modules, each loaded when a resource first needs it (a cloud loads its own). */
export interface DriverModules {
  airflow(): typeof import("./connections/airflow");
  astro(): typeof import("./astro/environmentConnections");
  deploymentSettings(): typeof import("./astro/deploymentSettingsDriver");
}

const requiredModules: DriverModules = {
  airflow: () => require("./connections/airflow") as typeof import("./connections/airflow"),
  astro: () => require("./astro/environmentConnections") as typeof import("./astro/environmentConnections"),
  deploymentSettings: () =>
    require("./astro/deploymentSettingsDriver") as typeof import("./astro/deploymentSettingsDriver"),
};

/**
 * The real drivers, from stack config (`deployment-authorization:*`) or the environment, each made
 * on first use. `modules` lets a test runner that cannot `require` TypeScript hand them over.
 */
export function realDrivers(
  settings: ProviderSettings,
  env: NodeJS.ProcessEnv = process.env,
  tuning: DriverTuning = {},
  modules: DriverModules = requiredModules,
  clouds: readonly CloudModule[] = cloudModules(),
): Drivers {
  const { policy: _policy, ...calls } = tuning;
  const remotes = remoteSettings(settings, env, clouds);
  const astroApiUrl = remotes.astroApiUrl;
  const grants = lazy<Record<string, GrantDriver>>(
    Object.fromEntries(
      clouds.map((c) => [c.cloud, () => deferredDriver(() => c.loadDriver(remotes.clouds[c.cloud], tuning))]),
    ),
  );
  const connections = lazy<{ [K in keyof ConnectionTargets]?: ConnectionSink<ConnectionTargets[K]> }>({
    airflow: () => {
      const { AirflowConnectionsDriver, airflowSink } = modules.airflow();
      return airflowSink(new AirflowConnectionsDriver(calls));
    },
    astro: () => {
      const { AstroEnvironmentConnections } = modules.astro();
      return new AstroEnvironmentConnections({ ...calls, baseUrl: astroApiUrl });
    },
  });
  let settingsDriver: DeploymentSettingsDriver | undefined;
  return {
    grants,
    connections,
    get deploymentSettings() {
      const { AstroDeploymentSettings } = modules.deploymentSettings();
      return (settingsDriver ??= new AstroDeploymentSettings({ ...calls, baseUrl: astroApiUrl }));
    },
  };
}

/**
 * Where each remote is and the credentials the environment holds for it, from stack config
 * (`deployment-authorization:*`) or the environment: what the provider's drivers are made with, and
 * what tools that read the same remotes (discover) use. Each cloud reads its own.
 */
export function remoteSettings(
  settings: ProviderSettings,
  env: NodeJS.ProcessEnv = process.env,
  clouds: readonly CloudModule[] = cloudModules(),
): { astroApiUrl: string | undefined; clouds: Record<string, unknown> } {
  return {
    astroApiUrl: settings("astroApiUrl") ?? env.DEPLOYMENT_AUTHORIZATION_ASTRO_API_URL,
    clouds: Object.fromEntries(clouds.map((c) => [c.cloud, c.remoteSettings(settings, env)])),
  };
}

/**
 * A grant driver made on its first call: making it loads the cloud's SDK. Every call shares the one
 * driver (it batches writes to a shared policy document across resources).
 */
function deferredDriver(make: () => Promise<GrantDriver>): GrantDriver {
  let driver: Promise<GrantDriver> | undefined;
  const made = () => (driver ??= make());
  return {
    read: async (grant, resolved) => (await made()).read(grant, resolved),
    ensure: async (grant, previous, progress) => (await made()).ensure(grant, previous, progress),
    remove: async (grant, resolved) => (await made()).remove(grant, resolved),
  };
}

/** An object whose values are made by their factories when first read, then kept. */
function lazy<T extends object>(factories: { [K in keyof T]-?: () => NonNullable<T[K]> }): T {
  const made: Partial<T> = {};
  const object = {} as T;
  for (const key of Object.keys(factories) as Array<keyof T>) {
    Object.defineProperty(object, key, {
      enumerable: true,
      get: () => (made[key] ??= factories[key]()),
    });
  }
  return object;
}
