import { expect } from "vitest";
import { AirflowConnectionsDriver } from "../../provider/connections/airflow";
import { withoutClaim } from "../../provider/core/claims";
import { createProvider, type ProviderMethods } from "../../provider/core/provider";
import type { AuthorizationState, ConnectionPayload, PlannedAuthorization } from "../../provider/core/types";
import { GRANT_PLANNERS } from "../../provider/grants";
import { parseInputs } from "../../provider/inputs";
import * as astroSettingsModule from "../../provider/astro/deploymentSettingsDriver";
import * as airflowModule from "../../provider/connections/airflow";
import * as astroModule from "../../provider/astro/environmentConnections";
import { realDrivers, type DriverModules, type DriverTuning } from "../../provider/runtime";
import type { FaultProxy, FaultRule, RecordedRequest } from "./faultProxy";

/**
 * Retries in milliseconds, timeouts well above the sandbox's own latency and well below a
 * slowAnswer's hold. The policy writer's read-back stays after its read-age bound, as in production.
 */
export function fastTuning(timeoutMs: number): DriverTuning {
  return {
    attempts: 4,
    baseDelayMs: 5,
    timeoutMs,
    policy: { baseDelayMs: 5, verifyDelayMs: 30 },
  };
}

/** The connection drivers' modules, imported: the test runner cannot `require` TypeScript (clouds load their own). */
const IMPORTED_MODULES: DriverModules = {
  airflow: () => airflowModule,
  astro: () => astroModule,
  deploymentSettings: () => astroSettingsModule,
};

/** The provider's methods over the real drivers, reading settings from `config` and `env`. */
export async function faultProvider(
  config: Record<string, string>,
  env: NodeJS.ProcessEnv,
  tuning: DriverTuning,
): Promise<ProviderMethods> {
  const provider = createProvider({
    planners: GRANT_PLANNERS,
    loadParser: () => parseInputs,
    makeDrivers: (settings) => realDrivers(settings, env, tuning, IMPORTED_MODULES),
    env,
  });
  await provider.configure({ config: { get: (key) => config[key] } });
  return provider;
}

/** What `check` plans for raw inputs; the test's inputs must be valid. */
export async function plan(provider: ProviderMethods, raw: Record<string, unknown>): Promise<PlannedAuthorization> {
  const { inputs, failures } = await provider.check(undefined, raw);
  expect(failures ?? []).toEqual([]);
  return inputs as unknown as PlannedAuthorization;
}

/** Every fault a step got, by proxy name, and the total across all steps. */
export class FaultLedger {
  private readonly steps: Array<{ step: string; faults: Array<RecordedRequest & { remote: string }> }> = [];

  constructor(private readonly proxies: Record<string, FaultProxy>) {}

  /** Runs one step with each proxy's schedule; afterwards, every scheduled fault must have been met. */
  async step<T>(step: string, schedule: Record<string, FaultRule[]>, work: () => Promise<T>): Promise<T> {
    for (const [name, proxy] of Object.entries(this.proxies)) proxy.schedule(schedule[name] ?? []);
    try {
      return await work();
    } finally {
      const faults = Object.entries(this.proxies).flatMap(([remote, proxy]) =>
        proxy.faultsSinceSchedule().map((r) => ({ ...r, remote })),
      );
      this.steps.push({ step, faults });
      for (const proxy of Object.values(this.proxies)) proxy.schedule([]);
    }
  }

  /** The faults of the latest step, as "remote METHOD path fault". */
  lastFaults(): string[] {
    return (this.steps.at(-1)?.faults ?? []).map((f) => `${f.remote} ${f.action ?? f.method} ${f.fault}`);
  }

  total(): number {
    return this.steps.reduce((n, s) => n + s.faults.length, 0);
  }

  report(): string {
    return this.steps
      .map((s) => `${s.step}: ${s.faults.map((f) => `${f.remote} ${f.action ?? f.method} ${f.fault}`).join(", ")}`)
      .join("\n");
  }
}

/** The connection as stored in Airflow, read straight from the server (no proxy, no faults). */
export async function airflowConnection(
  server: { url: string; username: string; password: string },
  apiVersion: "v1" | "v2",
  connectionId: string,
): Promise<ConnectionPayload | undefined> {
  return new AirflowConnectionsDriver().read(
    {
      url: server.url,
      apiVersion,
      auth: { kind: "password", username: server.username },
      credentials: { password: server.password },
    },
    connectionId,
  );
}

/** A stored connection with its description's claim left out, as a refresh compares it with the plan. */
export function inPlanTerms(
  live: ConnectionPayload | undefined,
  planned: ConnectionPayload,
): ConnectionPayload | undefined {
  return live && { ...live, description: withoutClaim(live.description, planned.description) };
}

/** The error a rejected step threw, with its message. */
export async function failure(work: Promise<unknown>): Promise<Error> {
  const outcome = await work.then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(outcome).toBeInstanceOf(Error);
  return outcome as Error;
}

export type State = AuthorizationState;
