import { AuthorizationError, ConnectionExistsError } from "./errors";
import { livePayloadInPlanTerms, pluginFor } from "./plan";
import type {
  AirflowTarget,
  AuthorizationState,
  ConnectionTarget,
  Credentials,
  Drivers,
  GrantDriver,
  GrantPlugin,
  PlannedAuthorization,
} from "./types";

/** Credentials from stack config or the environment (read by the provider's `configure`). */
export interface AmbientCredentials {
  token?: string;
  password?: string;
}

/**
 * The grant and the connection as one resource. Pure orchestration over one grant plug-in (chosen
 * by `grant.cloud`) and the connection driver: no cloud is named here.
 */
export class AuthorizationLifecycle {
  constructor(
    private readonly plugins: ReadonlyMap<string, GrantPlugin>,
    private readonly drivers: Drivers,
    private readonly ambient: AmbientCredentials = {},
  ) {}

  async create(planned: PlannedAuthorization): Promise<{ id: string; outs: AuthorizationState }> {
    const { plugin, driver } = this.grantOf(planned);
    const target = this.target(planned, "program");
    const { changed, resolved } = await driver.ensure(planned.grant);
    try {
      const apiVersion = await this.drivers.connections.apiVersion(target);
      const payload = { ...planned.connection.payload };
      payload.extra = plugin.extraForApply(payload.extra, resolved);
      try {
        await this.drivers.connections.create(target, planned.connection.connectionId, payload);
      } catch (error) {
        if (!(error instanceof ConnectionExistsError && planned.connection.adoptExisting)) throw error;
        await this.drivers.connections.update(target, planned.connection.connectionId, payload);
      }
      return { id: this.idOf(planned), outs: { ...planned, resolved: { ...resolved, apiVersion } } };
    } catch (error) {
      // Created together or not at all: take back the grant this call added.
      if (changed) await driver.remove(planned.grant, resolved);
      throw error;
    }
  }

  /** What is live, in the plan's terms, so that a refresh shows drift in either half as a diff. */
  async read(id: string, state: AuthorizationState) {
    const { plugin, driver } = this.grantOf(state);
    const target = this.target(state, "stored");
    const [grant, apiVersion] = await Promise.all([
      driver.read(state.grant, state.resolved),
      this.drivers.connections.apiVersion(target),
    ]);
    const live = await this.drivers.connections.read(target, state.connection.connectionId);
    const planned = state.connection.payload;
    const payload = live === undefined ? null : livePayloadInPlanTerms(plugin, live, planned ?? live, grant.resolved);
    const props: AuthorizationState = {
      ...state,
      grant: grant.grant,
      connection: { ...state.connection, payload },
      resolved: { ...grant.resolved, apiVersion },
    };
    const { resolved: _resolved, ...inputs } = props;
    return { id, props, inputs };
  }

  async update(
    id: string,
    olds: AuthorizationState,
    news: PlannedAuthorization,
  ): Promise<{ outs: AuthorizationState }> {
    const { plugin, driver } = this.grantOf(news);
    const target = this.target(news, "program");
    const { resolved } = await driver.ensure(news.grant, { grant: olds.grant, resolved: olds.resolved });
    const stale = plugin.stale(olds.grant, news.grant);
    if (stale) await driver.remove(stale, olds.resolved);
    const apiVersion = await this.drivers.connections.apiVersion(target);
    await this.drivers.connections.update(target, news.connection.connectionId, {
      ...news.connection.payload,
      extra: plugin.extraForApply(news.connection.payload.extra, resolved),
    });
    return { outs: { ...news, resolved: { ...resolved, apiVersion } } };
  }

  async delete(id: string, state: AuthorizationState): Promise<void> {
    const { driver } = this.grantOf(state);
    await driver.remove(state.grant, state.resolved);
    await this.drivers.connections.remove(this.target(state, "stored"), state.connection.connectionId);
  }

  /** `<the plug-in's part>/<connection id>`: for AWS `<role>/<sid>/<connection id>`, as before plug-ins. */
  idOf(planned: PlannedAuthorization): string {
    return `${this.grantOf(planned).plugin.idOf(planned.grant)}/${planned.connection.connectionId}`;
  }

  private grantOf(subject: { grant: { cloud: string } }): { plugin: GrantPlugin; driver: GrantDriver } {
    const plugin = pluginFor(this.plugins, subject.grant.cloud);
    const driver = this.drivers.grants[plugin.cloud];
    if (!driver) throw new AuthorizationError("INVALID_INPUT", `no grant driver for cloud "${plugin.cloud}"`);
    return { plugin, driver };
  }

  /**
   * While the program runs, its own secret input wins; on refresh and destroy, where only state is
   * at hand, current config and environment win, so a rotated token still works.
   */
  private target(
    subject: { connection: { airflow: AirflowTarget }; credentials?: Credentials },
    source: "program" | "stored",
  ): ConnectionTarget {
    const own: Credentials = subject.credentials ?? {};
    const credentials: Credentials =
      source === "program"
        ? { token: own.token ?? this.ambient.token, password: own.password ?? this.ambient.password }
        : { token: this.ambient.token ?? own.token, password: this.ambient.password ?? own.password };
    return { ...subject.connection.airflow, credentials };
  }
}
