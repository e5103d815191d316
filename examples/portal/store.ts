// The portal's durable state: access requests, every decision on them and every apply of a team's
// stack. One Postgres schema, on PGlite (Postgres compiled to WebAssembly, in this process, in a
// folder) by default and on a Postgres server in production: the same SQL runs on both.
import { PGlite } from "@electric-sql/pglite";
import { Pool } from "pg";
import type { NamedReview } from "pulumi-deployment-authorization/automation";

export type RequestStatus = "pending" | "approved" | "declined" | "revoked" | "failed";

export interface AccessRequest {
  id: string;
  team: string;
  organizationId: string;
  deploymentId: string;
  roleArn: string;
  /** The connection's region_name. */
  region: string;
  connectionId: string;
  requestedBy: string;
  requestedAt: Date;
  status: RequestStatus;
  /** The change approving would make, as the preview showed it when the request was made. */
  review: NamedReview[];
  /** What the last successful apply of the team's stack made for this request (grant, connection). */
  outputs: AppliedOutputs | null;
  /** Why the last apply that concerned this request failed. */
  error: { code: string; message: string } | null;
}

export interface AppliedOutputs {
  grant?: Record<string, unknown>;
  connection?: Record<string, unknown>;
  deployment?: Record<string, unknown>;
}

export type EventAction = "requested" | "approved" | "declined" | "revoked" | "applied" | "apply-failed";

/** One line of a request's history: who did what, when, and what they saw or what came of it. */
export interface RequestEvent {
  at: Date;
  actor: string;
  action: EventAction;
  detail: Record<string, unknown>;
}

/** One run of `pulumi up` on a team's stack. */
export interface StackApply {
  id: string;
  team: string;
  startedAt: Date;
  finishedAt: Date;
  startedBy: string;
  /** The requests the run applied: the approved set as read inside the stack's lock. */
  applied: string[];
  outcome: "succeeded" | "failed";
  summary: Record<string, number> | null;
  error: { code: string; message: string } | null;
}

/** What both engines offer: parameterised queries and transactions. */
interface Sql {
  query<R>(text: string, params?: unknown[]): Promise<{ rows: R[] }>;
}
interface Engine extends Sql {
  transaction<T>(work: (sql: Sql) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** Where the state lives: a Postgres URL (a server), or a folder for the embedded database. */
export type DatabaseLocation = { url: string } | { directory: string };

const SCHEMA = `
create table if not exists access_requests (
  id text primary key,
  team text not null,
  organization_id text not null,
  deployment_id text not null,
  role_arn text not null,
  region text not null,
  connection_id text not null,
  requested_by text not null,
  requested_at timestamptz not null default now(),
  status text not null check (status in ('pending', 'approved', 'declined', 'revoked', 'failed')),
  review jsonb not null,
  outputs jsonb,
  error jsonb
);
create index if not exists access_requests_by_team on access_requests (team, status);
create table if not exists request_events (
  id bigserial primary key,
  request_id text not null references access_requests (id),
  at timestamptz not null default clock_timestamp(),
  actor text not null,
  action text not null,
  detail jsonb not null
);
create index if not exists request_events_by_request on request_events (request_id, id);
create table if not exists stack_applies (
  id bigserial primary key,
  team text not null,
  started_at timestamptz not null,
  finished_at timestamptz not null default clock_timestamp(),
  started_by text not null,
  applied jsonb not null,
  outcome text not null,
  summary jsonb,
  outputs jsonb,
  error jsonb
);
create index if not exists stack_applies_by_team on stack_applies (team, id);
`;
// Replicas starting together would race on "create table if not exists"; one at a time.
const SCHEMA_LOCK = 461_802_177;

interface RequestRow {
  id: string;
  team: string;
  organization_id: string;
  deployment_id: string;
  role_arn: string;
  region: string;
  connection_id: string;
  requested_by: string;
  requested_at: Date;
  status: RequestStatus;
  review: NamedReview[];
  outputs: AppliedOutputs | null;
  error: { code: string; message: string } | null;
}

const asRequest = (r: RequestRow): AccessRequest => ({
  id: r.id,
  team: r.team,
  organizationId: r.organization_id,
  deploymentId: r.deployment_id,
  roleArn: r.role_arn,
  region: r.region,
  connectionId: r.connection_id,
  requestedBy: r.requested_by,
  requestedAt: r.requested_at,
  status: r.status,
  review: r.review,
  outputs: r.outputs,
  error: r.error,
});

// Parameters go in as text and are cast: the two clients encode a JS object differently (pg would
// make an array a Postgres array), text is the same on both.
const json = (value: unknown) => JSON.stringify(value ?? null);

export class PortalStore {
  private constructor(
    private readonly db: Engine,
    /** "postgres" (a server) or "pglite" (embedded). */
    readonly engine: "postgres" | "pglite",
  ) {}

  static async open(location: DatabaseLocation): Promise<PortalStore> {
    const store =
      "url" in location
        ? new PortalStore(serverEngine(location.url), "postgres")
        : new PortalStore(await embeddedEngine(location.directory), "pglite");
    await store.db.transaction(async (sql) => {
      await sql.query("select pg_advisory_xact_lock($1)", [SCHEMA_LOCK]);
      for (const statement of SCHEMA.split(";").filter((s) => s.trim())) await sql.query(statement);
    });
    return store;
  }

  close(): Promise<void> {
    return this.db.close();
  }

  async createRequest(request: Omit<AccessRequest, "requestedAt" | "status" | "outputs" | "error">): Promise<void> {
    await this.db.transaction(async (sql) => {
      await sql.query(
        `insert into access_requests (id, team, organization_id, deployment_id, role_arn, region, connection_id,
           requested_by, status, review)
         values ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9::text::jsonb)`,
        [
          request.id,
          request.team,
          request.organizationId,
          request.deploymentId,
          request.roleArn,
          request.region,
          request.connectionId,
          request.requestedBy,
          json(request.review),
        ],
      );
      await addEvent(sql, request.id, request.requestedBy, "requested", { review: request.review });
    });
  }

  async request(id: string): Promise<AccessRequest | undefined> {
    const { rows } = await this.db.query<RequestRow>("select * from access_requests where id = $1", [id]);
    return rows[0] && asRequest(rows[0]);
  }

  async requests(limit = 200): Promise<AccessRequest[]> {
    const { rows } = await this.db.query<RequestRow>(
      "select * from access_requests order by requested_at desc, id limit $1",
      [limit],
    );
    return rows.map(asRequest);
  }

  /** What the team's stack should hold: its approved requests, as committed now. */
  async approved(team: string): Promise<AccessRequest[]> {
    const { rows } = await this.db.query<RequestRow>(
      "select * from access_requests where team = $1 and status = 'approved' order by id",
      [team],
    );
    return rows.map(asRequest);
  }

  async teams(): Promise<string[]> {
    const { rows } = await this.db.query<{ team: string }>(
      "select distinct team from access_requests where status <> 'pending' order by team",
    );
    return rows.map((r) => r.team);
  }

  /**
   * Moves a request from one status to another and records who did it, in one transaction. False
   * when the request was not in `from` any more (another replica decided first): nothing changes.
   */
  async decide(
    id: string,
    from: RequestStatus,
    to: RequestStatus,
    actor: string,
    action: EventAction,
    detail: Record<string, unknown>,
  ): Promise<boolean> {
    return this.db.transaction(async (sql) => {
      const { rows } = await sql.query<{ id: string }>(
        "update access_requests set status = $3 where id = $1 and status = $2 returning id",
        [id, from, to],
      );
      if (!rows.length) return false;
      await addEvent(sql, id, actor, action, detail);
      return true;
    });
  }

  /** A request's apply went wrong: its status (when it was the one being approved) and its history say so. */
  async applyFailed(id: string, actor: string, error: { code: string; message: string }, markFailed: boolean) {
    await this.db.transaction(async (sql) => {
      await sql.query(
        `update access_requests set error = $2::text::jsonb,
           status = case when $3 and status = 'approved' then 'failed' else status end
         where id = $1`,
        [id, json(error), markFailed],
      );
      await addEvent(sql, id, actor, "apply-failed", { error });
    });
  }

  /** A successful apply: each request it held gets the outputs made for it. */
  async applied(id: string, actor: string, outputs: Record<string, AppliedOutputs>, summary: Record<string, number>) {
    await this.db.transaction(async (sql) => {
      for (const [requestId, made] of Object.entries(outputs)) {
        await sql.query("update access_requests set outputs = $2::text::jsonb, error = null where id = $1", [
          requestId,
          json(made),
        ]);
      }
      await sql.query("update access_requests set error = null where id = $1", [id]);
      await addEvent(sql, id, actor, "applied", { summary, outputs: outputs[id] ?? null });
    });
  }

  async recordApply(apply: Omit<StackApply, "id" | "finishedAt">, outputs: unknown): Promise<void> {
    await this.db.query(
      `insert into stack_applies (team, started_at, started_by, applied, outcome, summary, outputs, error)
       values ($1, $2, $3, $4::text::jsonb, $5, $6::text::jsonb, $7::text::jsonb, $8::text::jsonb)`,
      [
        apply.team,
        apply.startedAt.toISOString(),
        apply.startedBy,
        json(apply.applied),
        apply.outcome,
        json(apply.summary),
        json(outputs),
        json(apply.error),
      ],
    );
  }

  async lastApply(team: string): Promise<StackApply | undefined> {
    const { rows } = await this.db.query<{
      id: string;
      team: string;
      started_at: Date;
      finished_at: Date;
      started_by: string;
      applied: string[];
      outcome: "succeeded" | "failed";
      summary: Record<string, number> | null;
      error: { code: string; message: string } | null;
    }>("select * from stack_applies where team = $1 order by id desc limit 1", [team]);
    const r = rows[0];
    return (
      r && {
        id: String(r.id),
        team: r.team,
        startedAt: r.started_at,
        finishedAt: r.finished_at,
        startedBy: r.started_by,
        applied: r.applied,
        outcome: r.outcome,
        summary: r.summary,
        error: r.error,
      }
    );
  }

  async history(id: string): Promise<RequestEvent[]> {
    const { rows } = await this.db.query<RequestEvent>(
      "select at, actor, action, detail from request_events where request_id = $1 order by id",
      [id],
    );
    return rows;
  }
}

function addEvent(sql: Sql, id: string, actor: string, action: EventAction, detail: Record<string, unknown>) {
  return sql.query(
    "insert into request_events (request_id, actor, action, detail) values ($1, $2, $3, $4::text::jsonb)",
    [id, actor, action, json(detail)],
  );
}

function serverEngine(url: string): Engine {
  const pool = new Pool({ connectionString: url, max: 5 });
  return {
    query: async <R>(text: string, params?: unknown[]) => ({ rows: (await pool.query(text, params)).rows as R[] }),
    async transaction<T>(work: (sql: Sql) => Promise<T>): Promise<T> {
      const client = await pool.connect();
      try {
        await client.query("begin");
        const result = await work({
          query: async <R>(text: string, params?: unknown[]) => ({
            rows: (await client.query(text, params)).rows as R[],
          }),
        });
        await client.query("commit");
        return result;
      } catch (error) {
        await client.query("rollback").catch(() => undefined);
        throw error;
      } finally {
        client.release();
      }
    },
    close: () => pool.end(),
  };
}

async function embeddedEngine(directory: string): Promise<Engine> {
  const db = await PGlite.create(directory);
  return {
    query: async <R>(text: string, params?: unknown[]) => ({ rows: (await db.query<R>(text, params)).rows }),
    transaction: <T>(work: (sql: Sql) => Promise<T>) =>
      db.transaction((tx) =>
        work({
          query: async <R>(text: string, params?: unknown[]) => ({ rows: (await tx.query<R>(text, params)).rows }),
        }),
      ),
    close: () => db.close(),
  };
}
