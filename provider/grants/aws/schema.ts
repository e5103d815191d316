import { z } from "zod";
import { mustBe, orUnknown, strictObject } from "../../core/schema";
import { UNKNOWN } from "../../core/unknown";
import type { CommonInputs, IssueSink } from "../../core/types";
import {
  issuerUrlSchema,
  namespaceSchema,
  serviceAccountNamesSchema,
  serviceAccountsSchema,
} from "../../astro/namingSchema";
import { CLUSTER_ROLE_PREFIX, ROLE_ARN, ROLE_NAME } from "./names";

/**
 * Region codes as AWS writes them (us-east-1, us-gov-west-1, cn-north-1, eusc-de-east-1): a 2-4
 * letter area, one or more words, a number. Which regions exist is the account's business.
 */
const AWS_REGION = /^[a-z]{2,4}(?:-[a-z]+)+-\d{1,2}$/;

const ROLE_ARN_RULE =
  "an IAM role ARN, arn:aws:iam::<12-digit account>:role/<optional path/><name of 1-64 letters, digits and _+=,.@->, such as arn:aws:iam::123456789012:role/astro-my-namespace";

const roleArn = z
  .string({ error: "must be an IAM role ARN as a string" })
  .regex(ROLE_ARN, { error: mustBe(ROLE_ARN_RULE) });

const targetRole = z
  .string({ error: "must be a string: an IAM role ARN or role name" })
  .refine((v) => ROLE_ARN.test(v) || ROLE_NAME.test(v), {
    error: mustBe(
      "an IAM role ARN (arn:aws:iam::<12-digit account>:role/<optional path/><name>) or a role name (1-64 letters, digits and _+=,.@-), such as arn:aws:iam::123456789012:role/my-role or my-role",
    ),
  });

/** AWS account ids are 12 digits ("View AWS account identifiers"). */
const accountId = z
  .string({ error: "must be a 12-digit AWS account id as a string" })
  .regex(/^\d{12}$/, { error: mustBe("a 12-digit AWS account id such as 123456789012") });

/** The cluster role `AirflowS3Logs-<clusterId>` must itself be an IAM role name: at most 64 characters. */
const clusterId = z
  .string({ error: "must be the Astro cluster id as a string" })
  .regex(new RegExp(`^[\\w-]{1,${64 - CLUSTER_ROLE_PREFIX.length}}$`), {
    error: mustBe(
      `the Astro cluster id, at most ${64 - CLUSTER_ROLE_PREFIX.length} letters, digits, _ and - (the role ${CLUSTER_ROLE_PREFIX}<clusterId> is an IAM role name, at most 64 characters), such as clv1a2b3c000008l7abcd1234`,
    ),
  });

export const RESERVED_AWS_EXTRA_KEYS = ["role_arn", "region_name", "assume_role_method"] as const;

/**
 * The `extra` keys apache-airflow-providers-amazon reads as credentials
 * (AwsConnectionWrapper._get_credentials, for every AWS hook). Its other credential-bearing keys,
 * `session_kwargs` and `assume_role_kwargs`, are objects, which `extra` values here cannot be.
 */
export const SECRET_AWS_EXTRA_KEYS: Readonly<Record<string, string>> = {
  aws_access_key_id: "an access key id, the half of a long-lived key pair that goes with aws_secret_access_key",
  aws_secret_access_key: "the secret of an access key",
  aws_session_token: "a session token of temporary credentials",
};

const trust = z.discriminatedUnion(
  "kind",
  [
    strictObject({
      /**
       * "deploymentRole": trust the Deployment's workload identity, an IAM role (Astro's default). Needs
       * `workloadIdentity`.
       */
      kind: z
        .literal("deploymentRole")
        .describe(
          "\"deploymentRole\": trust the Deployment's workload identity, an IAM role (Astro's default). Needs `workloadIdentity`.",
        ),
    }),
    strictObject({
      /**
       * "clusterRole": trust the Astro cluster's role, AirflowS3Logs-<clusterId>, for every Deployment on
       * the cluster. Give clusterRoleArn, or dataPlaneAccountId and clusterId.
       */
      kind: z
        .literal("clusterRole")
        .describe(
          '"clusterRole": trust the Astro cluster\'s role, AirflowS3Logs-<clusterId>, for every Deployment on the cluster. Give clusterRoleArn, or dataPlaneAccountId and clusterId.',
        ),
      /**
       * The cluster role's ARN, such as
       * arn:aws:iam::123456789012:role/AirflowS3Logs-clv1a2b3c000008l7abcd1234. Or give dataPlaneAccountId
       * and clusterId instead.
       */
      clusterRoleArn: orUnknown(roleArn)
        .optional()
        .describe(
          "The cluster role's ARN, such as arn:aws:iam::123456789012:role/AirflowS3Logs-clv1a2b3c000008l7abcd1234. Or give dataPlaneAccountId and clusterId instead.",
        ),
      /**
       * The 12-digit AWS account of the cluster's data plane, such as 123456789012: with clusterId, names
       * the role AirflowS3Logs-<clusterId> in that account.
       */
      dataPlaneAccountId: orUnknown(accountId)
        .optional()
        .describe(
          "The 12-digit AWS account of the cluster's data plane, such as 123456789012: with clusterId, names the role AirflowS3Logs-<clusterId> in that account.",
        ),
      /**
       * The Astro cluster's id, such as clv1a2b3c000008l7abcd1234: with dataPlaneAccountId, names the role
       * AirflowS3Logs-<clusterId>.
       */
      clusterId: orUnknown(clusterId)
        .optional()
        .describe(
          "The Astro cluster's id, such as clv1a2b3c000008l7abcd1234: with dataPlaneAccountId, names the role AirflowS3Logs-<clusterId>.",
        ),
    }).refine(
      (t) => t.clusterRoleArn !== undefined || (t.dataPlaneAccountId !== undefined && t.clusterId !== undefined),
      {
        error: "give clusterRoleArn, or dataPlaneAccountId and clusterId (the role is AirflowS3Logs-<clusterId>)",
      },
    ),
    strictObject({
      /**
       * "webIdentity": trust the Deployment's Kubernetes service accounts through the cluster's IAM OIDC
       * provider (IRSA; the provider is created when absent).
       */
      kind: z
        .literal("webIdentity")
        .describe(
          "\"webIdentity\": trust the Deployment's Kubernetes service accounts through the cluster's IAM OIDC provider (IRSA; the provider is created when absent).",
        ),
      /**
       * The cluster's OIDC issuer (Astro: the Deployment's `oidcIssuerUrl`): https, without query, fragment
       * or port, at most 255 characters, such as
       * https://oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B71; may be an output. With
       * `deployment`, read from the Deployment.
       */
      // CreateOpenIDConnectProvider Url: https, no query, "should not contain a port", 1-255 characters.
      issuerUrl: issuerUrlSchema({
        example: "https://oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B71",
        maxLength: 255,
        port: false,
        source: "IAM's rule for an OIDC provider URL",
      }).describe(
        "The cluster's OIDC issuer (Astro: the Deployment's `oidcIssuerUrl`): https, without query, fragment or port, at most 255 characters, such as https://oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B71; may be an output. With `deployment`, read from the Deployment.",
      ),
      /**
       * The Deployment's Kubernetes namespace, such as astronomer-celestial-galaxy-1234; may be an output
       * of the resource that creates the Deployment. With `deployment`, read from the Deployment.
       */
      namespace: namespaceSchema.describe(
        "The Deployment's Kubernetes namespace, such as astronomer-celestial-galaxy-1234; may be an output of the resource that creates the Deployment. With `deployment`, read from the Deployment.",
      ),
      /**
       * The Deployment's components whose service accounts are trusted, of scheduler, worker, triggerer,
       * dag-processor, webserver, api-server and kpo, such as ["worker"]. Default: scheduler, worker,
       * triggerer, dag-processor, kpo.
       */
      serviceAccounts: serviceAccountsSchema.describe(
        'The Deployment\'s components whose service accounts are trusted, of scheduler, worker, triggerer, dag-processor, webserver, api-server and kpo, such as ["worker"]. Default: scheduler, worker, triggerer, dag-processor, kpo.',
      ),
      /**
       * Full Kubernetes service account names to trust instead of the components' (they take precedence
       * over serviceAccounts), such as ["astronomer-celestial-galaxy-1234-worker-serviceaccount"].
       */
      serviceAccountNames: serviceAccountNamesSchema.describe(
        'Full Kubernetes service account names to trust instead of the components\' (they take precedence over serviceAccounts), such as ["astronomer-celestial-galaxy-1234-worker-serviceaccount"].',
      ),
      /**
       * Trust every service account of the namespace (StringLike system:serviceaccount:<namespace>:*, in a
       * statement of its own), not with serviceAccounts or serviceAccountNames. Default: false.
       */
      namespaceWide: z
        .boolean()
        .optional()
        .describe(
          "Trust every service account of the namespace (StringLike system:serviceaccount:<namespace>:*, in a statement of its own), not with serviceAccounts or serviceAccountNames. Default: false.",
        ),
      /**
       * Write `role_arn` and `assume_role_method: assume_role_with_web_identity` into the connection, so
       * the hook assumes the role itself. Default: false: the pods' own credentials, with `region_name`
       * alone.
       */
      connectionAssumesRole: z
        .boolean()
        .optional()
        .describe(
          "Write `role_arn` and `assume_role_method: assume_role_with_web_identity` into the connection, so the hook assumes the role itself. Default: false: the pods' own credentials, with `region_name` alone.",
        ),
    }).refine((t) => !(t.namespaceWide && (t.serviceAccounts || t.serviceAccountNames)), {
      error:
        "namespaceWide trusts every service account of the namespace: drop serviceAccounts and serviceAccountNames",
    }),
  ],
  {
    error:
      'must be {kind: "deploymentRole"}, {kind: "clusterRole", ...} or {kind: "webIdentity", issuerUrl, namespace}',
  },
);

/** `inputs.aws`: the role to add a trust statement to, whom it trusts, and the connection's region. */
export const awsInputSchema = strictObject({
  /**
   * The customer's IAM role the Deployment will assume: an ARN, a role name, or an `aws.iam.Role`, such as
   * arn:aws:iam::123456789012:role/my-role or my-role. The resource adds one trust statement to this role;
   * it never creates or deletes the role.
   */
  targetRole: orUnknown(targetRole).describe(
    "The customer's IAM role the Deployment will assume: an ARN, a role name, or an `aws.iam.Role`, such as arn:aws:iam::123456789012:role/my-role or my-role. The resource adds one trust statement to this role; it never creates or deletes the role.",
  ),
  /**
   * Whom the role trusts: { kind: "deploymentRole" }, { kind: "clusterRole", ... } or { kind:
   * "webIdentity", issuerUrl, namespace, ... }. Default: { kind: "deploymentRole" }, the Deployment's
   * `workloadIdentity`.
   */
  trust: trust
    .optional()
    .describe(
      'Whom the role trusts: { kind: "deploymentRole" }, { kind: "clusterRole", ... } or { kind: "webIdentity", issuerUrl, namespace, ... }. Default: { kind: "deploymentRole" }, the Deployment\'s `workloadIdentity`.',
    ),
  /**
   * Take over the same trust written by hand: once this resource's entry is written and read
   * back, its principals (or service accounts) are taken out of every statement someone else
   * wrote that trusts them exactly as this one does; such a statement left empty goes. Without
   * it those statements stay, beside ours, and survive destroy. For moving a manual setup in.
   * Default: false.
   */
  adoptExistingTrust: z
    .boolean({ error: "must be true or false" })
    .optional()
    .describe(
      "Take over the same trust written by hand: once this resource's entry is written and read back, its principals (or service accounts) are taken out of every statement someone else wrote that trusts them exactly as this one does; such a statement left empty goes. Without it those statements stay, beside ours, and survive destroy. For moving a manual setup in. Default: false.",
    ),
  /**
   * Region written to the connection (`region_name`), such as us-east-1. Default: the stack config
   * `aws:region`.
   */
  region: orUnknown(
    z
      .string({
        error: "is required: pass aws.region or set the stack config aws:region (for example us-east-1)",
      })
      .regex(AWS_REGION, { error: mustBe("an AWS region code such as us-east-1 or eu-central-1") }),
  ).describe(
    "Region written to the connection (`region_name`), such as us-east-1. Default: the stack config `aws:region`.",
  ),
}).describe(
  "Grant in AWS: one trust statement for the Deployment in an IAM role's trust policy, and the connection's role and region. { targetRole, trust?, region?, adoptExistingTrust? }.",
);

export type AwsInput = z.infer<typeof awsInputSchema>;

/** Which trusts need the Deployment's own identity, and what shape it has on AWS. */
export function refineAwsInput(input: AwsInput, common: CommonInputs, issue: IssueSink): void {
  const kind = input.trust?.kind ?? "deploymentRole";
  if (!["deploymentRole", "clusterRole", "webIdentity"].includes(kind)) return;
  const identity = common.workloadIdentity;
  if (kind === "deploymentRole" && identity === undefined) {
    issue(
      ["workloadIdentity"],
      "is required for the deploymentRole trust: the Deployment's workload identity, an IAM role ARN such as arn:aws:iam::123456789012:role/astro-my-namespace",
    );
  }
  if (kind === "deploymentRole" && identity !== undefined && identity !== UNKNOWN && !ROLE_ARN.test(identity)) {
    issue(["workloadIdentity"], mustBe(ROLE_ARN_RULE)());
  }
  if (kind !== "deploymentRole" && identity !== undefined) {
    issue(
      ["workloadIdentity"],
      `is only for the deploymentRole trust; the ${kind} trust names whom it trusts in aws.trust`,
    );
  }
  const role = input.targetRole;
  if (kind === "webIdentity" && typeof role === "string" && role !== UNKNOWN && !ROLE_ARN.test(role)) {
    issue(
      ["aws", "targetRole"],
      `must be a role ARN for the webIdentity trust (the OIDC provider lives in the role's account), such as arn:aws:iam::123456789012:role/my-role`,
    );
  }
}
