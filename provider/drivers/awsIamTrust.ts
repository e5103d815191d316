import {
  CreateOpenIDConnectProviderCommand,
  DeleteOpenIDConnectProviderCommand,
  GetAccountSummaryCommand,
  GetOpenIDConnectProviderCommand,
  GetRoleCommand,
  IAMClient,
  ListRolesCommand,
  UpdateAssumeRolePolicyCommand,
} from "@aws-sdk/client-iam";
import { ROLE_ARN } from "../schema";
import { RemoteError, TargetMissingError } from "../errors";
import { withLock } from "../lock";
import { RetriesExhaustedError, defaultSleep, jitteredDelay, withRetries } from "../retry";
import {
  TrustPolicy,
  grantHolds,
  liveShare,
  minify,
  parsePolicyDocument,
  withGrant,
  withoutGrant,
} from "../trustPolicy";
import { roleNameOf } from "../plan";
import type { GrantOnRole, TrustDriver } from "./types";

export interface AwsIamTrustOptions {
  client?: IAMClient;
  /** Trust policy length quota; read once from GetAccountSummary when not given. */
  policySizeQuota?: number;
  /** Tries for one remote call (throttling, 5xx, principal not yet visible). */
  attempts?: number;
  /** Tries to converge when another writer keeps overwriting the policy. */
  convergeAttempts?: number;
  baseDelayMs?: number;
  /**
   * A write waits until no edit to the role has come for this long (at most `batchMaxWaitMs`), so
   * the creates of one `pulumi up`, which arrive one after another, share writes.
   */
  batchQuietMs?: number;
  batchMaxWaitMs?: number;
  /**
   * With no etag, another process may write a policy it read before ours landed. Writes go out at
   * most `maxReadAgeMs` after their read, and are read back no sooner than `verifyDelayMs` after,
   * so such an overwrite is seen and our edit applied again.
   */
  maxReadAgeMs?: number;
  verifyDelayMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

/** Tag on an OIDC provider this package created: only such a provider is ever deleted, and only unused. */
export const OIDC_CREATED_TAG = { Key: "created-by", Value: "pulumi-deployment-authorization" };

const RETRYABLE_CODES = new Set([
  "Throttling",
  "RequestLimitExceeded",
  "ServiceUnavailable",
  "ServiceFailure",
  "InternalFailure",
  "ConcurrentModification",
]);

/** The SDK names errors with or without an "Exception" suffix, depending on the service model. */
function errorCode(error: Error): string {
  return error.name.replace(/Exception$/, "");
}

function isCode(error: unknown, code: string): boolean {
  return error instanceof Error && errorCode(error) === code;
}

export function isRetryableAwsError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  if (RETRYABLE_CODES.has(errorCode(error)) || (status !== undefined && status >= 500)) return true;
  // IAM is eventually consistent: a principal created a moment ago is not yet "valid".
  if (isCode(error, "MalformedPolicyDocument") && /invalid principal/i.test(error.message)) return true;
  const code = (error as { code?: string }).code;
  return code === "ECONNRESET" || code === "ETIMEDOUT" || code === "EPIPE";
}

interface Edit {
  what: string;
  apply(policy: TrustPolicy): TrustPolicy;
  holds(policy: TrustPolicy): boolean;
  /** Removals go first in a batch, so the room they free counts for the additions. */
  removal: boolean;
  tries: number;
  resolve(result: { arn: string; changed: boolean }): void;
  reject(error: unknown): void;
}

interface RoleQueue {
  edits: Edit[];
  draining: boolean;
  lastArrival: number;
  /** Batches put back because their read was too old; bounded, so a slow IAM still gets written. */
  staleReads: number;
}

/**
 * Keeps grants in IAM role trust policies. IAM has no etag on trust policies, so every write is a
 * read-modify-write under a per-role lock, read back afterwards; edits that another process
 * overwrote are applied again after a jittered pause. Edits to one role that arrive together are
 * written together.
 */
export class AwsIamTrustDriver implements TrustDriver {
  private readonly client: IAMClient;
  private quota: Promise<number> | undefined;
  private readonly queues = new Map<string, RoleQueue>();
  private readonly sharedReads = new Map<string, Promise<{ arn: string; policy: TrustPolicy }>>();
  private readonly oidcEnsured = new Map<string, Promise<boolean>>();
  readonly calls: Record<string, number> = {};

  constructor(private readonly options: AwsIamTrustOptions = {}) {
    this.client = options.client ?? new IAMClient({ region: process.env.AWS_REGION ?? "us-east-1", maxAttempts: 1 });
    if (options.policySizeQuota !== undefined) this.quota = Promise.resolve(options.policySizeQuota);
  }

  async read(grant: GrantOnRole) {
    const { arn, policy } = await this.readShared(grant.role);
    return { roleArn: arn, statement: liveShare(policy, grant) };
  }

  async ensure(grant: GrantOnRole) {
    const oidcProviderCreated = grant.oidcProvider ? await this.ensureOidcProvider(grant.oidcProvider) : undefined;
    const { arn, changed } = await this.submit(grant.role, {
      what: `add the grant of ${grant.sid}`,
      apply: (policy) => withGrant(policy, grant),
      holds: (policy) => grantHolds(policy, grant),
      removal: false,
    });
    return { roleArn: arn, changed, ...(oidcProviderCreated !== undefined ? { oidcProviderCreated } : {}) };
  }

  async remove(grant: GrantOnRole) {
    const { changed } = await this.submit(grant.role, {
      what: `remove the grant of ${grant.sid}`,
      apply: (policy) => withoutGrant(policy, grant),
      holds: (policy) => liveShare(policy, grant) === undefined,
      removal: true,
    });
    if (grant.oidcProvider) await this.deleteOidcProviderIfUnused(grant.oidcProvider.arn);
    return { removed: changed };
  }

  private submit(
    role: string,
    edit: Omit<Edit, "tries" | "resolve" | "reject">,
  ): Promise<{ arn: string; changed: boolean }> {
    const name = roleNameOf(role);
    return new Promise((resolve, reject) => {
      let queue = this.queues.get(name);
      if (!queue) this.queues.set(name, (queue = { edits: [], draining: false, lastArrival: 0, staleReads: 0 }));
      queue.edits.push({ ...edit, tries: 0, resolve, reject });
      queue.lastArrival = Date.now();
      if (!queue.draining) void this.drain(role, queue);
    });
  }

  private async drain(role: string, queue: RoleQueue): Promise<void> {
    queue.draining = true;
    const sleep = this.options.sleep ?? defaultSleep;
    try {
      while (queue.edits.length > 0) {
        await this.gather(queue, sleep);
        const batch = queue.edits.splice(0).sort((a, b) => Number(b.removal) - Number(a.removal));
        await withLock(`aws-iam-role:${roleNameOf(role)}`, () => this.writeBatch(role, batch, queue)).catch(
          (error: unknown) => batch.forEach((edit) => edit.reject(error)),
        );
      }
    } finally {
      queue.draining = false;
    }
  }

  private async gather(queue: RoleQueue, sleep: (ms: number) => Promise<void>): Promise<void> {
    const quiet = this.options.batchQuietMs ?? 200;
    const deadline = Date.now() + (this.options.batchMaxWaitMs ?? 1500);
    for (let idle = 0; idle < quiet && Date.now() < deadline; idle = Date.now() - queue.lastArrival) {
      await sleep(Math.min(quiet - idle, Math.max(1, deadline - Date.now())));
    }
  }

  /** One read, one write, one read back for a whole batch of edits to one role. */
  private async writeBatch(role: string, batch: Edit[], queue: RoleQueue): Promise<void> {
    const name = roleNameOf(role);
    const readAt = Date.now();
    const { arn, policy } = await this.getRole(role);
    const todo: Edit[] = [];
    for (const edit of batch) {
      if (edit.holds(policy)) edit.resolve({ arn, changed: false });
      else todo.push(edit);
    }
    if (todo.length === 0) return;

    let next = policy;
    const written: Edit[] = [];
    for (const edit of todo) {
      const candidate = edit.apply(next);
      const overQuota = await this.overQuota(name, policy, candidate);
      if (overQuota && !edit.removal) edit.reject(overQuota);
      else {
        next = candidate;
        written.push(edit);
      }
    }
    if (written.length === 0) return;
    if (Date.now() - readAt > (this.options.maxReadAgeMs ?? 500) && queue.staleReads < 3) {
      // Our read is too old to write on safely: read again and redo the batch.
      queue.staleReads++;
      queue.edits.push(...written);
      return;
    }
    queue.staleReads = 0;
    await this.call(`UpdateAssumeRolePolicy on role ${name}`, "UpdateAssumeRolePolicy", () =>
      this.client.send(new UpdateAssumeRolePolicyCommand({ RoleName: name, PolicyDocument: minify(next) })),
    );

    const verifyDelay = this.options.verifyDelayMs ?? 600;
    await (this.options.sleep ?? defaultSleep)(verifyDelay * (1 + Math.random() / 2));
    const after = await this.getRole(role);
    const overwritten: Edit[] = [];
    for (const edit of written) {
      if (edit.holds(after.policy)) edit.resolve({ arn: after.arn, changed: true });
      else if (++edit.tries < (this.options.convergeAttempts ?? 8)) overwritten.push(edit);
      else {
        edit.reject(
          new RemoteError(
            `could not ${edit.what} in the trust policy of role ${name}: another writer overwrote it ` +
              `${edit.tries} times in a row. Find what else edits this role's trust policy (another stack, ` +
              `a console session, a script) and run pulumi up again.`,
          ),
        );
      }
    }
    if (overwritten.length > 0) {
      // Another process wrote between our read and our write: pause a random while, then again.
      const tries = Math.max(...overwritten.map((e) => e.tries));
      await (this.options.sleep ?? defaultSleep)(jitteredDelay(tries, this.options.baseDelayMs ?? 200, 5000));
      queue.edits.push(...overwritten);
    }
  }

  private async overQuota(name: string, current: TrustPolicy, next: TrustPolicy): Promise<RemoteError | undefined> {
    const needed = minify(next).length;
    if (needed <= 2048 && this.options.policySizeQuota === undefined) return undefined;
    const quota = await this.policySizeQuota();
    if (needed <= quota) return undefined;
    return new RemoteError(
      `the trust policy of role ${name} would be ${needed} characters (now ${minify(current).length}), ` +
        `over this account's quota of ${quota} (AssumeRolePolicySizeQuota). Ways out: ask AWS to raise the ` +
        `"Role trust policy length" quota (Service Quotas, IAM); spread Deployments over more roles; or, for ` +
        `web identity, trust the whole namespace (aws.trust.namespaceWide) instead of each service account.`,
    );
  }

  private policySizeQuota(): Promise<number> {
    this.quota ??= this.call("GetAccountSummary", "GetAccountSummary", () =>
      this.client.send(new GetAccountSummaryCommand({})),
    ).then((r) => r.SummaryMap?.AssumeRolePolicySizeQuota ?? 2048);
    return this.quota;
  }

  /** Reads for refresh: concurrent reads of one role share one GetRole. */
  private readShared(role: string) {
    const name = roleNameOf(role);
    let shared = this.sharedReads.get(name);
    if (!shared) {
      shared = this.getRole(role).finally(() => this.sharedReads.delete(name));
      this.sharedReads.set(name, shared);
    }
    return shared;
  }

  private async getRole(role: string): Promise<{ arn: string; policy: TrustPolicy }> {
    const name = roleNameOf(role);
    try {
      const response = await this.call(`GetRole ${name}`, "GetRole", () =>
        this.client.send(new GetRoleCommand({ RoleName: name })),
      );
      const arn = response.Role?.Arn ?? "";
      if (ROLE_ARN.test(role) && arn !== role) {
        throw new TargetMissingError(
          `IAM role ${name} exists, but its ARN is ${arn}, not ${role}: the credentials in use reach another account ` +
            `or the role has another path. Fix aws.targetRole or the AWS credentials of the stack.`,
        );
      }
      return { arn, policy: parsePolicyDocument(response.Role?.AssumeRolePolicyDocument ?? "{}") };
    } catch (error) {
      if (isCode(error, "NoSuchEntity")) {
        throw new TargetMissingError(
          `IAM role ${name} does not exist. This resource adds a trust statement to a role it does not own and ` +
            `never creates one: create the role (or fix aws.targetRole). If the role was deleted on purpose, ` +
            `remove this resource from the stack with pulumi state delete <urn>.`,
        );
      }
      throw error;
    }
  }

  /** Creates the cluster's IAM OIDC provider when absent; true when this call created it. */
  private ensureOidcProvider(provider: { arn: string; url: string }): Promise<boolean> {
    let ensured = this.oidcEnsured.get(provider.arn);
    if (!ensured) {
      ensured = this.createOidcProviderIfAbsent(provider);
      this.oidcEnsured.set(provider.arn, ensured);
      ensured.then(
        () => this.oidcEnsured.set(provider.arn, Promise.resolve(false)),
        () => this.oidcEnsured.delete(provider.arn),
      );
    }
    return ensured;
  }

  private async createOidcProviderIfAbsent(provider: { arn: string; url: string }): Promise<boolean> {
    try {
      await this.call("GetOpenIDConnectProvider", "GetOpenIDConnectProvider", () =>
        this.client.send(new GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: provider.arn })),
      );
      return false;
    } catch (error) {
      if (!isCode(error, "NoSuchEntity")) throw error;
    }
    try {
      await this.call("CreateOpenIDConnectProvider", "CreateOpenIDConnectProvider", () =>
        this.client.send(
          new CreateOpenIDConnectProviderCommand({
            Url: provider.url,
            ClientIDList: ["sts.amazonaws.com"],
            Tags: [OIDC_CREATED_TAG],
          }),
        ),
      );
      return true;
    } catch (error) {
      if (isCode(error, "EntityAlreadyExists")) return false;
      throw error;
    }
  }

  /**
   * An OIDC provider goes only when this package created it (its tag says so) and no role in the
   * account still trusts it: other Deployments, stacks or people may rely on it.
   */
  private async deleteOidcProviderIfUnused(arn: string): Promise<void> {
    let tags: Array<{ Key?: string; Value?: string }>;
    try {
      const provider = await this.call("GetOpenIDConnectProvider", "GetOpenIDConnectProvider", () =>
        this.client.send(new GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: arn })),
      );
      tags = provider.Tags ?? [];
    } catch (error) {
      if (isCode(error, "NoSuchEntity")) return;
      throw error;
    }
    if (!tags.some((t) => t.Key === OIDC_CREATED_TAG.Key && t.Value === OIDC_CREATED_TAG.Value)) return;
    let marker: string | undefined;
    do {
      const page = await this.call("ListRoles", "ListRoles", () =>
        this.client.send(new ListRolesCommand({ Marker: marker, MaxItems: 1000 })),
      );
      for (const role of page.Roles ?? []) {
        if (role.AssumeRolePolicyDocument && decodeURIComponent(role.AssumeRolePolicyDocument).includes(arn)) return;
      }
      marker = page.IsTruncated ? page.Marker : undefined;
    } while (marker);
    await this.call("DeleteOpenIDConnectProvider", "DeleteOpenIDConnectProvider", () =>
      this.client.send(new DeleteOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: arn })),
    );
  }

  private async call<T>(what: string, action: string, send: () => Promise<T>): Promise<T> {
    try {
      return await withRetries(
        {
          attempts: this.options.attempts ?? 6,
          baseDelayMs: this.options.baseDelayMs ?? 200,
          maxDelayMs: 5000,
          retryable: isRetryableAwsError,
          what: `AWS IAM ${what}`,
          sleep: this.options.sleep,
        },
        () => {
          this.calls[action] = (this.calls[action] ?? 0) + 1;
          return send();
        },
      );
    } catch (error) {
      if (error instanceof RetriesExhaustedError) {
        throw new RemoteError(
          `${error.message}. AWS is throttling or failing; run pulumi up again later.`,
          undefined,
          true,
        );
      }
      if (error instanceof Error && !isCode(error, "NoSuchEntity") && !isCode(error, "EntityAlreadyExists")) {
        throw new RemoteError(`AWS IAM ${what} failed: ${errorCode(error)}: ${error.message}`);
      }
      throw error;
    }
  }
}
