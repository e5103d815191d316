import type * as pulumi from "@pulumi/pulumi";
import type { z } from "zod";
import type { AwsInput } from "../provider/grants/aws/schema";
import type { PolicyStatement } from "../provider/grants/aws/trustPolicy";
import type { AzureInput } from "../provider/grants/azure/schema";
import type { GcpInput } from "../provider/grants/gcp/schema";
import type { BUILT_IN_CLOUDS } from "../provider/grants";
import type { authorizationInputsSchema } from "../provider/inputs";

/**
 * The component's argument types, derived from the provider's one input schema (the SDK keeps no
 * second copy): every value may be a Pulumi Input, except the `kind` that selects a variant, which
 * the program states outright.
 */
export type Inputs<T> = [T] extends [string | number | boolean | null | undefined] ? pulumi.Input<T> : InputsOf<T>;

/** Objects and arrays, distributed over a union's variants (one per `kind`). */
type InputsOf<T> =
  T extends ReadonlyArray<infer U>
    ? pulumi.Input<Array<Inputs<U>>>
    : T extends object
      ? { [K in keyof T]: K extends "kind" ? T[K] : Inputs<T[K]> }
      : T;

/**
 * With `deployment`, the component reads these from Astro: they may be left out (when neither is
 * given, `check` names the missing field).
 */
type FromDeployment = "issuerUrl" | "namespace";
type Loose<T> = T extends object ? Omit<T, FromDeployment> & Partial<Pick<T, Extract<keyof T, FromDeployment>>> : T;

type ProviderInputs = z.input<typeof authorizationInputsSchema>;
type ConnectionInput = ProviderInputs["connection"];
type AirflowInput = NonNullable<ConnectionInput["airflow"]>;
type AuthInput = AirflowInput["auth"];

export type ExtraValue = string | number | boolean | null;

/** Anything with a role ARN output, such as an `aws.iam.Role` from `@pulumi/aws`. */
export interface RoleLike {
  arn: pulumi.Input<string>;
}

export type AwsTrust = Loose<Inputs<NonNullable<AwsInput["trust"]>>>;
/** Trust the Deployment's workload identity, an IAM role (Astro's default). Needs `workloadIdentity`. */
export type DeploymentRoleTrust = Extract<AwsTrust, { kind: "deploymentRole" }>;
/** Trust an Astro cluster's role, `AirflowS3Logs-<clusterId>`, for every Deployment on the cluster. */
export type ClusterRoleTrust = Extract<AwsTrust, { kind: "clusterRole" }>;
/** Trust the Deployment's Kubernetes service accounts through the cluster's OIDC provider (IRSA). */
export type WebIdentityTrust = Extract<AwsTrust, { kind: "webIdentity" }>;
export type { ServiceAccountComponent } from "../provider/astro/naming";

export interface AwsGrantArgs extends Inputs<Omit<AwsInput, "targetRole" | "region" | "trust">> {
  /** Whom the role trusts. Default: the Deployment's workload identity (`deploymentRole`). */
  trust?: AwsTrust;
  /**
   * The customer's IAM role the Deployment will assume: an ARN, a role name, or an `aws.iam.Role`.
   * The resource adds one trust statement to this role; it never creates or deletes the role.
   */
  targetRole: pulumi.Input<string> | RoleLike;
  /** Region written to the connection (`region_name`). Default: the stack config `aws:region`. */
  region?: pulumi.Input<string>;
}

export type GcpGrant = Loose<Inputs<GcpInput["grant"]>>;
/** The Deployment's workload identity gets `role` on `gcp.project`. Needs `workloadIdentity`. */
export type GcpProjectRoleGrant = Extract<GcpGrant, { kind: "projectRole" }>;
/** The Deployment's workload identity may impersonate `serviceAccount`. Needs `workloadIdentity`. */
export type GcpImpersonationGrant = Extract<GcpGrant, { kind: "impersonation" }>;
/** The Deployment's Kubernetes service accounts may act as `serviceAccount` (Workload Identity User). */
export type GcpCustomerManagedIdentityGrant = Extract<GcpGrant, { kind: "customerManagedIdentity" }>;

export interface GcpGrantArgs extends Inputs<Omit<GcpInput, "project" | "grant">> {
  grant: GcpGrant;
  /**
   * The customer's project: where a project role is granted, and the connection's `project`.
   * Default: for `projectRole`, the stack config `gcp:project`; for the service account kinds, the
   * service account's project (from `name@<project>.iam.gserviceaccount.com`).
   */
  project?: pulumi.Input<string>;
}

/**
 * Federated identity credentials for the Deployment's Kubernetes service accounts on a user-assigned
 * managed identity, and optionally the identity's role assignment on a scope.
 */
export type AzureGrantArgs = Loose<Inputs<AzureInput>>;

/** A bearer token (an Astro API token, or any token the API accepts). */
export type AirflowTokenAuth = Inputs<Extract<AuthInput, { kind: "token" }>> & {
  /**
   * The token. Default: stack config `deployment-authorization:airflowToken` (set it with
   * `--secret`), then the environment variable `AIRFLOW_API_TOKEN`.
   */
  token?: pulumi.Input<string>;
};

/** A user and password: exchanged at `/auth/token` on Airflow 3, basic auth on Airflow 2. */
export type AirflowPasswordAuth = Inputs<Extract<AuthInput, { kind: "password" }>> & {
  /**
   * The password. Default: stack config `deployment-authorization:airflowPassword` (set it with
   * `--secret`), then the environment variable `AIRFLOW_API_PASSWORD`.
   */
  password?: pulumi.Input<string>;
};

/** How to reach the Airflow REST API of the Deployment. */
export interface AirflowApiArgs extends Inputs<Omit<AirflowInput, "auth">> {
  auth: AirflowTokenAuth | AirflowPasswordAuth;
}

/** A connection in Astro's Environment Manager, scoped to a Deployment or to a Workspace. */
export interface AstroConnectionArgs extends Partial<Inputs<NonNullable<ConnectionInput["astro"]>>> {
  /**
   * An Astro API token. Default: stack config `deployment-authorization:astroToken` (set it with
   * `--secret`), then the environment variable `ASTRO_API_TOKEN`.
   */
  token?: pulumi.Input<string>;
}

export interface AirflowConnectionArgs extends Inputs<Omit<ConnectionInput, "airflow" | "astro" | "extra">> {
  /** With `deployment`, optional: read from the Deployment (its Airflow API URL and version). */
  /** More `extra` fields; the fields the grant needs are set by the resource. No secrets here. */
  extra?: pulumi.Input<Record<string, pulumi.Input<ExtraValue>>>;
  /** With `target: "airflow"` (the default): the Deployment's Airflow REST API. */
  airflow?: AirflowApiArgs;
  /** With `target: "astro"`: Astro's Environment Manager. */
  astro?: AstroConnectionArgs;
}

/** An Astro Deployment, named by id: the component reads what the grant and connection need from it. */
export interface DeploymentArgs {
  organizationId: pulumi.Input<string>;
  deploymentId: pulumi.Input<string>;
  /**
   * An Astro API token that may read the Deployment. Default: stack config
   * `deployment-authorization:astroToken` (set it with `--secret`), then `ASTRO_API_TOKEN`.
   */
  token?: pulumi.Input<string>;
  /**
   * Make the grant's identity the Deployment's own workload identity (Astro's "Customer Managed
   * Identity"): on AWS the role of a `webIdentity` trust, on GCP the service account of a
   * `customerManagedIdentity` grant. Set through UpdateDeployment, which keeps every other setting;
   * the apply waits until the Deployment shows it. On delete the identity stays in place unless
   * `restoreOnDelete` sets back the one shown before. Not on Azure (Astro's API refuses it there).
   */
  customerManagedIdentity?: boolean | { restoreOnDelete?: boolean };
  /**
   * Set the Deployment's `AIRFLOW__SECRETS__BACKEND` and `AIRFLOW__SECRETS__BACKEND_KWARGS` to the
   * cloud's secret store, reached through this grant (AWS Secrets Manager with the connection's role
   * and region; GCP Secret Manager with the project and impersonation chain), as the guides do.
   * Only these two variables are ever written; `kwargs` adds or replaces defaults such as
   * `connections_prefix` or `project_id`. AWS and GCP.
   */
  secretsBackend?: true | { backend?: string; kwargs?: Record<string, ExtraValue> };
}

interface CommonArgs {
  /**
   * Read the Deployment from the Astro Platform API (`GetDeployment`) while the program runs, so the
   * preview already shows the exact grant: its workload identity, namespace and OIDC issuer fill
   * `workloadIdentity`, `namespace` and `issuerUrl` where not given, its Airflow API fills
   * `connection.airflow` (bearer token auth), and it fills `connection.astro` for `target: "astro"`.
   * The cloud key given must match the Deployment's cloud.
   */
  deployment?: DeploymentArgs;
  /**
   * The Deployment's workload identity (Astro: Deployment → Details → Workload Identity): an IAM
   * role ARN on AWS, a service account e-mail on GCP. Required by the grants that trust it.
   */
  workloadIdentity?: pulumi.Input<string>;
  connection: AirflowConnectionArgs;
}

/** One cloud per resource: give `aws`, `gcp` or `azure`. */
export type DeploymentAuthorizationArgs = CommonArgs &
  (
    | { aws: AwsGrantArgs; gcp?: undefined; azure?: undefined }
    | { gcp: GcpGrantArgs; aws?: undefined; azure?: undefined }
    | { azure: AzureGrantArgs; aws?: undefined; gcp?: undefined }
  );

/** A trust policy statement, as IAM stores it. */
export type TrustStatement = PolicyStatement;

type BuiltInCloud = (typeof BUILT_IN_CLOUDS)[number];

/** The component's `grant` output, by cloud: each is defined (and documented) by its cloud module. */
export type GrantOutput = ReturnType<BuiltInCloud["outputs"]["grant"]>;
export type { AwsGrantOutput } from "../provider/grants/aws";
export type { GcpGrantOutput } from "../provider/grants/gcp";
export type { AzureGrantOutput } from "../provider/grants/azure";

/** The grant output of the cloud the arguments name (any cloud's when they could name several). */
export type GrantOutputOf<Args> = Args extends unknown
  ? [CloudNamedBy<Args>] extends [never]
    ? GrantOutput
    : Extract<GrantOutput, { cloud: CloudNamedBy<Args> }>
  : never;

/** The cloud keys whose arguments are given (not left out or undefined). */
type CloudNamedBy<Args> = {
  [K in Extract<keyof Args, GrantOutput["cloud"]>]-?: Args[K] extends object ? K : never;
}[Extract<keyof Args, GrantOutput["cloud"]>];

/** What the component read from Astro (with `deployment`). */
export type { DeploymentFacts } from "../provider/astro/api";
export type { DeploymentLookup } from "./deployment";

export interface ConnectionOutput {
  connectionId: string;
  /**
   * Where it lives: the Airflow connections endpoint (`http://localhost:8080/api/v2/connections/aws_default`),
   * or the environment object in the Astro Platform API.
   */
  url: string;
  connType: string | null;
  /**
   * The connection's `extra` as written: what apply resolved (a role's ARN, an identity's client id and
   * tenant) where the plan says `(… resolved at apply)`; a value a refresh found edited by hand, as found.
   */
  extra: Record<string, ExtraValue> | null;
}
