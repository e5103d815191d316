import { cloudresourcemanager, cloudresourcemanager_v3 } from "@googleapis/cloudresourcemanager";
import { iam, iam_v1 } from "@googleapis/iam";
import { GoogleAuth, OAuth2Client } from "google-auth-library";
import { AuthorizationError, RemoteError, TargetMissingError } from "../../core/errors";
import { PolicyStore, SharedPolicyOptions, SharedPolicyWriter, StalePolicyError } from "../../core/policyStore";
import { LandedTries, REMOTE_DEFAULTS, Remote, RemoteTuning, unavailable } from "../../core/remoteCall";
import { RetriesExhaustedError } from "../../core/retry";
import type { ClaimLedger, EnsureProgress, GrantDriver } from "../../core/types";
import { GOOGLE_CLASSIFIER, googleMessage, statusOf } from "./googleErrors";
import { ProjectLabelLedger } from "./labelLedger";
import { GcpGrant, GcpResolved, describeResource, preExisting, resourceKind } from "./plan";
import {
  IamPolicy,
  MAX_PRINCIPALS_PER_POLICY,
  liveMembers,
  principalCount,
  withMembers,
  withoutMembers,
} from "./policy";

/**
 * `attempts` (default 6: throttling, 5xx, dropped connections), `baseDelayMs`, `maxDelayMs`,
 * `timeoutMs` (default 30 s) and `sleep` as for every remote (`core/remoteCall.ts`); `baseDelayMs`
 * and `sleep` pace the shared writer's re-applies too.
 */
export interface GcpIamOptions extends SharedPolicyOptions, RemoteTuning {
  /** Where the Google APIs are; default Google's. Tests point it at a local server. */
  rootUrl?: string;
  /** A ready OAuth access token (GOOGLE_OAUTH_ACCESS_TOKEN); default Application Default Credentials. */
  accessToken?: string;
}

/** Conditions in a policy need version 3: always ask for it, so nothing is read (or written back) downgraded. */
const POLICY_VERSION = 3;

/**
 * Keeps grants as member/role pairs in Google Cloud IAM policies: a project's (Resource Manager v3)
 * or a service account's (IAM v1). Every write is an etag read-modify-write through the shared
 * writer: concurrent grants to one resource coalesce, and a stale etag (409 ABORTED) is re-read and
 * re-applied after a jittered pause, within a bound.
 */
export class GcpIamPolicyDriver implements GrantDriver<GcpGrant, GcpResolved> {
  private readonly projects: cloudresourcemanager_v3.Resource$Projects;
  private readonly serviceAccounts: iam_v1.Resource$Projects$Serviceaccounts;
  private readonly writer: SharedPolicyWriter<IamPolicy, Record<string, never>>;
  private readonly remote: Remote;
  /**
   * Claims on the grant's members kept as labels of the project that holds the policy (a service
   * account's policy: the account's project), read wherever the member is.
   */
  readonly ledger: ClaimLedger<GcpGrant>;

  constructor(private readonly options: GcpIamOptions = {}) {
    const auth = options.accessToken
      ? Object.assign(new OAuth2Client(), { credentials: { access_token: options.accessToken } })
      : new GoogleAuth({ scopes: ["https://www.googleapis.com/auth/cloud-platform"] });
    const rootUrl = options.rootUrl ?? "https://cloudresourcemanager.googleapis.com";
    this.remote = new Remote({
      defaults: REMOTE_DEFAULTS.gcpIam,
      tuning: options,
      classify: GOOGLE_CLASSIFIER,
      url: rootUrl,
      explain: ({ error, what, target }) => explain(error, what, target ?? ""),
    });
    // Retries are ours (bounded, counted, explained), not the client's.
    // The clients wait forever unless told otherwise: a call that hangs must fail, and be retried.
    const common = {
      auth,
      retry: false,
      timeout: this.remote.settings.timeoutMs,
      ...(options.rootUrl ? { rootUrl: withSlash(options.rootUrl) } : {}),
    };
    const crm = cloudresourcemanager({ version: "v3", ...common });
    this.projects = crm.projects;
    this.serviceAccounts = iam({ version: "v1", ...common }).projects.serviceAccounts;
    this.ledger = new ProjectLabelLedger(crm, this.serviceAccounts, {
      ...options,
      calls: this.remote.calls,
      url: rootUrl,
    });
    const store: PolicyStore<IamPolicy, Record<string, never>> = {
      etags: true,
      describe: (resource) => `the IAM policy of ${describeResource(resource)}`,
      lockKey: (resource) => `gcp-iam:${resource}`,
      read: async (resource) => {
        const policy = await this.getPolicy(resource);
        return { policy, etag: policy.etag ?? undefined, facts: {} };
      },
      write: (resource, policy, etag) => this.setPolicy(resource, policy, etag),
      checkLimits: async (resource, current, next) => this.overLimit(resource, current, next),
    };
    this.writer = new SharedPolicyWriter(store, options);
  }

  /** Tries made, by API method. */
  get calls(): Record<string, number> {
    return this.remote.calls;
  }

  /** The whole IAM policy of a project or service account, as it is now: for finding what a manual setup made. */
  policy(resource: string): Promise<IamPolicy> {
    return this.getPolicy(resource);
  }

  async read(grant: GcpGrant, resolved: GcpResolved) {
    const { policy } = await this.writer.read(grant.resource);
    const live = liveMembers(policy, grant.role, grant.members);
    return {
      grant: { ...grant, binding: live.length > 0 ? { role: grant.role, members: live } : null },
      resolved: { ...resolved, preExistingMembers: resolved.preExistingMembers ?? [] },
    };
  }

  async ensure(
    grant: GcpGrant,
    previous?: { grant: GcpGrant; resolved: GcpResolved },
    progress?: EnsureProgress<GcpResolved>,
  ) {
    // The connection needs nothing Google resolves: it can be written while the binding is.
    progress?.factsKnown({});
    let failedOver: IamPolicy | undefined;
    const { changed, before } = await this.writer
      .submit(grant.resource, {
        what: `add ${grant.members.join(", ")} to ${grant.role}`,
        apply: (policy) => withMembers(policy, grant.role, grant.members),
        holds: (policy) => liveMembers(policy, grant.role, grant.members).length === grant.members.length,
        removal: false,
        writeFailed: (policy) => (failedOver = policy),
      })
      .catch(async (error: unknown) => {
        if (failedOver) await this.takeBack(grant, failedOver);
        throw error;
      });
    const presentBefore = liveMembers(before, grant.role, grant.members);
    return { changed, resolved: { preExistingMembers: preExisting(grant, presentBefore, previous) } };
  }

  /**
   * After a write whose answers were all lost: the members it added (absent from the policy it was
   * written over) go again, so a create reported as failed leaves no binding behind. Best effort:
   * the failure being reported matters more than its clean-up failing too.
   */
  private async takeBack(grant: GcpGrant, before: IamPolicy): Promise<void> {
    const present = new Set(liveMembers(before, grant.role, grant.members));
    const added = grant.members.filter((m) => !present.has(m));
    if (added.length === 0) return;
    await this.writer
      .submit(grant.resource, {
        what: `take back ${added.join(", ")} from ${grant.role}`,
        apply: (policy) => withoutMembers(policy, grant.role, added),
        holds: (policy) => liveMembers(policy, grant.role, added).length === 0,
        removal: true,
      })
      .catch(() => undefined);
  }

  async remove(grant: GcpGrant, resolved: GcpResolved) {
    const keep = new Set(resolved.preExistingMembers ?? []);
    const ours = grant.members.filter((m) => !keep.has(m));
    if (ours.length === 0) return { removed: false };
    const { changed } = await this.writer.submit(grant.resource, {
      what: `remove ${ours.join(", ")} from ${grant.role}`,
      apply: (policy) => withoutMembers(policy, grant.role, ours),
      holds: (policy) => liveMembers(policy, grant.role, ours).length === 0,
      removal: true,
    });
    return { removed: changed };
  }

  private async getPolicy(resource: string): Promise<IamPolicy> {
    const response = resource.includes("/serviceAccounts/")
      ? await this.call(resource, "serviceAccounts.getIamPolicy", () =>
          this.serviceAccounts.getIamPolicy({ resource, "options.requestedPolicyVersion": POLICY_VERSION }),
        )
      : await this.call(resource, "projects.getIamPolicy", () =>
          this.projects.getIamPolicy({
            resource,
            requestBody: { options: { requestedPolicyVersion: POLICY_VERSION } },
          }),
        );
    return response.data as IamPolicy;
  }

  private async setPolicy(resource: string, policy: IamPolicy, etag: string | undefined): Promise<void> {
    // The default update mask is "bindings,etag": audit configs are sent back as read and left alone.
    const body = { ...policy, version: Math.max(policy.version ?? 1, POLICY_VERSION), etag };
    const tries = { mayHaveLanded: false };
    try {
      if (resource.includes("/serviceAccounts/")) {
        await this.call(
          resource,
          "serviceAccounts.setIamPolicy",
          () => this.serviceAccounts.setIamPolicy({ resource, requestBody: { policy: body as iam_v1.Schema$Policy } }),
          tries,
        );
      } else {
        await this.call(
          resource,
          "projects.setIamPolicy",
          () =>
            this.projects.setIamPolicy({
              resource,
              requestBody: { policy: body as cloudresourcemanager_v3.Schema$Policy },
            }),
          tries,
        );
      }
    } catch (error) {
      // After a try whose answer was lost, our own write may be what made the etag stale.
      if (error instanceof RemoteError && error.status === 409)
        throw new StalePolicyError(error.message, tries.mayHaveLanded);
      throw error;
    }
  }

  private overLimit(resource: string, current: IamPolicy, next: IamPolicy): AuthorizationError | undefined {
    const needed = principalCount(next);
    if (needed <= MAX_PRINCIPALS_PER_POLICY) return undefined;
    return new AuthorizationError(
      "QUOTA_EXCEEDED",
      `the IAM policy of ${describeResource(resource)} would hold ${needed} principals (now ` +
        `${principalCount(current)}, counting role bindings and audit-log exemptions as Google does), over ` +
        `Google's limit of ${MAX_PRINCIPALS_PER_POLICY} per policy. ${WAYS_OUT_OF_THE_PRINCIPAL_LIMIT}`,
    );
  }

  private call<T>(resource: string, method: string, send: () => Promise<T>, tries?: LandedTries): Promise<T> {
    const what = `Google Cloud ${method} on ${describeResource(resource)}`;
    return this.remote.call({ what, count: method, target: resource, ...(tries ? { tries } : {}) }, () => send());
  }
}

const WAYS_OUT_OF_THE_PRINCIPAL_LIMIT =
  "Ways out: grant the role to a Google group that holds the Deployments' identities, or spread " +
  "Deployments over more service accounts or projects.";

/** Google's refusal of a policy over its size limit (400 INVALID_ARGUMENT). */
const POLICY_TOO_LARGE = /number of members in the policy .* is larger than the maximum allowed size/i;

/** A Google error in our terms: what failed, where, and what to do. */
function explain(error: unknown, what: string, resource: string): unknown {
  if (error instanceof RetriesExhaustedError) {
    return unavailable(error, "Google Cloud is throttling or failing; run pulumi up again later.");
  }
  const status = statusOf(error);
  const message = googleMessage(error);
  const name = describeResource(resource);
  // Resource Manager answers 403 for a project that does not exist, so as not to reveal which do.
  if (status === 404 || (status === 403 && resourceKind(resource) === "project")) {
    const project = resourceKind(resource) === "project";
    const id = resource.replace(project ? /^projects\// : /^projects\/[^/]+\/serviceAccounts\//, "");
    return new TargetMissingError(
      {
        what: name,
        kind: resourceKind(resource),
        input: project ? "gcp.project" : "gcp.grant.serviceAccount",
        check: project ? `gcloud projects get-iam-policy ${id}` : `gcloud iam service-accounts get-iam-policy ${id}`,
        answered: `${what} answered ${status}: ${message}`,
      },
      { cause: error },
    );
  }
  if (status === 401 || status === 403) {
    return new RemoteError(
      `${what} was refused (${status}: ${message}). Check the Google credentials (Application Default ` +
        `Credentials, or GOOGLE_OAUTH_ACCESS_TOKEN) and that they may get and set this IAM policy.`,
      status,
      false,
      { cause: error, code: "PERMISSION_DENIED" },
    );
  }
  // Google may refuse below the predicted count (conditions, very long identifiers): the same limit.
  if (status === 400 && POLICY_TOO_LARGE.test(message)) {
    return new AuthorizationError(
      "QUOTA_EXCEEDED",
      `${what} was refused: the IAM policy of ${name} is over Google's size limit (${message}). ` +
        WAYS_OUT_OF_THE_PRINCIPAL_LIMIT,
      { cause: error },
    );
  }
  return new RemoteError(`${what} failed (${status ?? "no answer"}: ${message})`, status, false, { cause: error });
}

function withSlash(url: string): string {
  return url.endsWith("/") ? url : `${url}/`;
}
