import { ConnectionExistsError } from "./errors";
import { staleShare } from "./trustPolicy";
import {
  AirflowTarget,
  ApiVersion,
  ownedGrantOf,
  AuthorizationState,
  Credentials,
  PlannedAuthorization,
  livePayloadInPlanTerms,
  payloadForApply,
  roleNameOf,
} from "./plan";
import type { ConnectionTarget, Drivers } from "./drivers/types";

/** Credentials from stack config or the environment (read by the provider's `configure`). */
export interface AmbientCredentials {
  token?: string;
  password?: string;
}

/**
 * The grant and the connection as one resource. Pure orchestration over the drivers: no remote
 * API is named here, so the lifecycle is tested against in-memory drivers and real ones alike.
 */
export class AuthorizationLifecycle {
  constructor(
    private readonly drivers: Drivers,
    private readonly ambient: AmbientCredentials = {},
  ) {}

  async create(planned: PlannedAuthorization): Promise<{ id: string; outs: AuthorizationState }> {
    const target = this.target(planned, "program");
    const { roleArn, changed, oidcProviderCreated } = await this.drivers.trust.ensure(planned.grant);
    try {
      const apiVersion = await this.drivers.connections.apiVersion(target);
      const payload = payloadForApply(planned.connection.payload, roleArn);
      try {
        await this.drivers.connections.create(target, planned.connection.connectionId, payload);
      } catch (error) {
        if (!(error instanceof ConnectionExistsError && planned.connection.adoptExisting)) throw error;
        await this.drivers.connections.update(target, planned.connection.connectionId, payload);
      }
      return { id: idOf(planned), outs: { ...planned, resolved: resolved(roleArn, apiVersion, oidcProviderCreated) } };
    } catch (error) {
      // Created together or not at all: take back the grant this call added.
      if (changed) await this.drivers.trust.remove(planned.grant);
      throw error;
    }
  }

  /** What is live, in the plan's terms, so that a refresh shows drift in either half as a diff. */
  async read(id: string, state: AuthorizationState) {
    const target = this.target(state, "stored");
    const [grant, apiVersion] = await Promise.all([
      this.drivers.trust.read(ownedGrantOf(state.grant)),
      this.drivers.connections.apiVersion(target),
    ]);
    const live = await this.drivers.connections.read(target, state.connection.connectionId);
    const planned = state.connection.payload;
    const payload = live === undefined ? null : livePayloadInPlanTerms(live, planned ?? live, grant.roleArn);
    const props: AuthorizationState = {
      ...state,
      grant: { ...state.grant, statement: grant.statement ?? null },
      connection: { ...state.connection, payload },
      resolved: { ...state.resolved, roleArn: grant.roleArn, apiVersion },
    };
    const { resolved: _resolved, ...inputs } = props;
    return { id, props, inputs };
  }

  async update(
    id: string,
    olds: AuthorizationState,
    news: PlannedAuthorization,
  ): Promise<{ outs: AuthorizationState }> {
    const target = this.target(news, "program");
    const { roleArn, oidcProviderCreated } = await this.drivers.trust.ensure(news.grant);
    const stale = staleShare(ownedGrantOf(olds.grant), news.grant);
    // The new grant still relies on the same OIDC provider: no need to ask whether it is unused.
    const keepsProvider = stale?.oidcProvider?.arn === news.grant.oidcProvider?.arn;
    if (stale) await this.drivers.trust.remove(keepsProvider ? { ...stale, oidcProvider: undefined } : stale);
    const apiVersion = await this.drivers.connections.apiVersion(target);
    await this.drivers.connections.update(
      target,
      news.connection.connectionId,
      payloadForApply(news.connection.payload, roleArn),
    );
    const created = oidcProviderCreated || olds.resolved?.oidcProviderCreated;
    return { outs: { ...news, resolved: resolved(roleArn, apiVersion, created) } };
  }

  async delete(id: string, state: AuthorizationState): Promise<void> {
    await this.drivers.trust.remove(ownedGrantOf(state.grant));
    await this.drivers.connections.remove(this.target(state, "stored"), state.connection.connectionId);
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

function resolved(roleArn: string, apiVersion: ApiVersion, oidcProviderCreated: boolean | undefined) {
  return { roleArn, apiVersion, ...(oidcProviderCreated ? { oidcProviderCreated } : {}) };
}

export function idOf(planned: PlannedAuthorization): string {
  return `${roleNameOf(planned.grant.role)}/${planned.grant.sid}/${planned.connection.connectionId}`;
}
