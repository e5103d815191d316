import { PlannedAuthorization, planAuthorization } from "../../provider/plan";
import { parseInputs } from "../../provider/schema";
import type { TrustPolicy } from "../../provider/trustPolicy";

export const WORKLOAD_IDENTITY = "arn:aws:iam::111122223333:role/astro-celestial-galaxy-1234";
export const TARGET_ROLE_ARN = "arn:aws:iam::123456789012:role/data-reader";

/** Raw inputs as the component sends them. */
export function rawInputs(overrides: Record<string, unknown> = {}) {
  return {
    owner: "demo/dev/s3-reader",
    workloadIdentity: WORKLOAD_IDENTITY,
    aws: { targetRole: TARGET_ROLE_ARN, region: "us-east-1" },
    connection: {
      connectionId: "aws_data",
      airflow: { url: "http://127.0.0.1:8080", auth: { kind: "token" } },
    },
    ...overrides,
  };
}

/** Statements someone else wrote, in every shape a trust policy may hold them. */
export function foreignPolicy(): TrustPolicy {
  return {
    Version: "2012-10-17",
    Statement: [
      { Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" },
      {
        Sid: "StringPrincipal",
        Effect: "Allow",
        Principal: { AWS: "arn:aws:iam::444455556666:root" },
        Action: "sts:AssumeRole",
      },
      {
        Sid: "ListPrincipal",
        Effect: "Allow",
        Principal: { AWS: ["arn:aws:iam::444455556666:role/a", "arn:aws:iam::444455556666:role/b"] },
        Action: ["sts:AssumeRole", "sts:AssumeRoleWithSAML"],
      },
      {
        Sid: "Federated",
        Effect: "Allow",
        Principal: { Federated: "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/EXAMPLE" },
        Action: "sts:AssumeRoleWithWebIdentity",
        Condition: { StringEquals: { "oidc.eks.us-west-2.amazonaws.com/id/EXAMPLE:aud": "sts.amazonaws.com" } },
      },
    ],
  };
}

/**
 * A NotAction statement: valid in IAM, but moto 5 refuses to store any trust policy holding one
 * through UpdateAssumeRolePolicy (its validator reads statement["Action"]), so it is kept apart.
 */
export const NOT_ACTION_STATEMENT = {
  Sid: "NotActionDeny",
  Effect: "Deny",
  Principal: { AWS: "*" },
  NotAction: "sts:AssumeRoleWithWebIdentity",
};

export const FOREIGN_COUNT = 4;

/** What the provider plans for raw inputs; a test's inputs must be valid. */
export function planned(raw: unknown): PlannedAuthorization {
  const parsed = parseInputs(raw);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.failures));
  return planAuthorization(parsed.value);
}

/** Raw inputs for a trust other than the default one, which takes no workloadIdentity. */
export function trustInputs(targetRole: string, trust: Record<string, unknown>, region = "us-east-1") {
  const { workloadIdentity: _none, ...raw } = rawInputs();
  return { ...raw, aws: { targetRole, region, trust } };
}
