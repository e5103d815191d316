import { createHash } from "node:crypto";
import {
  deploymentChange,
  ownedKeysOf,
  settingsInPlanTerms,
  SECRETS_BACKEND_KEYS,
} from "../astro/deploymentSettingsPlan";
import { sameConnectionPayload } from "./canonical";
import { FreshListings, claimDigest, claimOf, claimedByOthers, newInstance, withClaim, withoutClaim } from "./claims";
import { AuthorizationError, ConnectionExistsError, Operation, adviseFor } from "./errors";
import { defaultDescription, livePayloadInPlanTerms, pluginFor } from "./plan";
import type {
  AuthorizationState,
  ConnectionSink,
  ConnectionTargets,
  Credentials,
  DeploymentSettings,
  DeploymentSettingsDriver,
  Drivers,
  GrantDriver,
  GrantPlanner,
  PlannedAuthorization,
  ReadOptions,
  SinkKind,
} from "./types";

/** Credentials from stack config or the environment (read by the provider's `configure`). */
export interface AmbientCredentials {
  token?: string;
  password?: string;
  /** An Astro API token, for connections in Astro's Environment Manager. */
  astroToken?: string;
}

type ConnectionPart = PlannedAuthorization["connection"];
type Facts = AuthorizationState["resolved"];
type ClaimSubject = { connection: Pick<ConnectionPart, SinkKind>; credentials?: Credentials };

/** Which sink a connection uses: the key its target is planned under. */
export function sinkOf(connection: Pick<ConnectionPart, SinkKind>): SinkKind {
  return connection.astro ? "astro" : "airflow";
}

/**
 * The grant and the connection as one resource. Pure orchestration over one grant plug-in (chosen
 * by `grant.cloud`) and one connection sink (chosen by the connection's target): no cloud and no
 * connection API is named here.
 */
export class AuthorizationLifecycle {
  constructor(
    private readonly plugins: ReadonlyMap<string, GrantPlanner>,
    private readonly drivers: Drivers,
    private readonly ambient: AmbientCredentials = {},
    private readonly listings: FreshListings<Array<string | null>> = new FreshListings(),
  ) {}

  // Errors leave each operation with advice that fits it: a missing role on create is checked or
  // created; on refresh or delete it may have been deleted on purpose.
  create(planned: PlannedAuthorization): Promise<{ id: string; outs: AuthorizationState }> {
    return advised("create", this.creating(planned));
  }

  read(id: string, state: AuthorizationState) {
    return advised("read", this.reading(id, state));
  }

  update(id: string, olds: AuthorizationState, news: PlannedAuthorization): Promise<{ outs: AuthorizationState }> {
    return advised("update", this.updating(olds, news));
  }

  delete(_id: string, state: AuthorizationState): Promise<void> {
    return advised("delete", this.deleting(state));
  }

  private async creating(planned: PlannedAuthorization): Promise<{ id: string; outs: AuthorizationState }> {
    const { plugin, driver } = this.grantOf(planned);
    const connection = this.connectionOf(planned, "program");
    const settings = planned.deploymentSettings;
    const instance = newInstance();
    // The Deployment may only run as an identity that already trusts it, and a connection taken over
    // cannot be given back: those wait for the grant. Otherwise the connection is written as soon as
    // the facts it needs are known, while the grant is still being written and verified.
    const inOrder = settings !== undefined || planned.connection.adoptExisting;
    // Claimed in the cloud before it is granted: a delete elsewhere that lists claims from now on keeps it.
    await this.recordClaim(plugin, driver, planned.grant, instance);
    let factsKnown: (facts: Facts) => void = () => {};
    const early = new Promise<Facts>((resolve) => (factsKnown = resolve));
    const granting = driver.ensure(planned.grant, undefined, inOrder ? undefined : { factsKnown });
    const granted = granting.then((g) => g.resolved);
    let applied: { previousWorkloadIdentity?: string } | undefined;
    let sent: ConnectionPart["payload"] | undefined;
    const connecting = (inOrder ? granted : Promise.race([early, granted])).then(async (resolved) => {
      if (settings) {
        applied = await this.settingsDriver().apply(
          deploymentChange(plugin, settings, resolved, []),
          this.astroCredentials(planned.credentials, "program"),
        );
      }
      const facts = await connection.prepare();
      const payload = this.written(plugin, planned, instance, resolved, connection.maxDescriptionLength);
      sent = payload;
      try {
        return { ...facts, ...(await connection.create(planned.connection.connectionId, payload)) };
      } catch (error) {
        if (!(error instanceof ConnectionExistsError)) throw error;
        if (!planned.connection.adoptExisting && !(await this.isOwnLeftover(connection, planned, payload))) throw error;
        return { ...facts, ...(await connection.update(planned.connection.connectionId, payload, {})) };
      }
    });
    const [grant, made] = await Promise.allSettled([granting, connecting]);
    if (grant.status === "fulfilled" && made.status === "fulfilled") {
      const granted = await this.withSharesKnown(plugin, planned.grant, grant.value.resolved, planned, instance);
      return {
        id: this.idOf(planned),
        outs: { ...planned, resolved: { ...granted, ...made.value, ...applied, instance } },
      };
    }
    // Created together or not at all: take back the connection, what this call set on the
    // Deployment and the grant it added, whichever of them were made.
    if (made.status === "fulfilled") await connection.remove(planned.connection.connectionId, made.value);
    else if (sent && !(made.reason instanceof ConnectionExistsError)) {
      await this.takeBackUnansweredCreate(connection, planned.connection.connectionId, sent);
    }
    if (grant.status === "fulfilled") {
      if (settings) {
        await this.settingsDriver().remove(
          {
            organizationId: settings.organizationId,
            deploymentId: settings.deploymentId,
            ownedKeys: applied ? ownedKeysOf(settings) : [],
            ...(applied?.previousWorkloadIdentity !== undefined && settings.workloadIdentity
              ? { workloadIdentity: applied.previousWorkloadIdentity }
              : {}),
          },
          this.astroCredentials(planned.credentials, "program"),
        );
      }
      if (grant.value.changed) await driver.remove(planned.grant, grant.value.resolved);
    }
    await this.releaseClaim(plugin, driver, planned.grant, instance).catch(() => undefined);
    throw grant.status === "rejected" ? grant.reason : (made as PromiseRejectedResult).reason;
  }

  /**
   * A create that failed after every answer was lost may still have made the connection: one that
   * holds exactly what this create sent is taken back. Best effort: the failure being reported
   * matters more than its clean-up failing too.
   */
  private async takeBackUnansweredCreate(
    connection: ReturnType<AuthorizationLifecycle["connectionOf"]>,
    connectionId: string,
    sent: ConnectionPart["payload"],
  ): Promise<void> {
    try {
      const live = await connection.read(connectionId, {});
      if (sameConnectionPayload(live?.payload, sent)) await connection.remove(connectionId, {});
    } catch {
      // reported failure stands
    }
  }

  /**
   * A create killed after writing the connection but before the engine saved the resource (a
   * SIGKILLed `pulumi up`) leaves a connection that the next create of the same resource finds. It
   * is taken as this resource's own only when it carries the default description, which names this
   * resource's project, stack and name, and everything else we manage is exactly what this create
   * writes. A connection made by hand or by another stack carries another description or other
   * content and stays a CONNECTION_EXISTS: this create does not take over (and, on destroy, delete)
   * what someone else made.
   */
  private async isOwnLeftover(
    connection: ReturnType<AuthorizationLifecycle["connectionOf"]>,
    planned: PlannedAuthorization,
    payload: ConnectionPart["payload"],
  ): Promise<boolean> {
    const inPlanTerms = (p: ConnectionPart["payload"]) => ({
      ...p,
      description: withoutClaim(p.description, planned.connection.payload.description),
    });
    if (inPlanTerms(payload).description !== defaultDescription(planned.owner)) return false;
    const live = await connection.read(planned.connection.connectionId, {});
    return live !== undefined && sameConnectionPayload(inPlanTerms(live.payload), inPlanTerms(payload));
  }

  /**
   * The connection as written: the plan's payload with what apply resolved, and a description that
   * ends in this instance's claim on the grant's entries. A description too long to take the claim
   * goes without: that resource then shares its entries as an earlier release did.
   */
  private written(
    plugin: GrantPlanner,
    planned: PlannedAuthorization,
    instance: string,
    resolved: Facts,
    maxDescriptionLength: number,
  ): ConnectionPart["payload"] {
    const payload = planned.connection.payload;
    const claimed = withClaim(payload.description, { instance, grants: plugin.claims(planned.grant).map(claimDigest) });
    return {
      ...payload,
      description: claimed.length <= maxDescriptionLength ? claimed : payload.description,
      extra: plugin.extraForApply(payload.extra, resolved),
    };
  }

  /**
   * The grant less every entry that another instance claims in the connection's place. Asked after
   * our own connection is written or gone, so of two resources taking one entry away at once, the
   * later one sees neither's claim and removes it.
   */
  private async unclaimed<G extends AuthorizationState["grant"]>(
    plugin: GrantPlanner,
    grant: G,
    subject: ClaimSubject,
    instance: string | undefined,
    source: "program" | "stored",
  ): Promise<G | undefined> {
    const [kept, keptElsewhere] = await Promise.all([
      this.keysOthersClaim(plugin.claims(grant), subject, instance, source),
      this.keysClaimedInLedger(plugin, grant, instance),
    ]);
    for (const key of keptElsewhere) kept.add(key);
    return (kept.size === 0 ? grant : plugin.withoutClaims(grant, kept)) as G | undefined;
  }

  /** The units that resources in other places may share, as digests for a ledger claim. */
  private crossPlaceDigests(plugin: GrantPlanner, grant: AuthorizationState["grant"]): string[] {
    return (plugin.sharedAcrossPlaces?.(grant) ?? []).map(claimDigest);
  }

  /** This instance's claim in the cloud on the units other places may share; released when there are none. */
  private async recordClaim(
    plugin: GrantPlanner,
    driver: GrantDriver,
    grant: AuthorizationState["grant"],
    instance: string,
  ): Promise<void> {
    if (!driver.ledger) return;
    const digests = this.crossPlaceDigests(plugin, grant);
    if (digests.length > 0) await driver.ledger.record(grant, instance, digests);
  }

  private async releaseClaim(
    plugin: GrantPlanner,
    driver: GrantDriver,
    grant: AuthorizationState["grant"],
    instance: string | undefined,
  ): Promise<void> {
    if (!driver.ledger || instance === undefined || this.crossPlaceDigests(plugin, grant).length === 0) return;
    await driver.ledger.release(grant, instance);
  }

  /**
   * Which of the grant's cross-place units an instance other than `instance` claims in the cloud.
   * Asked after our own ledger claim is gone, for the same reason as the connection's.
   */
  private async keysClaimedInLedger(
    plugin: GrantPlanner,
    grant: AuthorizationState["grant"],
    instance: string | undefined,
  ): Promise<Set<string>> {
    const keys = plugin.sharedAcrossPlaces?.(grant) ?? [];
    const ledger = this.grantOf({ grant }).driver.ledger;
    if (keys.length === 0 || !ledger) return new Set();
    const records = await ledger.records(grant);
    const claimed = new Set([...records].filter(([owner]) => owner !== instance).flatMap(([, digests]) => digests));
    return new Set(keys.filter((key) => claimed.has(claimDigest(key))));
  }

  /**
   * The facts with every unit that apply found granted already and another resource claims taken
   * as that resource's share (removed when neither claims it), not as a stranger's (never removed).
   */
  private async withSharesKnown(
    plugin: GrantPlanner,
    grant: AuthorizationState["grant"],
    resolved: Facts,
    subject: ClaimSubject,
    instance: string,
  ): Promise<Facts> {
    const found = plugin.foundGranted(grant, resolved);
    if (found.length === 0) return resolved;
    const shared = await this.keysOthersClaim(found, subject, instance, "program");
    return shared.size === 0 ? resolved : plugin.shareClaimed(grant, resolved, shared);
  }

  /** Which of these claim keys an instance other than `instance` claims in the subject's connection place. */
  private async keysOthersClaim(
    keys: string[],
    subject: ClaimSubject,
    instance: string | undefined,
    source: "program" | "stored",
  ): Promise<Set<string>> {
    const connection = this.connectionOf(subject, source);
    const descriptions = await this.listings.get(connection.place, () => connection.descriptions());
    const claimed = claimedByOthers(descriptions, instance);
    return new Set(keys.filter((key) => claimed.has(claimDigest(key))));
  }

  /** What is live, in the plan's terms, so that a refresh shows drift in either half as a diff. */
  private async reading(id: string, state: AuthorizationState) {
    const { plugin, driver } = this.grantOf(state);
    const connection = this.connectionOf(state, "stored");
    const settings = state.deploymentSettings;
    const [grant, [facts, live], liveSettings] = await Promise.all([
      driver.read(state.grant, state.resolved),
      connection
        .prepare()
        .then(
          async (facts) =>
            [facts, await connection.read(state.connection.connectionId, state.resolved, { share: true })] as const,
        ),
      settings
        ? this.settingsDriver().read(
            settings,
            settings.secretsBackend ? SECRETS_BACKEND_KEYS : [],
            this.astroCredentials(state.credentials, "stored"),
          )
        : undefined,
    ]);
    const planned = state.connection.payload;
    const payload = live ? livePayloadInPlanTerms(plugin, live.payload, planned ?? live.payload, grant.resolved) : null;
    const props: AuthorizationState = {
      ...state,
      ...(settings && liveSettings
        ? { deploymentSettings: settingsInPlanTerms(plugin, settings, liveSettings, grant.resolved) }
        : {}),
      grant: grant.grant,
      connection: { ...state.connection, ...(live?.target ? { [connection.kind]: live.target } : {}), payload },
      resolved: { ...state.resolved, ...grant.resolved, ...facts },
    };
    const { resolved: _resolved, ...inputs } = props;
    return { id, props, inputs };
  }

  private async updating(olds: AuthorizationState, news: PlannedAuthorization): Promise<{ outs: AuthorizationState }> {
    const { plugin, driver } = this.grantOf(news);
    const connection = this.connectionOf(news, "program");
    // A resource made by an earlier release gets its instance, and so its claim, on its first update.
    const instance = olds.resolved.instance ?? newInstance();
    if (this.crossPlaceDigests(plugin, news.grant).length > 0)
      await this.recordClaim(plugin, driver, news.grant, instance);
    else await this.releaseClaim(plugin, driver, olds.grant, olds.resolved.instance);
    const { resolved } = await driver.ensure(news.grant, { grant: olds.grant, resolved: olds.resolved });
    const settingsFacts = await this.updateSettings(plugin, olds, news, resolved);
    const facts = await connection.prepare();
    const updated = await connection.update(
      news.connection.connectionId,
      this.written(plugin, news, instance, resolved, connection.maxDescriptionLength),
      olds.resolved,
    );
    // Taken back once the connection claims what it now relies on, and only what nobody else claims.
    const stale = plugin.stale(olds.grant, news.grant);
    const unclaimed = stale && (await this.unclaimed(plugin, stale, news, instance, "program"));
    if (unclaimed) await driver.remove(unclaimed, olds.resolved);
    const kept = olds.resolved.environmentObjectId ? { environmentObjectId: olds.resolved.environmentObjectId } : {};
    const granted = await this.withSharesKnown(plugin, news.grant, resolved, news, instance);
    return {
      outs: { ...news, resolved: { ...granted, ...kept, ...settingsFacts, ...facts, ...updated, instance } },
    };
  }

  /**
   * The connection goes first, then the grant's entries that no other instance claims where the
   * connection lived, then the Deployment's settings. A connection that holds another instance's
   * claim stays: a newer instance of this resource made it (an engine may delete a replaced
   * resource again after its replacement was created), and so do the entries that instance claims.
   * Each removal treats absent as done, so a delete that failed halfway completes when run again.
   */
  private async deleting(state: AuthorizationState): Promise<void> {
    const { plugin, driver } = this.grantOf(state);
    const connection = this.connectionOf(state, "stored");
    const settings = state.deploymentSettings;
    const instance = state.resolved.instance;
    const live = await connection.read(state.connection.connectionId, state.resolved);
    const holder = claimOf(live?.payload.description)?.instance;
    if (holder === undefined || holder === instance) {
      await connection.remove(state.connection.connectionId, state.resolved);
    }
    // A newer instance holding the connection has a ledger claim of its own.
    await this.releaseClaim(plugin, driver, state.grant, instance);
    const unclaimed = await this.unclaimed(plugin, state.grant, state, instance, "stored");
    if (unclaimed) await driver.remove(unclaimed, state.resolved);
    if (!settings) return;
    await this.settingsDriver().remove(
      {
        organizationId: settings.organizationId,
        deploymentId: settings.deploymentId,
        ownedKeys: ownedKeysOf(settings),
        ...this.restoredIdentity(settings, state.resolved.previousWorkloadIdentity),
      },
      this.astroCredentials(state.credentials, "stored"),
    );
  }

  /**
   * Brings the Deployment's settings from the old plan to the new one. A setting dropped from the
   * program is taken back: our variables go; the identity stays unless restoreOnDelete asked.
   */
  private async updateSettings(
    plugin: GrantPlanner,
    olds: AuthorizationState,
    news: PlannedAuthorization,
    resolved: Facts,
  ): Promise<{ previousWorkloadIdentity?: string }> {
    const [before, after] = [olds.deploymentSettings, news.deploymentSettings];
    const previous = olds.resolved.previousWorkloadIdentity;
    const kept = before?.workloadIdentity && previous !== undefined ? { previousWorkloadIdentity: previous } : {};
    if (!before && !after) return {};
    const credentials = this.astroCredentials(news.credentials, "program");
    if (!after) {
      await this.settingsDriver().remove(
        {
          organizationId: before!.organizationId,
          deploymentId: before!.deploymentId,
          ownedKeys: ownedKeysOf(before),
          ...this.restoredIdentity(before!, previous),
        },
        credentials,
      );
      return {};
    }
    const restore =
      before && !after.workloadIdentity ? this.restoredIdentity(before, previous).workloadIdentity : undefined;
    const applied = await this.settingsDriver().apply(
      deploymentChange(plugin, after, resolved, ownedKeysOf(before), restore),
      credentials,
    );
    if (!after.workloadIdentity) return {};
    // The identity before ours is what the first apply saw; later applies only see ours.
    return before?.workloadIdentity ? kept : { previousWorkloadIdentity: applied.previousWorkloadIdentity };
  }

  private restoredIdentity(settings: DeploymentSettings, previous: string | undefined): { workloadIdentity?: string } {
    return settings.workloadIdentity?.restoreOnDelete && previous !== undefined ? { workloadIdentity: previous } : {};
  }

  private settingsDriver(): DeploymentSettingsDriver {
    const driver = this.drivers.deploymentSettings;
    if (!driver) throw new AuthorizationError("INVALID_INPUT", "no driver for the Deployment's settings (Astro)");
    return driver;
  }

  private astroCredentials(own: Credentials | undefined, source: "program" | "stored"): Credentials {
    return this.credentials("astro", own ?? {}, source);
  }

  /** `<the plug-in's part>/<connection id>`: for AWS `<role>/<sid>/<connection id>`, as before plug-ins. */
  idOf(planned: PlannedAuthorization): string {
    return `${this.grantOf(planned).plugin.idOf(planned.grant)}/${planned.connection.connectionId}`;
  }

  private grantOf(subject: { grant: { cloud: string } }): { plugin: GrantPlanner; driver: GrantDriver } {
    const plugin = pluginFor(this.plugins, subject.grant.cloud);
    const driver = this.drivers.grants[plugin.cloud];
    if (!driver) throw new AuthorizationError("INVALID_INPUT", `no grant driver for cloud "${plugin.cloud}"`);
    return { plugin, driver };
  }

  /** The connection's sink, bound to its target and the credentials for it. */
  private connectionOf(
    subject: { connection: Pick<ConnectionPart, SinkKind>; credentials?: Credentials },
    source: "program" | "stored",
  ) {
    const kind = sinkOf(subject.connection);
    const sink = this.drivers.connections[kind] as ConnectionSink<ConnectionTargets[typeof kind]> | undefined;
    const target = subject.connection[kind];
    if (!sink || !target) throw new AuthorizationError("INVALID_INPUT", `no connection sink for "${kind}"`);
    const credentials = this.credentials(kind, subject.credentials ?? {}, source);
    return {
      kind,
      maxDescriptionLength: sink.maxDescriptionLength,
      /** One key per place connections share: one Airflow seen with these credentials, one Astro scope. */
      place: createHash("sha256")
        .update(JSON.stringify([kind, target, credentials.token ?? "", credentials.password ?? ""]))
        .digest("hex"),
      descriptions: () => sink.descriptions(target, credentials),
      prepare: () => sink.prepare(target, credentials),
      read: (connectionId: string, facts: Facts, options?: ReadOptions) =>
        sink.read(target, credentials, connectionId, facts, options),
      create: (connectionId: string, payload: ConnectionPart["payload"]) =>
        sink.create(target, credentials, connectionId, payload),
      update: (connectionId: string, payload: ConnectionPart["payload"], facts: Facts | Record<string, never>) =>
        sink.update(target, credentials, connectionId, payload, facts),
      remove: (connectionId: string, facts: Facts) => sink.remove(target, credentials, connectionId, facts),
    };
  }

  /**
   * While the program runs, its own secret input wins; on refresh and destroy, where only state is
   * at hand, current config and environment win, so a rotated token still works.
   */
  private credentials(kind: SinkKind, own: Credentials, source: "program" | "stored"): Credentials {
    // Astro's API takes the Astro token; an Airflow API takes the Airflow token or password.
    const mine: Credentials =
      kind === "astro" ? { token: own.astroToken } : { token: own.token, password: own.password };
    const ambient: Credentials =
      kind === "astro"
        ? { token: this.ambient.astroToken }
        : { token: this.ambient.token, password: this.ambient.password };
    return source === "program"
      ? { token: mine.token ?? ambient.token, password: mine.password ?? ambient.password }
      : { token: ambient.token ?? mine.token, password: ambient.password ?? mine.password };
  }
}

async function advised<T>(operation: Operation, work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (error) {
    throw adviseFor(operation, error);
  }
}
