import {
  CreateOpenIDConnectProviderCommand,
  DeleteOpenIDConnectProviderCommand,
  GetAccountSummaryCommand,
  GetOpenIDConnectProviderCommand,
  GetRoleCommand,
  IAMClient,
  Tag,
  ListRolesCommand,
  TagRoleCommand,
  UntagRoleCommand,
  UpdateAssumeRolePolicyCommand,
} from "@aws-sdk/client-iam";
import { AuthorizationError, RemoteError, TargetMissingError } from "../../core/errors";
import {
  CallTiming,
  PolicyStore,
  ReadTooOldError,
  SharedPolicyOptions,
  SharedPolicyWriter,
} from "../../core/policyStore";
import {
  DROPPED,
  LandedTries,
  REMOTE_DEFAULTS,
  Remote,
  RemoteClassifier,
  RemoteTuning,
  mayHaveLandedByStatus,
  unavailable,
} from "../../core/remoteCall";
import { RetriesExhaustedError } from "../../core/retry";
import { ROLE_ARN } from "./names";
import {
  TrustPolicy,
  entriesAt,
  entriesFoundIn,
  grantHolds,
  handMadeTwins,
  liveShare,
  minify,
  parsePolicyDocument,
  withGrant,
  withEntriesAt,
  withoutGrant,
  withoutHandMadeTwins,
} from "./trustPolicy";
import { isOwnedSid, roleNameOf } from "./plan";
import type { GrantOnRole, TrustDriver } from "./types";

/**
 * `attempts` (default 6: throttling, 5xx, a principal not yet visible), `baseDelayMs`, `maxDelayMs`,
 * `timeoutMs` (default 30 s) and `sleep` as for every remote (`core/remoteCall.ts`); `baseDelayMs`
 * and `sleep` pace the shared writer's re-applies too.
 */
export interface AwsIamTrustOptions extends SharedPolicyOptions, RemoteTuning {
  client?: IAMClient;
  /** Trust policy length quota; read once from GetAccountSummary when not given. */
  policySizeQuota?: number;
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
  return DROPPED.has((error as { code?: string }).code ?? "");
}

/**
 * A failed call's error says nothing of where it went (a network error is Node's own), and where
 * matters when TLS refused the certificate there: the request's URL is noted on the error.
 */
function notesUrlOnErrors(client: IAMClient): void {
  client.middlewareStack.add(
    (next) => async (args) => {
      try {
        return await next(args);
      } catch (error) {
        const request = args.request as { protocol?: string; hostname?: string; port?: number } | undefined;
        if (error !== null && typeof error === "object" && request?.hostname && !("$url" in error)) {
          const port = request.port ? `:${request.port}` : "";
          Object.defineProperty(error, "$url", {
            value: `${request.protocol ?? "https:"}//${request.hostname}${port}/`,
          });
        }
        throw error;
      }
    },
    { step: "finalizeRequest", name: "deploymentAuthorizationNotesUrl", override: true },
  );
}

/**
 * What AWS said. A body the SDK cannot read as an AWS error (a proxy's HTML page) leaves only
 * "Unknown", and the SDK has consumed the body by then: its status and type are what is left.
 */
function awsDetail(error: Error): string {
  const response = (error as { $response?: { statusCode?: number; headers?: Record<string, string> } }).$response;
  if (errorCode(error) === "Unknown" && response?.statusCode !== undefined) {
    const type = response.headers?.["content-type"] ?? "no content type";
    return (
      `the answer (${response.statusCode}, ${type}) is not an AWS error: something other than AWS, such as a proxy, ` +
      `may have answered`
    );
  }
  return `${errorCode(error)}: ${error.message}`;
}

/** What is worth another try, what may have landed, and what was never sent (a write past its bound). */
const AWS_CLASSIFIER: RemoteClassifier = {
  retryable: isRetryableAwsError,
  mayHaveLanded: (error) =>
    error instanceof Error &&
    mayHaveLandedByStatus(
      (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode,
      (error as { code?: string }).code,
    ),
  notSent: (error) => error instanceof ReadTooOldError,
  describe: (error) =>
    error instanceof Error && errorCode(error) === "Unknown"
      ? awsDetail(error)
      : String((error as Error)?.message ?? error),
};

/** An IAM failure in our terms; NoSuchEntity and EntityAlreadyExists are answers the caller reads. */
function explainAws({ error, what }: { error: unknown; what: string }): unknown {
  if (error instanceof RetriesExhaustedError) {
    return unavailable(error, "AWS is throttling or failing; run pulumi up again later.");
  }
  if (error instanceof Error && !isCode(error, "NoSuchEntity") && !isCode(error, "EntityAlreadyExists")) {
    const denied = ["AccessDenied", "UnrecognizedClient", "InvalidClientTokenId"].includes(errorCode(error));
    return new RemoteError(`${what} failed: ${awsDetail(error)}`, undefined, false, {
      cause: error,
      ...(denied ? { code: "PERMISSION_DENIED" as const } : {}),
    });
  }
  return error;
}

/**
 * Tells `timing` right before the command's request is handed to the HTTP client: after
 * serialization and signing, the last step of the client's own stack, so what the shared writer
 * times (and bounds) is the send, not the call.
 */
function timed<C extends GetRoleCommand | UpdateAssumeRolePolicyCommand>(command: C, timing?: CallTiming): C {
  if (!timing) return command;
  const stack = command.middlewareStack as UpdateAssumeRolePolicyCommand["middlewareStack"];
  stack.add(
    (next) => async (args) => {
      timing.sending();
      return next(args);
    },
    { step: "deserialize", priority: "low", name: "deploymentAuthorizationSendTiming" },
  );
  return command;
}

/**
 * Keeps grants in IAM role trust policies. IAM has no etag on trust policies, so writes go through
 * the shared writer with verify-after-write: edits to one role that arrive together are written
 * together, read back, and applied again when another process overwrote them.
 */
/** Tags that hold claims: one per instance, its digests separated by spaces (commas are not allowed in tags). */
export const CLAIM_TAG_PREFIX = "DeploymentAuthorization:";
/** IAM's quota of tags per role. */
const ROLE_TAG_LIMIT = 50;

function missingRole(name: string, cause: unknown): TargetMissingError {
  return new TargetMissingError(
    { what: `IAM role ${name}`, kind: "role", input: "aws.targetRole", check: `aws iam get-role --role-name ${name}` },
    { cause },
  );
}

export class AwsIamTrustDriver implements TrustDriver {
  private readonly client: IAMClient;
  private readonly writer: SharedPolicyWriter<TrustPolicy, { arn: string }>;
  private quota: Promise<number> | undefined;
  private readonly oidcEnsured = new Map<string, Promise<boolean>>();
  private readonly remote: Remote;

  constructor(private readonly options: AwsIamTrustOptions = {}) {
    // The SDK's notice about future Node.js lines is for whoever chose Node, not for every stack's
    // diagnostics: it is the SDK's documented switch, and an explicit setting is respected.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
    this.remote = new Remote({
      defaults: REMOTE_DEFAULTS.awsIam,
      tuning: options,
      classify: AWS_CLASSIFIER,
      explain: explainAws,
    });
    // The SDK sets no request timeout of its own (and only warns when one passes): a call that
    // hangs must fail, and be retried, like any other dropped call.
    const { timeoutMs } = this.remote.settings;
    this.client =
      options.client ??
      new IAMClient({
        region: process.env.AWS_REGION ?? "us-east-1",
        maxAttempts: 1,
        requestHandler: { requestTimeout: timeoutMs, connectionTimeout: timeoutMs, throwOnRequestTimeout: true },
      });
    notesUrlOnErrors(this.client);
    if (options.policySizeQuota !== undefined) this.quota = Promise.resolve(options.policySizeQuota);
    const store: PolicyStore<TrustPolicy, { arn: string }> = {
      etags: false,
      describe: (role) => `the trust policy of role ${roleNameOf(role)}`,
      lockKey: (role) => `aws-iam-role:${roleNameOf(role)}`,
      read: async (role, timing) => {
        const { arn, policy } = await this.getRole(role, timing);
        return { policy, facts: { arn } };
      },
      write: (role, policy, _etag, timing) => this.updatePolicy(role, policy, timing),
      checkLimits: (role, current, next) => this.overQuota(role, current, next),
    };
    this.writer = new SharedPolicyWriter(store, options);
  }

  /** Tries made, by IAM action. */
  get calls(): Record<string, number> {
    return this.remote.calls;
  }

  /** The role's ARN and whole trust policy, as it is now: for finding what a manual setup made. */
  trustPolicy(role: string): Promise<{ arn: string; policy: TrustPolicy }> {
    return this.getRole(role);
  }

  async read(grant: GrantOnRole) {
    const { facts, policy } = await this.writer.read(grant.role);
    return { roleArn: facts.arn, statement: liveShare(policy, grant) };
  }

  async ensure(grant: GrantOnRole, roleArnKnown?: (roleArn: string) => void) {
    const oidcProviderCreated = grant.oidcProvider ? await this.ensureOidcProvider(grant.oidcProvider) : undefined;
    let failedOver: TrustPolicy | undefined;
    const { facts, changed, before } = await this.writer
      .submit(grant.role, {
        what: `add the grant of ${grant.sid}`,
        apply: (policy) => withGrant(policy, grant),
        holds: (policy) => grantHolds(policy, grant),
        removal: false,
        factsKnown: (known) => roleArnKnown?.(known.arn),
        writeFailed: (before) => (failedOver = before),
      })
      .catch(async (error: unknown) => {
        if (failedOver) await this.takeBack(grant, failedOver);
        throw error;
      });
    // Only after ours is written and read back: the Deployment never goes without a statement that trusts it.
    if (grant.adoptExistingTrust) {
      await this.writer.submit(grant.role, {
        what: `take over the hand-made trust of the principals of ${grant.sid}`,
        apply: (policy) => withoutHandMadeTwins(policy, grant, isOwnedSid),
        holds: (policy) => grantHolds(policy, grant) && handMadeTwins(policy, grant, isOwnedSid).length === 0,
        removal: false,
      });
    }
    return {
      roleArn: facts.arn,
      changed,
      foundEntries: entriesFoundIn(before, grant),
      ...(oidcProviderCreated !== undefined ? { oidcProviderCreated } : {}),
    };
  }

  /**
   * After a write whose answers were all lost: the entries it added (those absent from the policy
   * it was written over) go again, so a create reported as failed leaves no trust behind. Best
   * effort: the failure being reported matters more than its clean-up failing too.
   */
  private async takeBack(grant: GrantOnRole, before: TrustPolicy): Promise<void> {
    const found = new Set(entriesFoundIn(before, grant));
    const added = entriesAt(grant.statement, grant.entryPath).filter((e) => !found.has(e));
    if (added.length === 0) return;
    const share = { ...grant, statement: withEntriesAt(grant.statement, grant.entryPath, added) };
    await this.writer
      .submit(grant.role, {
        what: `take back the grant of ${grant.sid}`,
        apply: (policy) => withoutGrant(policy, share),
        holds: (policy) => liveShare(policy, share) === undefined,
        removal: true,
      })
      .catch(() => undefined);
  }

  async remove(grant: GrantOnRole) {
    const { changed } = await this.writer.submit(grant.role, {
      what: `remove the grant of ${grant.sid}`,
      apply: (policy) => withoutGrant(policy, grant),
      holds: (policy) => liveShare(policy, grant) === undefined,
      removal: true,
    });
    if (grant.oidcProvider) await this.deleteOidcProviderIfUnused(grant.oidcProvider.arn);
    return { removed: changed };
  }

  /** The claims kept on the role (its tags), read with GetRole: one read for concurrent callers. */
  async listClaims(role: string): Promise<Map<string, string[]>> {
    const claims = new Map<string, string[]>();
    for (const tag of await this.roleTags(role)) {
      if (!tag.Key?.startsWith(CLAIM_TAG_PREFIX)) continue;
      claims.set(tag.Key.slice(CLAIM_TAG_PREFIX.length), (tag.Value ?? "").split(" ").filter(Boolean));
    }
    return claims;
  }

  async recordClaim(role: string, instance: string, digests: string[]): Promise<void> {
    const name = roleNameOf(role);
    const key = `${CLAIM_TAG_PREFIX}${instance}`;
    const tags = await this.roleTags(role);
    // IAM's limit, checked first so that the error says what the tag is for.
    if (!tags.some((tag) => tag.Key === key) && tags.length >= ROLE_TAG_LIMIT) {
      throw new AuthorizationError(
        "QUOTA_EXCEEDED",
        `IAM role ${name} has ${tags.length} tags, IAM's limit per role: this resource keeps its claim on a trust ` +
          `entry that resources with connections in other places rely on too (a cluster role's, or one it found ` +
          `granted already) as a tag (${key}), so that none of them takes the entry away from the others when it is ` +
          `deleted. Remove a tag the role does not need ` +
          `(aws iam list-role-tags --role-name ${name}), then run pulumi up again.`,
      );
    }
    await this.call(`TagRole ${name}`, "TagRole", () =>
      this.client.send(new TagRoleCommand({ RoleName: name, Tags: [{ Key: key, Value: digests.join(" ") }] })),
    ).catch((error: unknown) => {
      throw isCode(error, "NoSuchEntity") ? missingRole(name, error) : error;
    });
  }

  async releaseClaim(role: string, instance: string): Promise<void> {
    const name = roleNameOf(role);
    await this.call(`UntagRole ${name}`, "UntagRole", () =>
      this.client.send(new UntagRoleCommand({ RoleName: name, TagKeys: [`${CLAIM_TAG_PREFIX}${instance}`] })),
    ).catch((error: unknown) => {
      if (!isCode(error, "NoSuchEntity")) throw error;
    });
  }

  /**
   * GetRole answers every tag of a role (IAM allows 50), so no ListRoleTags (nor its permission) is
   * needed. A read of its own, sent after the call: a caller that just released its claim must not
   * be answered by a read that went out before.
   */
  private async roleTags(role: string): Promise<Tag[]> {
    return (await this.getRole(role)).tags;
  }

  private async updatePolicy(role: string, policy: TrustPolicy, timing?: CallTiming): Promise<void> {
    const name = roleNameOf(role);
    const tries = { mayHaveLanded: false };
    try {
      await this.call(
        `UpdateAssumeRolePolicy on role ${name}`,
        "UpdateAssumeRolePolicy",
        () =>
          this.client.send(
            timed(new UpdateAssumeRolePolicyCommand({ RoleName: name, PolicyDocument: minify(policy) }), timing),
          ),
        tries,
      );
    } catch (error) {
      // A retry that would go out past the bound is not sent; an earlier try may have landed.
      if (error instanceof ReadTooOldError && tries.mayHaveLanded && !error.earlierTryMayHaveLanded)
        throw new ReadTooOldError(error.message, true);
      throw error;
    }
  }

  private async overQuota(
    role: string,
    current: TrustPolicy,
    next: TrustPolicy,
  ): Promise<AuthorizationError | undefined> {
    const name = roleNameOf(role);
    const needed = minify(next).length;
    if (needed <= 2048 && this.options.policySizeQuota === undefined) return undefined;
    const quota = await this.policySizeQuota();
    if (needed <= quota) return undefined;
    return new AuthorizationError(
      "QUOTA_EXCEEDED",
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

  private async getRole(role: string, timing?: CallTiming): Promise<{ arn: string; policy: TrustPolicy; tags: Tag[] }> {
    const name = roleNameOf(role);
    try {
      const response = await this.call(`GetRole ${name}`, "GetRole", () =>
        this.client.send(timed(new GetRoleCommand({ RoleName: name }), timing)),
      );
      const arn = response.Role?.Arn ?? "";
      if (ROLE_ARN.test(role) && arn !== role) {
        throw new TargetMissingError(
          `IAM role ${name} exists, but its ARN is ${arn}, not ${role}: the credentials in use reach another account ` +
            `or the role has another path. Fix aws.targetRole or the AWS credentials of the stack.`,
        );
      }
      return {
        arn,
        policy: parsePolicyDocument(response.Role?.AssumeRolePolicyDocument ?? "{}"),
        tags: response.Role?.Tags ?? [],
      };
    } catch (error) {
      throw isCode(error, "NoSuchEntity") ? missingRole(name, error) : error;
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
    const tries = { mayHaveLanded: false };
    try {
      await this.call(
        "CreateOpenIDConnectProvider",
        "CreateOpenIDConnectProvider",
        () =>
          this.client.send(
            new CreateOpenIDConnectProviderCommand({
              Url: provider.url,
              ClientIDList: ["sts.amazonaws.com"],
              Tags: [OIDC_CREATED_TAG],
            }),
          ),
        tries,
      );
      return true;
    } catch (error) {
      if (!isCode(error, "EntityAlreadyExists")) throw error;
      if (!tries.mayHaveLanded) return false;
      // A try whose answer was lost may have created it: then it carries our tag.
      const made = await this.call("GetOpenIDConnectProvider", "GetOpenIDConnectProvider", () =>
        this.client.send(new GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: provider.arn })),
      );
      return (made.Tags ?? []).some((t) => t.Key === OIDC_CREATED_TAG.Key && t.Value === OIDC_CREATED_TAG.Value);
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

  /** `tries.mayHaveLanded`: a failed try may still have been applied (a 5xx, a dropped connection, a timeout). */
  private call<T>(what: string, action: string, send: () => Promise<T>, tries?: LandedTries): Promise<T> {
    return this.remote.call({ what: `AWS IAM ${what}`, count: action, ...(tries ? { tries } : {}) }, send);
  }
}
