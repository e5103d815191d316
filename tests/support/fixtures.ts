import {
  DiffDecision,
  ValidInputs,
  diffAuthorization,
  livePayloadInPlanTerms,
  planAuthorization,
} from "../../provider/core/plan";
import type { AuthorizationState, ConnectionPayload, PlannedAuthorization } from "../../provider/core/types";
import { GRANT_PLUGINS } from "../../provider/inputs";
import { awsPlanner } from "../../provider/grants/aws";
import type { PolicyStatement, TrustPolicy } from "../../provider/grants/aws/trustPolicy";
import type { AwsGrant } from "../../provider/grants/aws/types";
import type { AzureGrant } from "../../provider/grants/azure/plan";
import type { GcpGrant } from "../../provider/grants/gcp/plan";
import type { IamPolicy } from "../../provider/grants/gcp/policy";
import { parseInputs } from "../../provider/inputs";

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

/** An AWS plan as `check` returns it: the statement is always there in a plan. */
export type PlannedAws = PlannedAuthorization<AwsGrant & { statement: PolicyStatement }>;

/** What the provider plans for raw inputs; a test's inputs must be valid. */
export function plannedFor<G extends { cloud: string }>(raw: unknown): PlannedAuthorization<G> {
  const parsed = parseInputs(raw);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.failures));
  return planAuthorization(parsed.plugin, parsed.value as ValidInputs) as unknown as PlannedAuthorization<G>;
}

/** What the provider plans for raw AWS inputs. */
export function planned(raw: unknown): PlannedAws {
  return plannedFor<AwsGrant & { statement: PolicyStatement }>(raw);
}

const PLUGINS = new Map(GRANT_PLUGINS.map((p) => [p.cloud, p]));

/** The provider's diff, over every cloud this version knows. */
export function diff(
  olds: AuthorizationState<AwsGrant> | AuthorizationState,
  news: PlannedAuthorization<AwsGrant> | PlannedAuthorization,
): DiffDecision {
  return diffAuthorization(PLUGINS, olds as AuthorizationState, news as PlannedAuthorization);
}

/** A live AWS payload in the plan's terms, with the role's resolved ARN. */
export function livePayload(live: ConnectionPayload, planned: ConnectionPayload, roleArn: string): ConnectionPayload {
  return livePayloadInPlanTerms(awsPlanner, live, planned, { roleArn });
}

/** Raw inputs for a trust other than the default one, which takes no workloadIdentity. */
export function trustInputs(targetRole: string, trust: Record<string, unknown>, region = "us-east-1") {
  const { workloadIdentity: _none, ...raw } = rawInputs();
  return { ...raw, aws: { targetRole, region, trust } };
}

export const GCP_WORKLOAD_IDENTITY = "astro-celestial-galaxy-1234@astronomer-prod.iam.gserviceaccount.com";

/** Raw GCP inputs as the component sends them: a project role by default. */
export function gcpInputs(gcp: Record<string, unknown> = {}, overrides: Record<string, unknown> = {}) {
  const { aws: _aws, ...raw } = rawInputs({ workloadIdentity: GCP_WORKLOAD_IDENTITY });
  const inputs = {
    ...raw,
    connection: { ...raw.connection, connectionId: "google_cloud_data" },
    gcp: { project: "customer-data", grant: { kind: "projectRole", role: "roles/bigquery.dataViewer" }, ...gcp },
    ...overrides,
  };
  return JSON.parse(JSON.stringify(inputs)) as typeof inputs & { gcp: { grant: Record<string, unknown> } };
}

/** What the provider plans for raw GCP inputs. */
export function plannedGcp(raw: unknown): PlannedAuthorization<GcpGrant> {
  return plannedFor<GcpGrant>(raw);
}

/** Bindings someone else made, in every shape a policy may hold them (version 3, conditions, audit configs). */
export function foreignIamPolicy(): IamPolicy {
  return {
    version: 3,
    etag: "BwXforeign=",
    bindings: [
      { role: "roles/owner", members: ["user:owner@example.com"] },
      { role: "roles/bigquery.dataViewer", members: ["user:alice@example.com"] },
      {
        role: "roles/bigquery.dataViewer",
        members: ["group:analysts@example.com", "serviceAccount:etl@customer-data.iam.gserviceaccount.com"],
        condition: {
          title: "business hours",
          description: "only on weekdays",
          expression: "request.time.getDayOfWeek() < 5",
        },
      },
      { role: "roles/iam.serviceAccountTokenCreator", members: ["domain:example.com", "user:bob@example.com"] },
    ],
    auditConfigs: [{ service: "allServices", auditLogConfigs: [{ logType: "DATA_READ" }] }],
  };
}

export const AZURE_SUBSCRIPTION = "11111111-2222-3333-4444-555555555555";
export const AZURE_IDENTITY = `/subscriptions/${AZURE_SUBSCRIPTION}/resourceGroups/airflow-rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/airflow-reader`;
export const AKS_ISSUER =
  "https://westus2.oic.prod-aks.azure.com/00000000-0000-0000-0000-000000000000/11111111-0000-0000-0000-000000000000/";

/** Raw Azure inputs as the component sends them. */
export function azureInputs(azure: Record<string, unknown> = {}, overrides: Record<string, unknown> = {}) {
  const { aws: _aws, workloadIdentity: _identity, ...raw } = rawInputs();
  const inputs = {
    ...raw,
    connection: { ...raw.connection, connectionId: "azure_data" },
    azure: { identity: AZURE_IDENTITY, issuerUrl: AKS_ISSUER, namespace: "celestial-galaxy-1234", ...azure },
    ...overrides,
  };
  return JSON.parse(JSON.stringify(inputs)) as typeof inputs & { azure: Record<string, unknown> };
}

/** What the provider plans for raw Azure inputs. */
export function plannedAzure(raw: unknown): PlannedAuthorization<AzureGrant> {
  return plannedFor<AzureGrant>(raw);
}
