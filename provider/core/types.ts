import type { z } from "zod";
import type { GrantSummary } from "./review";

/**
 * The cloud-blind shapes of the resource: a grant (owned by one cloud plug-in) and a connection
 * (owned by one connection sink). The lifecycle speaks only these.
 */

export type ExtraValue = string | number | boolean | null;

/** The connection fields we write and can read back (Airflow never returns a password). */
export interface ConnectionPayload {
  conn_type: string;
  description: string | null;
  extra: Record<string, ExtraValue>;
}

export type AirflowAuth = { kind: "token" } | { kind: "password"; username: string };
export type ApiVersion = "v1" | "v2";

export interface AirflowTarget {
  url: string;
  apiVersion: ApiVersion | "detect";
  auth: AirflowAuth;
}

export interface Credentials {
  token?: string;
  password?: string;
  /** An Astro API token: for Astro's Environment Manager and the Deployment's own settings. */
  astroToken?: string;
}

export interface ConnectionTarget extends AirflowTarget {
  credentials: Credentials;
}

/**
 * `share`: a refresh's read, which may take its answer from one remote listing that reads of the
 * same place overlapping it share. Reads that check a write of ours leave it unset: a listing sent
 * before the write could not show it.
 */
export interface ReadOptions {
  share?: boolean;
}

/** The Airflow REST API's connections, as its driver sees them (one Airflow per call). */
export interface ConnectionDriver {
  apiVersion(target: ConnectionTarget): Promise<ApiVersion>;
  read(target: ConnectionTarget, connectionId: string, options?: ReadOptions): Promise<ConnectionPayload | undefined>;
  /** Throws ConnectionExistsError when the id is taken. */
  create(target: ConnectionTarget, connectionId: string, payload: ConnectionPayload): Promise<void>;
  /** Overwrites only the fields we manage (conn_type, description, extra). */
  update(target: ConnectionTarget, connectionId: string, payload: ConnectionPayload): Promise<void>;
  /** Absent is success. */
  remove(target: ConnectionTarget, connectionId: string): Promise<{ removed: boolean }>;
  /** The description of every connection of the Airflow (where other resources' claims are read). */
  descriptions(target: ConnectionTarget): Promise<Array<string | null>>;
}

/** A connection in Astro's Environment Manager: an environment object of type CONNECTION. */
export interface AstroTarget {
  organizationId: string;
  scope: "DEPLOYMENT" | "WORKSPACE";
  /** The Deployment or Workspace the object belongs to. */
  scopeEntityId: string;
  /** Deployments a Workspace-scoped connection is linked to (empty for a Deployment-scoped one). */
  links: string[];
}

/** Where connections live, by the key the plan holds their target under. */
export interface ConnectionTargets {
  airflow: AirflowTarget;
  astro: AstroTarget;
}
export type SinkKind = keyof ConnectionTargets;

/**
 * The seam to one place connections live. `prepare` learns what every call needs (Airflow's API
 * version); create and update return facts kept in state (Astro's environment object id), which
 * read, update and remove get back.
 */
export interface ConnectionSink<T> {
  /** The longest description the place keeps: a claim that would not fit is left out. */
  readonly maxDescriptionLength: number;
  prepare(target: T, credentials: Credentials): Promise<Resolved>;
  /** The connection as live, and the target when part of it can drift (Astro's links); undefined when absent. */
  read(
    target: T,
    credentials: Credentials,
    connectionId: string,
    facts: Resolved,
    options?: ReadOptions,
  ): Promise<{ payload: ConnectionPayload; target?: T } | undefined>;
  /** Throws ConnectionExistsError when the id is taken. */
  create(target: T, credentials: Credentials, connectionId: string, payload: ConnectionPayload): Promise<Resolved>;
  /** Overwrites what we manage; re-creates a connection deleted out of band. */
  update(
    target: T,
    credentials: Credentials,
    connectionId: string,
    payload: ConnectionPayload,
    facts: Resolved,
  ): Promise<Resolved>;
  /** Absent is success. */
  remove(target: T, credentials: Credentials, connectionId: string, facts: Resolved): Promise<{ removed: boolean }>;
  /**
   * The descriptions of every connection in the target's place (one Airflow, one Astro scope), as
   * live now: where the claims of the resources that share our grant entries are read.
   */
  descriptions(target: T, credentials: Credentials): Promise<Array<string | null>>;
}

/** Every planned grant names its cloud: the key of its plug-in. */
export interface GrantBase {
  cloud: string;
}

/** What a grant driver learned while applying (a role's ARN, which members existed before us). */
export type Resolved = Record<string, unknown>;

/**
 * The seam to one cloud's grant: read, ensure and remove the one grant a resource owns. The grant
 * passed in is the plan, or the state after a refresh (what is live, plus what we own).
 */
export interface GrantDriver<G extends GrantBase = GrantBase, R extends Resolved = Resolved> {
  /** The grant as live, in the plan's terms. Missing target: TargetMissingError. */
  read(grant: G, resolved: R): Promise<{ grant: G; resolved: R }>;
  /**
   * Adds our part, leaving everything else as it is. `previous` is the state before an update, so
   * the driver can tell what is already ours from what someone else made. `progress.factsKnown` is
   * called as soon as the facts the connection needs are known (a role's ARN, an identity's client
   * id), which may be well before the grant is written and verified. `found` holds the claim keys
   * of the units this package had made already, found before this call wrote anything (absent: the
   * driver cannot tell).
   */
  ensure(
    grant: G,
    previous?: { grant: G; resolved: R },
    progress?: EnsureProgress<R>,
  ): Promise<{ changed: boolean; resolved: R; found?: string[] }>;
  /** Removes our part only; absent is success. Missing target: TargetMissingError. */
  remove(grant: G, resolved: R): Promise<{ removed: boolean }>;
  /** Where claims on units shared across connection places are kept in the cloud; absent: nowhere. */
  readonly ledger?: ClaimLedger<G>;
}

/**
 * Claims kept in the cloud, beside the grant, on the units that resources whose connections live in
 * different places may share (an AWS cluster role trusted for Deployments in different Airflows,
 * an Azure role assignment of one identity federated for Deployments in different Airflows). A
 * connection's own claim is read only where it lives; these are read wherever the unit is.
 * Each instance's claim is a record of its own, written and removed whole, so writers never race
 * over one record.
 */
export interface ClaimLedger<G extends GrantBase = GrantBase> {
  /** Records this owner's claim on these digests (replacing an earlier one), before the grant is written. */
  record(grant: G, owner: string, digests: string[]): Promise<void>;
  /** Takes this owner's claim away; absent is success. */
  release(grant: G, owner: string): Promise<void>;
  /**
   * Every record kept beside the grant's target, by owner: an instance (12 hex digits) or a
   * handover (`handover-<digest>`, see `handoverOwner`), each with the digests it claims.
   */
  records(grant: G): Promise<ReadonlyMap<string, readonly string[]>>;
}

/** What a grant driver reports while it ensures a grant: lets the connection be written meanwhile. */
export interface EnsureProgress<R extends Resolved = Resolved> {
  factsKnown(resolved: Partial<R>): void;
}

/** What a reviewer and a program see of the grant (the component's `grant` output). */
export type GrantOutput = { cloud: string } & Record<string, unknown>;

/**
 * What the component shows of one cloud's authorization, from state. State keeps the plan's words
 * for what apply resolved (a role's ARN, an identity's client id), so that a refresh and a diff stay
 * quiet; the outputs show the resolved values. The program loads these: no schema, no driver.
 */
export interface GrantOutputs<
  G extends GrantBase = GrantBase,
  R extends Resolved = Resolved,
  O extends GrantOutput = GrantOutput,
> {
  /** The component's `grant` output. */
  grant(grant: G, resolved: R): O;
  /**
   * The component's `connection.extra`: state's `extra` as the connection holds it, each value in the
   * plan's words replaced by what apply resolved. Values a refresh found drifted stay as found.
   */
  connectionExtra(extra: Record<string, ExtraValue>, grant: G, resolved: R): Record<string, ExtraValue>;
}

export interface CommonInputs {
  owner: string;
  workloadIdentity?: string;
}

/** Reports one problem at a path relative to the whole inputs. */
export type IssueSink = (path: ReadonlyArray<string | number>, message: string) => void;

/**
 * What the provider needs of a cloud once the inputs are planned: when a change replaces, what is
 * stale after an update, what apply fills into the connection, how its part of the id reads and how
 * a reviewer reads the grant. It imports no schema, so a refresh or a destroy (which run no `check`)
 * load no zod.
 */
export interface GrantPlanner<G extends GrantBase = GrantBase, R extends Resolved = Resolved> {
  /** The input key that selects this plug-in (`aws`, `gcp`); also `grant.cloud` in the plan. */
  readonly cloud: string;
  /**
   * The input paths, as the program gives them (`aws.targetRole`, `azure.identity`), whose change
   * means another remote object: the resource is replaced. The engine prints them as the reason, and
   * the review names them, so they are the user's words, never the plan's fields.
   */
  replaces(old: G, next: G): string[];
  /** What of the old grant to take back after the new one is in; undefined when nothing. */
  stale(old: G, next: G): G | undefined;
  /**
   * One stable key per unit of access this grant holds (what `remove` takes away): a principal in a
   * role's statement, a member of a binding, a federated credential, a role assignment. Another
   * resource that holds the same unit has the same key: the two share it.
   */
  claims(grant: G): string[];
  /** The grant less the units whose keys are kept (another resource claims them); undefined when none is left. */
  withoutClaims(grant: G, kept: ReadonlySet<string>): G | undefined;
  /**
   * The keys (among `claims`) of units that resources whose connections live in other places may
   * share: claimed in the driver's ledger as well as in the connection. Absent: none.
   */
  sharedAcrossPlaces?(grant: G): string[];
  /** Keys of the units apply found granted already, which the resource leaves in place when it goes. */
  foundGranted(grant: G, resolved: R): string[];
  /** The facts once those of `claimed` are known to be another resource's share, to remove when neither claims them. */
  shareClaimed(grant: G, resolved: R, claimed: ReadonlySet<string>): R;
  /** This grant's part of the resource id. */
  idOf(grant: G): string;
  /** `extra` with what apply resolved filled in (a role given by name gets its ARN). */
  extraForApply(extra: Record<string, ExtraValue>, resolved: R): Record<string, ExtraValue>;
  /** A live `extra` value in the plan's terms: the resolved ARN reads as the plan's placeholder. */
  extraInPlanTerms(key: string, live: ExtraValue, planned: Record<string, ExtraValue>, resolved: R): ExtraValue;
  /** The grant in a reviewer's words: where it lives, one line per unit of access, what is risky. */
  summarize(grant: G): GrantSummary;
  /** What this grant makes of the Deployment's own settings; absent: the cloud offers none. */
  readonly deploymentSettings: DeploymentSettingsRules<G>;
}

/**
 * How one cloud's part of the inputs parses and what it plans: the part of a cloud that needs its
 * schema (zod), loaded by the first `check` only.
 */
export interface CloudInputs<Input = unknown, G extends GrantBase = GrantBase> {
  /** The schema of `inputs[cloud]`. */
  readonly schema: z.ZodType<Input>;
  /** `extra` keys this cloud sets itself; a user setting them is an error. */
  readonly reservedExtraKeys: readonly string[];
  /** `extra` keys refused for a reason of their own, with that reason. */
  readonly refusedExtraKeys?: Readonly<Record<string, string>>;
  /**
   * `extra` keys that this cloud's Airflow hooks read as a secret or as key material, each with
   * what it holds. Refused in any case and with any `extra__<conn type>__` prefix (the hooks read
   * the prefixed form too): the grant is keyless, and `extra` is plain text in state.
   */
  readonly secretExtraKeys: Readonly<Record<string, string>>;
  /**
   * Rules that join this cloud's inputs with the common ones (e.g. which need `workloadIdentity`).
   * Also called with the raw value when it did not parse, so read it defensively.
   */
  refine(input: Input, common: CommonInputs, issue: IssueSink): void;
  /** The exact grant and the connection type and `extra` fields it contributes. */
  plan(input: Input, common: CommonInputs): { grant: G; connType: string; extra: Record<string, ExtraValue> };
}

/** A cloud as `check` plans with it: its planner and its loaded inputs (`pluginOf` in `./cloud`). */
export interface GrantPlugin<Input = unknown, G extends GrantBase = GrantBase, R extends Resolved = Resolved>
  extends GrantPlanner<G, R>,
    CloudInputs<Input, G> {}

/** The result of a rule that may not apply to this grant: the value, or why not (a check failure). */
export type Allowed<T> = { ok: true; value: T } | { ok: false; reason: string };

/** How a grant becomes the Deployment's customer-managed identity and reaches a secrets backend. */
export interface DeploymentSettingsRules<G extends GrantBase = GrantBase> {
  /** The identity the Deployment runs as when this grant is its customer-managed identity. */
  customerManagedIdentity(grant: G): Allowed<string>;
  /**
   * Airflow's secrets backend that uses this grant, from the connection's `extra` (where the grant
   * already put its role or impersonation chain): the backend class and its kwargs.
   */
  secretsBackend(extra: Record<string, ExtraValue>): Allowed<SecretsBackend>;
  /** kwargs the grant sets itself (its role, its impersonation chain): not the user's to give. */
  readonly reservedKwargs: readonly string[];
}

/** Airflow's secrets backend: the backend class and its kwargs (`AIRFLOW__SECRETS__BACKEND[_KWARGS]`). */
export interface SecretsBackend {
  backend: string;
  kwargs: Record<string, ExtraValue>;
}

/**
 * Settings of the Astro Deployment itself that this resource owns: its workload identity (when it
 * is the grant's customer-managed identity) and the secrets backend. Only these; everything else
 * on the Deployment is sent back as it was read.
 */
export interface DeploymentSettings {
  organizationId: string;
  deploymentId: string;
  workloadIdentity?: { identity: string; restoreOnDelete: boolean };
  secretsBackend?: SecretsBackend;
}

/** Which Deployment, and what of it to set: an identity, and environment variables by key. */
export interface DeploymentChange {
  organizationId: string;
  deploymentId: string;
  /** Set as the Deployment's workloadIdentity; undefined leaves the identity as it is. */
  workloadIdentity?: string;
  /** Our variables (plain: they hold no credentials). */
  environmentVariables: Record<string, string>;
  /** Keys a previous apply of this resource wrote: replaced or dropped; other keys are never touched. */
  ownedKeys: readonly string[];
}

/** What the Deployment shows of the settings we own. */
export interface LiveDeploymentSettings {
  /** `effectiveWorkloadIdentity`: the one set, or Astro's default. */
  effectiveWorkloadIdentity?: string;
  /** The values of the keys asked for, as live (a key someone removed is absent). */
  environmentVariables: Record<string, string>;
}

/** The seam to the Deployment's own settings (Astro's UpdateDeployment, a full replace). */
export interface DeploymentSettingsDriver {
  read(
    deployment: Pick<DeploymentChange, "organizationId" | "deploymentId">,
    keys: readonly string[],
    credentials: Credentials,
  ): Promise<LiveDeploymentSettings>;
  /**
   * Makes the Deployment show the change, keeping every other field and variable (secret ones
   * included) as read. A key we do not own that holds another value is a conflict. Waits until the
   * effective identity shows the one set, and returns the one shown before when it changed.
   */
  apply(change: DeploymentChange, credentials: Credentials): Promise<{ previousWorkloadIdentity?: string }>;
  /** Drops `ownedKeys` (and sets `workloadIdentity` back when given); a missing Deployment is success. */
  remove(change: Omit<DeploymentChange, "environmentVariables">, credentials: Credentials): Promise<void>;
}

/** The plan `check` returns: these are the resource's inputs, so `preview --diff` shows them. */
export interface PlannedAuthorization<G extends GrantBase = GrantBase> {
  owner: string;
  workloadIdentity?: string;
  grant: G;
  connection: {
    /** Exactly one target: the key says where the connection lives. */
    airflow?: AirflowTarget;
    astro?: AstroTarget;
    connectionId: string;
    adoptExisting: boolean;
    payload: ConnectionPayload;
  };
  /** The Deployment's own settings this resource owns (with `deployment` and what it asks for). */
  deploymentSettings?: DeploymentSettings;
  credentials?: Credentials;
}

/** What state holds: the plan, or what `read` found live, plus facts learned while applying. */
export interface AuthorizationState<G extends GrantBase = GrantBase, R extends Resolved = Resolved>
  extends Omit<PlannedAuthorization<G>, "connection"> {
  connection: Omit<PlannedAuthorization<G>["connection"], "payload"> & { payload: ConnectionPayload | null };
  /** The grant driver's and the connection sink's facts, side by side (one flat object). */
  resolved: R & {
    apiVersion?: ApiVersion;
    environmentObjectId?: string;
    /** The Deployment's effective identity before this resource set its own. */
    previousWorkloadIdentity?: string;
    /** Made by the create that made the connection and written into its claim; absent in state of earlier releases. */
    instance?: string;
    /**
     * Digests of the units this resource found made already by this package, with no claim where
     * its connection lives (a resource elsewhere, or an interrupted create of its own made them):
     * claimed in the cloud's ledger and shared, the last claimant removes them.
     */
    sharesRecorded?: string[];
    /**
     * Digests of the units this resource relies on that it found granted already and that may be a
     * stranger's (a Google member): claimed in the cloud's ledger, and removed only once their owner
     * has handed them over (see `handoverOwner`).
     */
    sharesFound?: string[];
  };
}

export interface Drivers {
  /** One driver per cloud key. */
  grants: Record<string, GrantDriver>;
  /**
   * Makes the cloud's driver ready, loading its code (and its SDK) on first use, before the lifecycle
   * reads it from `grants`; absent: every driver in `grants` is ready.
   */
  prepare?(cloud: string): Promise<void>;
  /** One sink per place connections live. */
  connections: { [K in SinkKind]?: ConnectionSink<ConnectionTargets[K]> };
  /** The Deployment's own settings (Astro), when a resource owns some. */
  deploymentSettings?: DeploymentSettingsDriver;
}
