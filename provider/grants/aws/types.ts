import type { OwnedGrant, PolicyStatement } from "./trustPolicy";

export type TrustMode = "deploymentRole" | "clusterRole" | "webIdentity";

/** The AWS grant as planned (and as state holds it): our share of one statement in a role's trust policy. */
export interface AwsGrant {
  cloud: "aws";
  mode: TrustMode;
  /** As given: a role ARN or a role name. */
  role: string;
  sid: string;
  /** Where the shared list lives, e.g. ["Principal", "AWS"] or ["Condition", "StringEquals", "<issuer>:sub"]. */
  entryPath: string[];
  /** Whom this resource trusts: its own entries in the shared statement's list. */
  entries: string[];
  /** Our share of the statement; null after a refresh found none of our entries live. */
  statement: PolicyStatement | null;
  /** The IAM OIDC provider the web identity trust needs (ensured before the statement). */
  oidcProvider?: { arn: string; url: string };
  /** Take the same trust over from hand-made statements once ours is verified (aws.adoptExistingTrust). */
  adoptExistingTrust?: true;
}

/** What apply learned: the role's ARN, and whether this resource created the OIDC provider. */
export interface AwsResolved {
  [key: string]: unknown;
  roleArn: string;
  oidcProviderCreated?: boolean;
}

/** One resource's grant on one role (a role ARN or name), with the OIDC provider it relies on. */
export interface GrantOnRole extends OwnedGrant {
  role: string;
  oidcProvider?: { arn: string; url: string };
  adoptExistingTrust?: true;
}

/** The seam to IAM: read, ensure and remove the one grant a resource owns on a role. */
export interface TrustDriver {
  /** The role's ARN and our share of the statement as it is live (undefined when absent). Missing role: TargetMissingError. */
  read(grant: GrantOnRole): Promise<{ roleArn: string; statement: PolicyStatement | undefined }>;
  /**
   * Adds our entries, leaving every other statement and entry as it is; creates a missing OIDC
   * provider. `roleArnKnown` is called with the role's ARN as soon as it is read, before the write
   * is verified. `foundEntries`: our entries our statement held before this call wrote anything.
   */
  ensure(
    grant: GrantOnRole,
    roleArnKnown?: (roleArn: string) => void,
  ): Promise<{ roleArn: string; changed: boolean; oidcProviderCreated?: boolean; foundEntries?: string[] }>;
  /** Removes our entries only; absent is success. Missing role: TargetMissingError. */
  remove(grant: GrantOnRole): Promise<{ removed: boolean }>;
  /** The claims kept on the role (its tags): the digests each instance claims. Missing role: TargetMissingError. */
  listClaims?(role: string): Promise<Map<string, string[]>>;
  /** Keeps an instance's claim on the role, replacing its earlier one. Missing role: TargetMissingError. */
  recordClaim?(role: string, instance: string, digests: string[]): Promise<void>;
  /** Takes an instance's claim off the role; absent (and a missing role) is success. */
  releaseClaim?(role: string, instance: string): Promise<void>;
}
