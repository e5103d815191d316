import { DEFAULT_SERVICE_ACCOUNTS, SERVICE_ACCOUNT_COMPONENTS, serviceAccountName } from "../astro/naming";
import { claimOf } from "./claims";
import { ownerInDescription } from "./plan";
import { SENSITIVE_EXTRA_KEY } from "./schema";
import type { ExtraValue } from "./types";

/**
 * What `discover` and a cloud's discovery share: the Deployments and connections read, what a match
 * becomes (an authorization for the program, or something left out and why), and the pool that
 * hands each connection to one authorization at most. Each cloud matches its own targets
 * (`provider/grants/<cloud>/discover.ts`); the command line reads and renders.
 */

/** A Deployment whose grants to look for: given on the command line, or read from Astro. */
export interface DeploymentRef {
  /** Its name in the program and the report. */
  name: string;
  /** Its workload identity: an IAM role ARN, or a service account e-mail. */
  identity?: string;
  /** Its Kubernetes namespace (web identity on AWS, Workload Identity on GCP, federation on Azure). */
  namespace?: string;
  oidcIssuerUrl?: string;
  /** The Airflow whose connections belong to it. */
  airflowUrl?: string;
  /** Read from the Astro Platform API: the program names it, and the component reads the rest. */
  astro?: { organizationId: string; deploymentId: string };
}

export interface LiveConnection {
  connectionId: string;
  conn_type: string;
  description: string | null;
  extra: Record<string, ExtraValue>;
}

/** Everything read from the targets and Airflows given. */
export interface Inventory {
  deployments: DeploymentRef[];
  /** By Airflow URL. */
  connections: Record<string, LiveConnection[]>;
  /** What each cloud's discovery read of its targets, by cloud key, in the order the targets were given. */
  clouds: Record<string, unknown[]>;
}

export interface MatchOptions {
  /** Ask the resources to take hand-made grants over (removed once ours holds, and on destroy). */
  takeOver: boolean;
  /** For AWS connections without `region_name`. */
  defaultRegion: string;
}

/** One authorization for the program: the component's arguments as plain data. */
export interface FoundAuthorization {
  name: string;
  deployment: DeploymentRef;
  /** The cloud's key (`aws`, `gcp`, `azure`, ...). */
  cloud: string;
  /** The cloud's arguments (`aws`, `gcp` or `azure`). */
  grant: Record<string, unknown>;
  /** The Deployment's own identity, where the grant trusts it (not with Astro: the component reads it). */
  workloadIdentity?: string;
  connection: {
    connectionId: string;
    /** An existing connection the resource takes over (`adoptExisting`). */
    adopted: boolean;
    description?: string;
    extra?: Record<string, ExtraValue>;
  };
  /** What the resource does to what exists, in a reviewer's words. */
  notes: string[];
}

/** Something found that the program does not declare, and why. */
export interface Unmatched {
  where: string;
  what: string;
}

export interface Discovery {
  authorizations: FoundAuthorization[];
  unmatched: Unmatched[];
  /**
   * Grants a DeploymentAuthorization already owns (our Sid, our credential names) and connections
   * one manages (its description names the stack): nothing to adopt.
   */
  alreadyManaged: string[];
}

/** What one matching pass writes to, and the Deployments some of whose grants it left out. */
export interface Findings extends Discovery {
  leftOutFor: Set<string>;
}

/** A Kubernetes service account as a federated subject: its namespace and its name. */
export const SUBJECT = /^system:serviceaccount:([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?):(.+)$/;

/** One cloud's discovery, loaded by the command line only. */
export interface CloudDiscoverer<Remote = unknown, Live = unknown> {
  /** Reads each target once (by option, as given), through the cloud's own driver; changes nothing. */
  read(targets: Readonly<Record<string, readonly string[]>>, remote: Remote): Promise<Live[]>;
  /** Matches what one target holds to the Deployments, taking the connections it uses from the pool. */
  match(live: Live, deployments: DeploymentRef[], pool: ConnectionPool, options: MatchOptions, out: Findings): void;
}

/** What the command line offers for a cloud's discovery, and the discoverer itself, loaded when used. */
export interface CloudDiscovery<Remote = unknown> {
  /** Options that name where to look, each repeatable: `--<option> <value>`, with its help line. */
  readonly targets: ReadonlyArray<{ option: string; value: string; help: string }>;
  /** The connection types of the Airflow connections that can use this cloud's grants. */
  readonly connTypes: readonly string[];
  load(): Promise<CloudDiscoverer<Remote>>;
}

/** Who manages a connection whose description names its owner, `<project>/<stack>/<name>`. */
/**
 * Who manages a connection, from its description: the default one names the stack and resource; a
 * claim alone (a description the program set) says only that a resource of this package holds it.
 */
export function managerOf(description: string | null): string | undefined {
  const owner = ownerInDescription(description);
  if (owner) return managedBy(owner);
  const claim = claimOf(description);
  return claim
    ? `managed by a DeploymentAuthorization (instance ${claim.instance}; its description does not name the stack): never taken over`
    : undefined;
}

export function managedBy(owner: string): string {
  const [project, stack, ...name] = owner.split("/");
  return name.length > 0
    ? `managed by stack ${project}/${stack} (DeploymentAuthorization ${name.join("/")}): never taken over`
    : `managed by DeploymentAuthorization ${owner}: never taken over`;
}

/**
 * The connections of each Airflow, each handed out at most once: one resource writes one
 * connection, and none that a stack manages is handed out. What becomes of the rest is kept until
 * the end, so that each is reported once.
 */
export class ConnectionPool {
  private readonly used = new Set<string>();
  private readonly relevant = new Set<string>();
  /** Connections that fit a grant for which another one was taken: why, by key. */
  private readonly passedOver = new Map<string, string>();

  constructor(private readonly byUrl: Record<string, LiveConnection[]>) {}

  /**
   * The first unused connection that `fits`, by id, that no stack manages; those that fit but a
   * stack manages come back as `managed`. The other fitting ones are noted with `passedOver`'s reason.
   */
  take(
    url: string | undefined,
    fits: (c: LiveConnection) => boolean,
    passedOver: (chosen: LiveConnection) => string,
  ): { chosen?: LiveConnection; managed: LiveConnection[] } {
    if (!url) return { managed: [] };
    const fitting = (this.byUrl[url] ?? [])
      .filter((c) => !this.used.has(key(url, c)) && fits(c))
      .sort((a, b) => a.connectionId.localeCompare(b.connectionId));
    const managed = fitting.filter((c) => managerOf(c.description) !== undefined);
    const [chosen, ...others] = fitting.filter((c) => !managed.includes(c));
    for (const c of managed) this.relevant.add(key(url, c));
    if (chosen) {
      this.used.add(key(url, chosen));
      for (const other of others) {
        if (!this.passedOver.has(key(url, other))) this.passedOver.set(key(url, other), passedOver(chosen));
      }
    }
    return { chosen, managed };
  }

  /** Every connection of that Airflow, used or not. */
  all(url: string | undefined): LiveConnection[] {
    return (url ? this.byUrl[url] : undefined) ?? [];
  }

  /** Marks connections that refer to a target given: those left unused at the end are reported. */
  markRelevant(fits: (c: LiveConnection) => boolean) {
    for (const [url, list] of Object.entries(this.byUrl)) {
      for (const c of list) if (fits(c)) this.relevant.add(key(url, c));
    }
  }

  /** The connections not taken over that refer to a target given, each once, with why one was passed over. */
  leftOver(): Array<{ url: string; connection: LiveConnection; passedOver?: string }> {
    return Object.entries(this.byUrl).flatMap(([url, list]) =>
      list
        .filter(
          (c) => !this.used.has(key(url, c)) && (this.relevant.has(key(url, c)) || this.passedOver.has(key(url, c))),
        )
        .map((c) => {
          const reason = this.passedOver.get(key(url, c));
          return { url, connection: c, ...(reason ? { passedOver: reason } : {}) };
        }),
    );
  }

  /** A connection id free in that Airflow, for a grant found without a connection. */
  freeId(url: string | undefined, wanted: string): string {
    const taken = new Set((url ? this.byUrl[url] : undefined)?.map((c) => c.connectionId) ?? []);
    for (let n = 1; ; n++) {
      const id = n === 1 ? wanted : `${wanted}_${n}`;
      if (!taken.has(id)) return id;
    }
  }
}

function key(url: string, c: LiveConnection) {
  return `${url}\u0000${c.connectionId}`;
}

/** The connection half: the one found (taken over), or a new id when none exists. */
export function connectionFor(
  pool: ConnectionPool,
  deployment: DeploymentRef,
  fits: (c: LiveConnection) => boolean,
  newId: string,
  reservedKeys: readonly string[],
  what: string,
): { connection: FoundAuthorization["connection"]; live?: LiveConnection; notes: string[] } {
  const { chosen, managed } = pool.take(
    deployment.airflowUrl,
    fits,
    (taken) => `also uses ${what}; one resource writes one connection, and ${taken.connectionId} was taken`,
  );
  if (!chosen) {
    const connectionId = pool.freeId(deployment.airflowUrl, newId);
    const managedNotes = managed.map(
      (c) =>
        `connection ${c.connectionId} at ${deployment.airflowUrl} uses ${what}, but is ${managerOf(c.description)!}`,
    );
    return {
      connection: { connectionId, adopted: false },
      notes: [
        ...managedNotes,
        managed.length > 0
          ? `the resource creates ${connectionId}`
          : `no connection at ${deployment.airflowUrl ?? "its Airflow"} uses ${what}: the resource creates ${connectionId}`,
      ],
    };
  }
  const extra: Record<string, ExtraValue> = {};
  const notes = [`takes over connection ${chosen.connectionId} (adoptExisting)`];
  for (const [k, v] of Object.entries(chosen.extra)) {
    if (reservedKeys.includes(k)) continue;
    if (SENSITIVE_EXTRA_KEY.test(k)) {
      notes.push(`extra.${k} looks like a secret and is left out; taking the connection over drops it`);
      continue;
    }
    extra[k] = v;
  }
  return {
    connection: {
      connectionId: chosen.connectionId,
      adopted: true,
      ...(chosen.description ? { description: chosen.description } : {}),
      ...(Object.keys(extra).length > 0 ? { extra } : {}),
    },
    live: chosen,
    notes,
  };
}

export function resourceName(...parts: string[]): string {
  return parts
    .join("-")
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/-+/g, "-")
    .replace(/^-|-$/g, "");
}

export function connectionIdFrom(...parts: string[]): string {
  return parts.join("_").replace(/[^\w.-]+/g, "_");
}

/** Astro's component names when every service account follows them; else the names themselves. */
export function serviceAccountsArg(
  namespace: string,
  names: string[],
  defaults: readonly string[] = DEFAULT_SERVICE_ACCOUNTS,
): Record<string, unknown> {
  const components = names.map((n) => SERVICE_ACCOUNT_COMPONENTS.find((c) => serviceAccountName(namespace, c) === n));
  if (components.some((c) => c === undefined)) return { serviceAccountNames: names };
  const same = components.length === defaults.length && defaults.every((c) => components.includes(c as never));
  return same ? {} : { serviceAccounts: components };
}
