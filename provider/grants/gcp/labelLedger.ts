import type { cloudresourcemanager_v3 } from "@googleapis/cloudresourcemanager";
import type { iam_v1 } from "@googleapis/iam";
import { AuthorizationError, RemoteError, TargetMissingError } from "../../core/errors";
import { PolicyStore, SharedPolicyOptions, SharedPolicyWriter, StalePolicyError } from "../../core/policyStore";
import { LandedTries, REMOTE_DEFAULTS, Remote, RemoteTuning, unavailable } from "../../core/remoteCall";
import { RetriesExhaustedError, jitteredDelay } from "../../core/retry";
import type { ClaimLedger } from "../../core/types";
import {
  CLAIM_LABEL_PREFIX,
  LABEL_LIMIT,
  Labels,
  claimsIn,
  holdsAnyClaim,
  holdsClaim,
  withClaim,
  withoutClaim,
} from "./claimLabels";
import { GOOGLE_CLASSIFIER, googleMessage, statusOf } from "./googleErrors";
import { GcpGrant, resourceKind } from "./plan";

export interface LabelLedgerOptions extends SharedPolicyOptions, RemoteTuning {
  /** Where the calls are counted (the driver's counts, so that one place shows every call). */
  calls?: Record<string, number>;
  /** Where the Google APIs are, for the certificate message. */
  url?: string;
  /** Checks of a label update's long-running operation before it counts as not finished; default 10. */
  operationChecks?: number;
}

/** Google's `google.rpc.Code` ABORTED: a stale etag, when the operation reports it rather than the call. */
const ABORTED = 10;

/** The project whose labels keep the claims, and the input that names it. */
interface Place {
  project: string;
  input: "gcp.project" | "gcp.grant.serviceAccount";
  /** The service account the grant edits, when it is one: the project is its project. */
  serviceAccount?: string;
}

/** A call and what it needs, for the message when it fails. */
interface LabelCall {
  method: "projects.get" | "projects.patch" | "operations.get" | "projects.serviceAccounts.get";
  /** The project, or for `projects.serviceAccounts.get` the service account's e-mail. */
  on: string;
  permission: string;
}

/** Google answered 403 or 404 for the project: it does not exist, or these credentials do not see it. */
class ProjectUnseen extends Error {
  constructor(
    readonly answered: string,
    options: { cause: unknown },
  ) {
    super(answered, options);
  }
}

const WHY =
  "This resource keeps its claim on a member that resources whose connections live in other places may share as " +
  `a label of the project (${CLAIM_LABEL_PREFIX}<instance>), so that deleting one of them does not take the ` +
  "member away from the others";

/**
 * Claims kept as the labels of the project that holds the IAM policy the grant edits (for a service
 * account's policy, the account's project): one label per owner, more when its digests do not fit
 * in one. Every write is a read-modify-write of the whole labels map with the project's etag
 * (Resource Manager v3 `projects.get`, then `projects.patch` with `updateMask=labels`) through the
 * shared writer: labels that are not ours are written back as read, and a stale etag is read again
 * and re-applied after a jittered pause, within a bound.
 */
export class ProjectLabelLedger implements ClaimLedger<GcpGrant> {
  private readonly remote: Remote;
  private readonly writer: SharedPolicyWriter<Labels, Record<string, never>>;
  /** A service account never moves to another project: its project is looked up once. */
  private readonly accountProjects = new Map<string, Promise<string>>();

  constructor(
    private readonly crm: cloudresourcemanager_v3.Cloudresourcemanager,
    private readonly serviceAccounts: iam_v1.Resource$Projects$Serviceaccounts,
    private readonly options: LabelLedgerOptions = {},
  ) {
    this.remote = new Remote({
      defaults: REMOTE_DEFAULTS.gcpIam,
      tuning: options,
      classify: GOOGLE_CLASSIFIER,
      ...(options.url ? { url: options.url } : {}),
      ...(options.calls ? { calls: options.calls } : {}),
      // Explained by `call`, which knows the permission and the project.
      explain: ({ error }) => error,
    });
    const store: PolicyStore<Labels, Record<string, never>> = {
      etags: true,
      describe: (project) => `the labels of project ${project}`,
      lockKey: (project) => `gcp-labels:${project}`,
      read: async (project) => {
        const { labels, etag } = await this.readLabels(project);
        return { policy: labels, etag, facts: {} };
      },
      write: (project, labels, etag) => this.writeLabels(project, labels, etag),
      checkLimits: async (project, current, next) => overLimit(project, current, next),
    };
    this.writer = new SharedPolicyWriter(store, options);
  }

  async record(grant: GcpGrant, owner: string, digests: string[]): Promise<void> {
    const place = await this.placeOf(grant);
    await this.writer
      .submit(place.project, {
        what: `record the claim of ${owner}`,
        apply: (labels) => withClaim(labels, owner, digests),
        holds: (labels) => holdsClaim(labels, owner, digests),
        removal: false,
      })
      .catch((error: unknown) => {
        throw error instanceof ProjectUnseen ? missingProject(place, error) : error;
      });
  }

  async release(grant: GcpGrant, owner: string): Promise<void> {
    let place: Place;
    try {
      place = await this.placeOf(grant);
    } catch (error) {
      if (error instanceof TargetMissingError) return;
      throw error;
    }
    await this.writer
      .submit(place.project, {
        what: `release the claim of ${owner}`,
        apply: (labels) => withoutClaim(labels, owner),
        holds: (labels) => !holdsAnyClaim(labels, owner),
        removal: true,
      })
      .catch((error: unknown) => {
        if (!(error instanceof ProjectUnseen)) throw error;
      });
  }

  async records(grant: GcpGrant): Promise<ReadonlyMap<string, readonly string[]>> {
    const place = await this.placeOf(grant);
    // A read of its own, never one in flight: it is asked right after a release of ours, and must see it.
    const { labels } = await this.readLabels(place.project).catch((error: unknown) => {
      throw error instanceof ProjectUnseen ? missingProject(place, error) : error;
    });
    return claimsIn(labels);
  }

  private async placeOf(grant: GcpGrant): Promise<Place> {
    if (resourceKind(grant.resource) === "project") {
      return { project: grant.resource.replace(/^projects\//, ""), input: "gcp.project" };
    }
    const email = grant.resource.replace(/^projects\/[^/]+\/serviceAccounts\//, "");
    return { project: await this.projectOf(email), input: "gcp.grant.serviceAccount", serviceAccount: email };
  }

  /**
   * The project of a service account, as IAM says: the e-mail does not always name it (Google-managed
   * accounts, service agents), and a project id is what Resource Manager takes.
   */
  private projectOf(email: string): Promise<string> {
    let known = this.accountProjects.get(email);
    if (!known) {
      known = this.call(
        { method: "projects.serviceAccounts.get", on: email, permission: "iam.serviceAccounts.get" },
        () => this.serviceAccounts.get({ name: `projects/-/serviceAccounts/${email}` }),
      ).then(({ data }) => {
        if (!data.projectId) throw new RemoteError(`Google Cloud IAM named no project for service account ${email}`);
        return data.projectId;
      });
      known.catch(() => this.accountProjects.delete(email));
      this.accountProjects.set(email, known);
    }
    return known;
  }

  private async readLabels(project: string): Promise<{ labels: Labels; etag?: string }> {
    const { data } = await this.call(
      { method: "projects.get", on: project, permission: "resourcemanager.projects.get" },
      () => this.crm.projects.get({ name: `projects/${project}` }),
    );
    return { labels: { ...(data.labels ?? {}) }, ...(data.etag ? { etag: data.etag } : {}) };
  }

  /** The whole labels map, with the etag it was read with; waits until Google's operation is done. */
  private async writeLabels(project: string, labels: Labels, etag: string | undefined): Promise<void> {
    const tries = { mayHaveLanded: false };
    const patch = { method: "projects.patch", on: project, permission: "resourcemanager.projects.update" } as const;
    try {
      let { data: operation } = await this.call(
        patch,
        () =>
          this.crm.projects.patch({
            name: `projects/${project}`,
            updateMask: "labels",
            requestBody: { labels, ...(etag ? { etag } : {}) },
          }),
        tries,
      );
      const checks = this.options.operationChecks ?? 10;
      const { baseDelayMs, maxDelayMs, sleep } = this.remote.settings;
      for (let check = 0; !operation.done; check++) {
        if (check >= checks || !operation.name) {
          throw new RemoteError(
            `Google Cloud projects.patch on project ${project} (operation ${operation.name ?? "without a name"}) ` +
              `had not finished after ${check} checks: Google Cloud is slow or failing; run pulumi up again later.`,
            undefined,
            true,
          );
        }
        await sleep(jitteredDelay(check, baseDelayMs, maxDelayMs));
        const name = operation.name;
        ({ data: operation } = await this.call(
          { method: "operations.get", on: project, permission: "resourcemanager.projects.get" },
          () => this.crm.operations.get({ name }),
        ));
      }
      if (operation.error) {
        if (operation.error.code === ABORTED) throw new StalePolicyError(operation.error.message ?? "ABORTED");
        throw new RemoteError(
          `Google Cloud projects.patch on project ${project} failed (operation ${operation.name}: ` +
            `${operation.error.message ?? `code ${operation.error.code}`})`,
        );
      }
    } catch (error) {
      // After a try whose answer was lost, our own write may be what made the etag stale.
      if (error instanceof RemoteError && error.status === 409)
        throw new StalePolicyError(error.message, tries.mayHaveLanded);
      throw error;
    }
  }

  private async call<T>(call: LabelCall, send: () => Promise<T>, tries?: LandedTries): Promise<T> {
    const what =
      call.method === "projects.serviceAccounts.get"
        ? `Google Cloud IAM projects.serviceAccounts.get of service account ${call.on}`
        : `Google Cloud ${call.method} on project ${call.on}`;
    try {
      return await this.remote.call({ what, count: call.method, target: call.on, ...(tries ? { tries } : {}) }, send);
    } catch (error) {
      throw explain(error, what, call);
    }
  }
}

/** A Google error in our terms: what failed, where, which permission it needs, what to do. */
function explain(error: unknown, what: string, call: LabelCall): unknown {
  if (error instanceof AuthorizationError) return error;
  if (error instanceof RetriesExhaustedError) {
    return unavailable(error, "Google Cloud is throttling or failing; run pulumi up again later.");
  }
  const status = statusOf(error);
  const message = googleMessage(error);
  // Resource Manager answers 403 for a project that does not exist, so as not to reveal which do.
  if ((call.method === "projects.get" && status === 403) || (call.method !== "operations.get" && status === 404)) {
    if (call.method === "projects.serviceAccounts.get") {
      return new TargetMissingError(
        {
          what: `service account ${call.on}`,
          kind: "service account",
          input: "gcp.grant.serviceAccount",
          check: `gcloud iam service-accounts get-iam-policy ${call.on}`,
          answered: `${what} answered ${status}: ${message}`,
        },
        { cause: error },
      );
    }
    return new ProjectUnseen(`${what} answered ${status}: ${message}`, { cause: error });
  }
  if (status === 401 || status === 403) {
    const where = call.method === "projects.serviceAccounts.get" ? `service account ${call.on}` : `project ${call.on}`;
    return new RemoteError(
      `${what} was refused (${status}: ${message}). ${WHY}: that needs ${call.permission} on ${where}. Give the ` +
        `Google credentials in use (Application Default Credentials, or GOOGLE_OAUTH_ACCESS_TOKEN) a role with ` +
        `${call.permission} there, then run pulumi up again.`,
      status,
      false,
      { cause: error, code: "PERMISSION_DENIED" },
    );
  }
  return new RemoteError(`${what} failed (${status ?? "no answer"}: ${message})`, status, false, { cause: error });
}

function missingProject(place: Place, error: ProjectUnseen): TargetMissingError {
  const owner = place.serviceAccount ? ` (the project of service account ${place.serviceAccount})` : "";
  return new TargetMissingError(
    {
      what: `project ${place.project}${owner}, whose labels keep the claims on the grant's members`,
      kind: "project",
      input: place.input,
      check: `gcloud projects describe ${place.project}`,
      answered: error.answered,
    },
    { cause: error.cause },
  );
}

function overLimit(project: string, current: Labels, next: Labels): AuthorizationError | undefined {
  const count = Object.keys(next).length;
  if (count <= LABEL_LIMIT) return undefined;
  const added = Object.keys(next).filter((key) => !(key in current));
  return new AuthorizationError(
    "QUOTA_EXCEEDED",
    `project ${project} has ${Object.keys(current).length} labels, and this resource's claim needs ${added.length} ` +
      `more (${added.join(", ")}): ${count}, over Google's limit of ${LABEL_LIMIT} per project. ${WHY}. Remove ` +
      `labels the project does not need (gcloud projects describe ${project} lists them), then run pulumi up again.`,
  );
}
