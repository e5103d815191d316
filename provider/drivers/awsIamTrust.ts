import {
  GetAccountSummaryCommand,
  GetRoleCommand,
  IAMClient,
  UpdateAssumeRolePolicyCommand,
} from "@aws-sdk/client-iam";
import { ROLE_ARN } from "../schema";
import { RemoteError, TargetMissingError } from "../errors";
import { withLock } from "../lock";
import { RetriesExhaustedError, withRetries, jitteredDelay, defaultSleep } from "../retry";
import {
  PolicyStatement,
  TrustPolicy,
  findStatement,
  minify,
  parsePolicyDocument,
  sameStatement,
  withStatement,
  withoutStatement,
} from "../trustPolicy";
import { roleNameOf } from "../plan";
import type { TrustDriver } from "./types";

export interface AwsIamTrustOptions {
  client?: IAMClient;
  /** Trust policy length quota; read from GetAccountSummary when not given. */
  policySizeQuota?: number;
  /** Tries for one remote call (throttling, 5xx, principal not yet visible). */
  attempts?: number;
  /** Tries to converge when another writer keeps overwriting the policy. */
  convergeAttempts?: number;
  baseDelayMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

const RETRYABLE_NAMES = new Set([
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

function isNoSuchEntity(error: unknown): boolean {
  return error instanceof Error && errorCode(error) === "NoSuchEntity";
}

export function isRetryableAwsError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  if (RETRYABLE_NAMES.has(errorCode(error)) || (status !== undefined && status >= 500)) return true;
  // IAM is eventually consistent: a principal created a moment ago is not yet "valid".
  if (errorCode(error) === "MalformedPolicyDocument" && /invalid principal/i.test(error.message)) return true;
  const code = (error as { code?: string }).code;
  return code === "ECONNRESET" || code === "ETIMEDOUT" || code === "EPIPE";
}

/** Keeps one statement per resource in an IAM role's trust policy, serialized per role. */
export class AwsIamTrustDriver implements TrustDriver {
  private readonly client: IAMClient;
  private quota: Promise<number> | undefined;
  readonly calls = { getRole: 0, updateAssumeRolePolicy: 0, getAccountSummary: 0 };

  constructor(private readonly options: AwsIamTrustOptions = {}) {
    this.client = options.client ?? new IAMClient({ region: process.env.AWS_REGION ?? "us-east-1", maxAttempts: 1 });
    if (options.policySizeQuota !== undefined) this.quota = Promise.resolve(options.policySizeQuota);
  }

  async read(role: string, sid: string) {
    const { arn, policy } = await this.getRole(role);
    return { roleArn: arn, statement: findStatement(policy, sid) };
  }

  ensure(role: string, statement: PolicyStatement) {
    return this.converge(
      role,
      `add statement ${statement.Sid}`,
      (policy) => withStatement(policy, statement),
      (policy) => sameStatement(findStatement(policy, statement.Sid!), statement),
    ).then(({ arn, changed }) => ({ roleArn: arn, changed }));
  }

  async remove(role: string, sid: string) {
    const { changed } = await this.converge(
      role,
      `remove statement ${sid}`,
      (policy) => withoutStatement(policy, sid),
      (policy) => findStatement(policy, sid) === undefined,
    );
    return { removed: changed };
  }

  /**
   * Read-modify-write under the per-role lock, then read back: IAM has no etag on trust policies, so
   * a writer in another process may have overwritten us; if our edit is not there, apply it again.
   */
  private async converge(
    role: string,
    what: string,
    edit: (policy: TrustPolicy) => TrustPolicy,
    holds: (policy: TrustPolicy) => boolean,
  ): Promise<{ arn: string; changed: boolean }> {
    const name = roleNameOf(role);
    const attempts = this.options.convergeAttempts ?? 6;
    return withLock(`aws-iam-role:${name}`, async () => {
      let changed = false;
      for (let attempt = 0; attempt < attempts; attempt++) {
        const { arn, policy } = await this.getRole(role);
        if (holds(policy)) return { arn, changed };
        const next = edit(policy);
        await this.checkQuota(name, policy, next);
        await this.call(`UpdateAssumeRolePolicy on role ${name} (${what})`, () => {
          this.calls.updateAssumeRolePolicy++;
          return this.client.send(new UpdateAssumeRolePolicyCommand({ RoleName: name, PolicyDocument: minify(next) }));
        });
        changed = true;
        const after = await this.getRole(role);
        if (holds(after.policy)) return { arn: after.arn, changed };
        await (this.options.sleep ?? defaultSleep)(jitteredDelay(attempt, this.options.baseDelayMs ?? 200, 5000));
      }
      throw new RemoteError(
        `could not ${what} in the trust policy of role ${name}: another writer overwrote it ${attempts} times in a row. ` +
          `Find what else edits this role's trust policy (another stack, a console session, a script) and run pulumi up again.`,
      );
    });
  }

  private async checkQuota(name: string, current: TrustPolicy, next: TrustPolicy): Promise<void> {
    const needed = minify(next).length;
    if (needed <= 2048 && this.options.policySizeQuota === undefined) return;
    const quota = await this.policySizeQuota();
    if (needed <= quota) return;
    throw new RemoteError(
      `the trust policy of role ${name} would be ${needed} characters (now ${minify(current).length}), ` +
        `over this account's quota of ${quota} (AssumeRolePolicySizeQuota). Ways out: ask AWS to raise the ` +
        `"Role trust policy length" quota (Service Quotas, IAM), or spread Deployments over more roles.`,
    );
  }

  private policySizeQuota(): Promise<number> {
    this.quota ??= this.call("GetAccountSummary", () => {
      this.calls.getAccountSummary++;
      return this.client.send(new GetAccountSummaryCommand({}));
    }).then((r) => r.SummaryMap?.AssumeRolePolicySizeQuota ?? 2048);
    return this.quota;
  }

  private async getRole(role: string): Promise<{ arn: string; policy: TrustPolicy }> {
    const name = roleNameOf(role);
    try {
      const response = await this.call(`GetRole ${name}`, () => {
        this.calls.getRole++;
        return this.client.send(new GetRoleCommand({ RoleName: name }));
      });
      const arn = response.Role?.Arn ?? "";
      if (ROLE_ARN.test(role) && arn !== role) {
        throw new TargetMissingError(
          `IAM role ${name} exists, but its ARN is ${arn}, not ${role}: the credentials in use reach another account ` +
            `or the role has another path. Fix aws.targetRole or the AWS credentials of the stack.`,
        );
      }
      return { arn, policy: parsePolicyDocument(response.Role?.AssumeRolePolicyDocument ?? "{}") };
    } catch (error) {
      if (error instanceof Error && isNoSuchEntity(error)) {
        throw new TargetMissingError(
          `IAM role ${name} does not exist. This resource adds a trust statement to a role it does not own and ` +
            `never creates one: create the role (or fix aws.targetRole). If the role was deleted on purpose, ` +
            `remove this resource from the stack with pulumi state delete <urn>.`,
        );
      }
      throw error;
    }
  }

  private async call<T>(what: string, send: () => Promise<T>): Promise<T> {
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
        send,
      );
    } catch (error) {
      if (error instanceof RetriesExhaustedError) {
        throw new RemoteError(
          `${error.message}. AWS is throttling or failing; run pulumi up again later.`,
          undefined,
          true,
        );
      }
      if (error instanceof Error && !isNoSuchEntity(error) && !(error instanceof TargetMissingError)) {
        throw new RemoteError(`AWS IAM ${what} failed: ${errorCode(error)}: ${error.message}`);
      }
      throw error;
    }
  }
}
