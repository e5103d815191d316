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
  // Each cloud's driver is made once, by the first call that needs it: every resource of the process
  // shares it (it batches writes to a shared policy document across resources).
  const made = new Map<string, GrantDriver>();
  const making = new Map<string, Promise<void>>();
  const grants: Record<string, GrantDriver> = {};
  for (const cloud of clouds) {
    Object.defineProperty(grants, cloud.cloud, {
      enumerable: true,
      get: () => made.get(cloud.cloud),
    });
  }
  const prepare = (key: string): Promise<void> => {
    const cloud = clouds.find((c) => c.cloud === key);
    if (!cloud) return Promise.resolve();
    let ready = making.get(key);
    if (!ready) {
      ready = cloud.loadDriver(remotes.clouds[key], tuning).then((driver) => void made.set(key, driver));
      // A failed load is tried again by the next call, rather than kept.
      ready.catch(() => making.delete(key));
      making.set(key, ready);
    }
    return ready;
  };
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
    prepare,
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
