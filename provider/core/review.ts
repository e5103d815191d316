import { canonical } from "./canonical";
import { pluginFor } from "./plugins";
import type { AuthorizationState, ExtraValue, GrantPlanner, PlannedAuthorization } from "./types";

/**
 * One authorization's change in a reviewer's terms: what access it grants or takes away and where,
 * what happens to the connection, and what deserves a second look. The provider's `diff` is a part
 * of this (see diffAuthorization), so a review and the engine never disagree.
 */
export interface AuthorizationReview {
  operation: "create" | "update" | "replace" | "delete" | "same";
  cloud: string;
  /** Where the grant lives after the change (before it, for a delete): `grant.from` and `grant.to` say both. */
  target: string;
  grant: GrantChange;
  connection: ConnectionReview;
  /** The Astro Deployment's own settings (identity, secrets backend), when the resource owns any. */
  deploymentSettings: FieldChange[];
  /**
   * The inputs, by their path in the program (`aws.targetRole`, `connection.connectionId`), whose
   * change replaces the resource; the engine gives the same as the replacement's reason.
   */
  replaces: string[];
  deleteBeforeReplace: boolean;
  risks: string[];
  /** True when anything the resource manages differs (what the engine's diff reports). */
  changed: boolean;
}

/**
 * The grant's entries (one per unit of access) taken from where it lived and written where it will
 * live. A replacement deletes first, so it removes every old entry and adds every new one, even on
 * the same target and even when they read the same.
 */
export interface GrantChange {
  /** Where `removed` is taken from: the target before the change; absent for a create. */
  from?: string;
  /** Where `added` is written: the target after the change; absent for a delete. */
  to?: string;
  added: string[];
  removed: string[];
  /** Entries on the same target before and after that stay as they are. */
  unchanged: number;
}

/** What happens to the connection, and which of its fields change. */
export interface ConnectionReview {
  /**
   * `replace`: the connection is deleted where it was (`previous`) before it is created where it
   * will be, even when both are the same id in the same place.
   */
  action: "create" | "update" | "replace" | "delete" | "same";
  /** After the change (before it, for a delete). */
  connectionId: string;
  /** Where it lives: the Airflow API URL, or the Astro scope. After the change (before it, for a delete). */
  location: string;
  /** The connection a replacement deletes. */
  previous?: { connectionId: string; location: string };
  changes: FieldChange[];
}

export interface FieldChange {
  field: string;
  before: ExtraValue | undefined;
  after: ExtraValue | undefined;
}

/** What a grant holds, in a reviewer's words, for the review (one line per unit of access). */
export interface GrantSummary {
  target: string;
  entries: string[];
  risks: string[];
}

type Subject = AuthorizationState | PlannedAuthorization;

/** The review of one authorization: olds is undefined for a create, news for a delete. */
export function reviewAuthorization(
  plugins: ReadonlyMap<string, GrantPlanner>,
  olds: AuthorizationState | undefined,
  news: PlannedAuthorization | undefined,
): AuthorizationReview {
  const subject = (news ?? olds)!;
  const before = olds ? summary(plugins, olds) : undefined;
  const after = news ? summary(plugins, news) : undefined;

  const replaces = olds && news ? replacedBy(plugins, olds, news) : [];
  const changed = !olds || !news || replaces.length > 0 || comparable(olds) !== comparable(news);
  // Grants are shared entries and connections keep their id: the old one must go before the new one
  // comes, or removing the old would take the new one's entry (or the create would collide).
  const deleteBeforeReplace = replaces.length > 0;
  const operation = !olds ? "create" : !news ? "delete" : replaces.length ? "replace" : changed ? "update" : "same";

  const risks = [...(after?.risks ?? [])];
  if (deleteBeforeReplace) {
    risks.push(
      `replacement deletes first (${replaces.join(", ")} changed): the old grant and connection go before the new ones ` +
        `exist, so the Deployment has no access for the length of the update`,
    );
  }
  const identity = (s: Subject | undefined) => s?.deploymentSettings?.workloadIdentity?.identity;
  if (news && identity(news) !== undefined && identity(news) !== identity(olds)) {
    risks.push(
      `changes the identity Deployment ${news.deploymentSettings!.deploymentId} runs as, to ${identity(news)}`,
    );
  }

  const changes = connectionChanges(olds, news);
  return {
    operation,
    cloud: subject.grant.cloud,
    target: after?.target ?? before!.target,
    grant: grantChange(before, after, operation === "replace"),
    connection: {
      action: operation === "update" && changes.length === 0 ? "same" : operation,
      connectionId: subject.connection.connectionId,
      location: locationOf(subject),
      ...(operation === "replace"
        ? { previous: { connectionId: olds!.connection.connectionId, location: locationOf(olds!) } }
        : {}),
      changes,
    },
    deploymentSettings: settingsChanges(olds, news),
    replaces,
    deleteBeforeReplace,
    risks,
    changed,
  };
}

/**
 * The inputs whose change makes the resource manage other remote objects, by their path in the
 * program. Each cloud's planner names its own (its target); the connection's and the Deployment's
 * are the same for every cloud.
 */
function replacedBy(
  plugins: ReadonlyMap<string, GrantPlanner>,
  olds: AuthorizationState,
  news: PlannedAuthorization,
): string[] {
  const replaces: string[] = [];
  // Another cloud: the program dropped one cloud's key and gave another's.
  if (olds.grant.cloud !== news.grant.cloud) replaces.push(olds.grant.cloud, news.grant.cloud);
  else replaces.push(...pluginFor(plugins, news.grant.cloud).replaces(olds.grant, news.grant));
  const [was, will] = [olds.connection, news.connection];
  if ((was.airflow === undefined) !== (will.airflow === undefined)) {
    replaces.push("connection.target");
  } else {
    if (was.airflow?.url !== will.airflow?.url) replaces.push("connection.airflow.url");
    if (was.astro?.scopeEntityId !== will.astro?.scopeEntityId) {
      // The scope's id is the Deployment's or the Workspace's: the input that named it, before and after.
      for (const astro of [was.astro, will.astro]) {
        const path = astro?.scope === "WORKSPACE" ? "connection.astro.workspaceId" : "connection.astro.deploymentId";
        if (!replaces.includes(path)) replaces.push(path);
      }
    }
  }
  if (was.connectionId !== will.connectionId) replaces.push("connection.connectionId");
  const [settingsWere, settingsWillBe] = [olds.deploymentSettings, news.deploymentSettings];
  if (settingsWere && settingsWillBe && settingsWere.deploymentId !== settingsWillBe.deploymentId) {
    replaces.push("deployment.deploymentId");
  }
  return replaces;
}

function grantChange(
  before: GrantSummary | undefined,
  after: GrantSummary | undefined,
  replaced: boolean,
): GrantChange {
  const where = { ...(before ? { from: before.target } : {}), ...(after ? { to: after.target } : {}) };
  const oldEntries = new Set(before?.entries ?? []);
  const newEntries = new Set(after?.entries ?? []);
  if (replaced || before?.target !== after?.target) {
    return { ...where, added: [...newEntries], removed: [...oldEntries], unchanged: 0 };
  }
  return {
    ...where,
    added: [...newEntries].filter((e) => !oldEntries.has(e)),
    removed: [...oldEntries].filter((e) => !newEntries.has(e)),
    unchanged: [...newEntries].filter((e) => oldEntries.has(e)).length,
  };
}

function summary(plugins: ReadonlyMap<string, GrantPlanner>, s: Subject): GrantSummary {
  return pluginFor(plugins, s.grant.cloud).summarize(s.grant);
}

function locationOf(s: Subject): string {
  const astro = s.connection.astro;
  if (astro) return `Astro's Environment Manager, ${astro.scope.toLowerCase()} ${astro.scopeEntityId}`;
  return `the Airflow API at ${s.connection.airflow?.url ?? "(unknown)"}`;
}

function connectionChanges(olds: Subject | undefined, news: Subject | undefined): FieldChange[] {
  const flat = (s: Subject | undefined): Record<string, ExtraValue> => {
    if (!s) return {};
    const payload = s.connection.payload;
    const fields: Record<string, ExtraValue> = {
      connectionId: s.connection.connectionId,
      location: locationOf(s),
    };
    if (payload) {
      fields.conn_type = payload.conn_type;
      fields.description = payload.description;
      for (const [key, value] of Object.entries(payload.extra)) fields[`extra.${key}`] = value;
    }
    return fields;
  };
  return fieldChanges(flat(olds), flat(news));
}

function settingsChanges(olds: Subject | undefined, news: Subject | undefined): FieldChange[] {
  const flat = (s: Subject | undefined): Record<string, ExtraValue> => {
    const settings = s?.deploymentSettings;
    if (!settings) return {};
    const fields: Record<string, ExtraValue> = { deployment: settings.deploymentId };
    if (settings.workloadIdentity) fields.workloadIdentity = settings.workloadIdentity.identity;
    if (settings.secretsBackend) {
      fields["secretsBackend.backend"] = settings.secretsBackend.backend;
      for (const [key, value] of Object.entries(settings.secretsBackend.kwargs)) {
        fields[`secretsBackend.kwargs.${key}`] = value;
      }
    }
    return fields;
  };
  return fieldChanges(flat(olds), flat(news));
}

function fieldChanges(before: Record<string, ExtraValue>, after: Record<string, ExtraValue>): FieldChange[] {
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  return keys
    .filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]))
    .map((field) => ({ field, before: before[field], after: after[field] }));
}

function comparable(s: Subject): string {
  const value = {
    owner: s.owner,
    workloadIdentity: s.workloadIdentity,
    grant: s.grant,
    connection: s.connection,
    deploymentSettings: s.deploymentSettings,
    credentials: s.credentials ?? null,
  };
  return canonical(JSON.parse(JSON.stringify(value)) as Parameters<typeof canonical>[0]);
}
