import { createHash } from "node:crypto";
import {
  deploymentChange,
  ownedKeysOf,
  settingsInPlanTerms,
  SECRETS_BACKEND_KEYS,
} from "../astro/deploymentSettingsPlan";
import { sameConnectionPayload } from "./canonical";
import {
  FreshListings,
  claimDigest,
  claimOf,
  claimedByOthers,
  handoverOwner,
  ledgerRecord,
  newInstance,
  readLedger,
  withClaim,
  withoutClaim,
} from "./claims";
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
    private readonly ledgerListings: FreshListings<ReadonlyMap<string, readonly string[]>> = new FreshListings(),
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
    let failure: unknown;
    if (grant.status === "fulfilled" && made.status === "fulfilled") {
      try {
        const granted = await this.withSharesKnown(plugin, driver, planned.grant, grant.value, planned, instance, []);
        return {
          id: this.idOf(planned),
          outs: { ...planned, resolved: { ...granted, ...made.value, ...applied, instance } },
        };
      } catch (error) {
        failure = error;
      }
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
    // Its claim on the shares it found goes too: as the last of them, its claim is the whole record.
    await driver.ledger?.release(planned.grant, instance).catch(() => undefined);
    if (failure !== undefined) throw failure;
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
   * What of the grant to take away: the grant less every unit that another instance claims, in the
   * connection's place or in the cloud's ledger, and less every unit this resource found granted
   * already (`sharesFound`) whose owner has not handed it over. Asked after our own connection and
   * ledger record are written or gone, so of two resources taking one unit away at once, the later
   * one sees neither's claim and removes it. A unit of ours kept only for resources that claim it in
   * the ledger (found it granted, or share it across places) is handed over to them first: the last
   * of them removes it. `takenOver` are the found units handed over to us, to remove as our own.
   */
  private async unclaimed<G extends AuthorizationState["grant"]>(
    plugin: GrantPlanner,
    driver: GrantDriver,
    grant: G,
    subject: ClaimSubject,
    instance: string | undefined,
    source: "program" | "stored",
    sharesFound: readonly string[],
  ): Promise<{ grant: G | undefined; takenOver: Set<string>; handoversDone: string[] }> {
    const keys = plugin.claims(grant);
    const [atPlace, records] = await Promise.all([
      this.keysOthersClaim(keys, subject, instance, source),
      this.ledgerRecords(plugin, driver, grant),
    ]);
    const ledger = readLedger(records, instance);
    const kept = new Set<string>();
    const takenOver = new Set<string>();
    const toHandOver: string[] = [];
    for (const key of keys) {
      const digest = claimDigest(key);
      const found = sharesFound.includes(digest);
      const ours = !found || ledger.handovers.has(digest);
      if (atPlace.has(key) || ledger.owned.has(digest) || ledger.found.has(digest)) {
        kept.add(key);
        // Those that found it granted do not own it: they may remove it once we hand it over.
        if (ours && ledger.found.has(digest) && !ledger.handovers.has(digest)) toHandOver.push(digest);
      } else if (!ours) kept.add(key);
      else if (found) takenOver.add(key);
    }
    for (const digest of await this.handOver(plugin, driver, grant, instance, toHandOver)) {
      const key = keys.find((k) => claimDigest(k) === digest)!;
      if (atPlace.has(key)) continue;
      kept.delete(key);
      ledger.handovers.add(digest);
    }
    const handoversDone = keys
      .filter((key) => !kept.has(key))
      .map(claimDigest)
      .filter((digest) => ledger.handovers.has(digest));
    const left = (kept.size === 0 ? grant : plugin.withoutClaims(grant, kept)) as G | undefined;
    return { grant: left, takenOver, handoversDone };
  }

  /**
   * Records a handover of each of these units, then reads the ledger again: one that found a unit
   * and went meanwhile may have looked before the handover was there. Returns the digests nobody
   * claims in the ledger any more, ours to remove after all.
   */
  private async handOver(
    plugin: GrantPlanner,
    driver: GrantDriver,
    grant: AuthorizationState["grant"],
    instance: string | undefined,
    digests: readonly string[],
  ): Promise<string[]> {
    if (digests.length === 0) return [];
    for (const digest of digests) await driver.ledger!.record(grant, handoverOwner(digest), [digest]);
    const now = readLedger(await this.ledgerRecords(plugin, driver, grant), instance);
    return digests.filter((digest) => !now.owned.has(digest) && !now.found.has(digest));
  }

  /** Takes away what `unclaimed` left, then the handovers of the units it removed. */
  private async removeUnclaimed(
    plugin: GrantPlanner,
    driver: GrantDriver,
    unclaimed: Awaited<ReturnType<AuthorizationLifecycle["unclaimed"]>>,
    resolved: Facts,
  ): Promise<void> {
    if (!unclaimed.grant) return;
    const facts =
      unclaimed.takenOver.size > 0 ? plugin.shareClaimed(unclaimed.grant, resolved, unclaimed.takenOver) : resolved;
    await driver.remove(unclaimed.grant, facts);
    for (const digest of unclaimed.handoversDone) await driver.ledger!.release(unclaimed.grant, handoverOwner(digest));
  }

  /** The ledger's records on the grant's target, from a listing started after the call (one for deletes at once). */
  private ledgerRecords(
    plugin: GrantPlanner,
    driver: GrantDriver,
    grant: AuthorizationState["grant"],
  ): Promise<ReadonlyMap<string, readonly string[]>> {
    const ledger = driver.ledger;
    if (!ledger) return Promise.resolve(new Map());
    return this.ledgerListings.get(`${plugin.cloud} ${plugin.idOf(grant)}`, () => ledger.records(grant));
  }

  /** The units that resources in other places may share, as digests for a ledger claim. */
  private crossPlaceDigests(plugin: GrantPlanner, grant: AuthorizationState["grant"]): string[] {
    return (plugin.sharedAcrossPlaces?.(grant) ?? []).map(claimDigest);
  }

  /**
   * This instance's claim in the cloud on the units other places may share and on those it found
   * granted already; released when there are none.
   */
  private async recordClaim(
    plugin: GrantPlanner,
    driver: GrantDriver,
    grant: AuthorizationState["grant"],
    instance: string,
    shares: LedgerShares = {},
  ): Promise<void> {
    if (!driver.ledger) return;
    const owned = [...this.crossPlaceDigests(plugin, grant), ...(shares.sharesRecorded ?? [])];
    const digests = ledgerRecord(owned, shares.sharesFound ?? []);
    if (digests.length > 0) await driver.ledger.record(grant, instance, digests);
  }

  private async releaseClaim(
    plugin: GrantPlanner,
    driver: GrantDriver,
    grant: AuthorizationState["grant"],
    instance: string | undefined,
    shares: LedgerShares = {},
  ): Promise<void> {
    if (!driver.ledger || instance === undefined) return;
    if (this.crossPlaceDigests(plugin, grant).length === 0 && !hasShares(shares)) return;
    await driver.ledger.release(grant, instance);
  }

  /**
   * The facts once the units that apply found granted already are sorted out. One that another
   * instance claims in the connection's place, or owns in the cloud's ledger, is that resource's
   * share and ours too (removed when neither claims it). One that nobody here claims was granted
   * by a resource whose connection lives elsewhere, by an interrupted create of this resource, by
   * an earlier release or by hand, and this resource claims it in the ledger, where an owner
   * elsewhere sees the claim before it removes the unit:
   * - one the driver found made by this package (`ensured.found`: our statement's entry, our
   *   credential's name) is shared (`sharesRecorded`): the last of its claimants removes it, so an
   *   interrupted create's leftovers go with the resource that found them;
   * - one that may be a stranger's (`foundGranted`: a Google member) is relied on, not owned
   *   (`sharesFound`): its owner hands it over when it goes (see `unclaimed`).
   * `ownedBefore` are the units an update found that this resource made itself.
   */
  private async withSharesKnown(
    plugin: GrantPlanner,
    driver: GrantDriver,
    grant: AuthorizationState["grant"],
    ensured: { resolved: Facts; found?: string[] },
    subject: ClaimSubject,
    instance: string,
    ownedBefore: readonly string[],
  ): Promise<Facts> {
    const fresh = (keys: readonly string[]) => [...new Set(keys)].filter((key) => !ownedBefore.includes(key));
    const ours = fresh(ensured.found ?? []);
    const anyones = fresh(plugin.foundGranted(grant, ensured.resolved)).filter((key) => !ours.includes(key));
    const found = [...ours, ...anyones];
    if (found.length === 0) return ensured.resolved;
    const [atPlace, records] = await Promise.all([
      this.keysOthersClaim(found, subject, instance, "program"),
      this.ledgerRecords(plugin, driver, grant),
    ]);
    const ledger = readLedger(records, instance);
    // One claimed here only by a resource that found it itself is not an owner's share: its owner is
    // unseen. One that an owner keeps in the ledger is a share across places: the claim goes there too.
    const coOwned = new Set(
      anyones.filter(
        (key) => (atPlace.has(key) && !ledger.found.has(claimDigest(key))) || ledger.owned.has(claimDigest(key)),
      ),
    );
    const acrossPlaces = (key: string) => ledger.owned.has(claimDigest(key)) || ledger.found.has(claimDigest(key));
    const sharesRecorded = [
      ...ours.filter((key) => !atPlace.has(key) || acrossPlaces(key)),
      ...anyones.filter((key) => coOwned.has(key) && ledger.owned.has(claimDigest(key))),
    ].map(claimDigest);
    const sharesFound = anyones.filter((key) => !coOwned.has(key)).map(claimDigest);
    const resolved = coOwned.size === 0 ? ensured.resolved : plugin.shareClaimed(grant, ensured.resolved, coOwned);
    if (!driver.ledger || (sharesRecorded.length === 0 && sharesFound.length === 0)) return resolved;
    await this.recordClaim(plugin, driver, grant, instance, { sharesRecorded, sharesFound });
    return {
      ...resolved,
      ...(sharesRecorded.length > 0 ? { sharesRecorded } : {}),
      ...(sharesFound.length > 0 ? { sharesFound } : {}),
    };
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
    const sharesBefore = sharesOf(olds.resolved);
    const foundBefore = sharesBefore.sharesFound ?? [];
    // The shares found before stay claimed until this update has found them again (or made them).
    if (this.crossPlaceDigests(plugin, news.grant).length > 0 || hasShares(sharesBefore))
      await this.recordClaim(plugin, driver, news.grant, instance, sharesBefore);
    else await this.releaseClaim(plugin, driver, olds.grant, olds.resolved.instance);
    const ensured = await driver.ensure(news.grant, { grant: olds.grant, resolved: olds.resolved });
    const { resolved } = ensured;
    const settingsFacts = await this.updateSettings(plugin, olds, news, resolved);
    const facts = await connection.prepare();
    const updated = await connection.update(
      news.connection.connectionId,
      this.written(plugin, news, instance, resolved, connection.maxDescriptionLength),
      olds.resolved,
    );
    // Taken back once the connection claims what it now relies on, and only what nobody else claims.
    const stale = plugin.stale(olds.grant, news.grant);
    if (stale) {
      const unclaimed = await this.unclaimed(plugin, driver, stale, news, instance, "program", foundBefore);
      await this.removeUnclaimed(plugin, driver, unclaimed, olds.resolved);
    }
    const kept = olds.resolved.environmentObjectId ? { environmentObjectId: olds.resolved.environmentObjectId } : {};
    const ownedBefore = plugin.claims(olds.grant).filter((key) => {
      const digest = claimDigest(key);
      return !foundBefore.includes(digest) && !(sharesBefore.sharesRecorded ?? []).includes(digest);
    });
    const granted = await this.withSharesKnown(plugin, driver, news.grant, ensured, news, instance, ownedBefore);
    if (!hasShares(sharesOf(granted)) && hasShares(sharesBefore)) {
      // None found any more: the record keeps only the units shared across places, if any.
      if (this.crossPlaceDigests(plugin, news.grant).length > 0)
        await this.recordClaim(plugin, driver, news.grant, instance);
      else await this.releaseClaim(plugin, driver, news.grant, instance, sharesBefore);
    }
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
    const shares = sharesOf(state.resolved);
    await this.releaseClaim(plugin, driver, state.grant, instance, shares);
    const unclaimed = await this.unclaimed(
      plugin,
      driver,
      state.grant,
      state,
      instance,
      "stored",
      shares.sharesFound ?? [],
    );
    await this.removeUnclaimed(plugin, driver, unclaimed, state.resolved);
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

/** The units a resource found granted already and claims in the ledger (see `withSharesKnown`). */
type LedgerShares = { sharesRecorded?: string[]; sharesFound?: string[] };

function sharesOf(resolved: Facts): LedgerShares {
  return { sharesRecorded: resolved.sharesRecorded, sharesFound: resolved.sharesFound };
}

function hasShares(shares: LedgerShares): boolean {
  return (shares.sharesRecorded?.length ?? 0) > 0 || (shares.sharesFound?.length ?? 0) > 0;
}

async function advised<T>(operation: Operation, work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (error) {
    throw adviseFor(operation, error);
  }
}
