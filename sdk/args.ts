import type * as pulumi from "@pulumi/pulumi";
import type { z } from "zod";
import type { PolicyStatement } from "../provider/grants/aws/trustPolicy";
import type { ProgramRules } from "../provider/core/cloud";
import type { Inputs } from "../provider/core/programArgs";
import type { BUILT_IN_CLOUDS } from "../provider/grants";
import type { authorizationInputsSchema } from "../provider/inputs";

export type { Inputs } from "../provider/core/programArgs";

type ProviderInputs = z.input<typeof authorizationInputsSchema>;
type ConnectionInput = ProviderInputs["connection"];
type AirflowInput = NonNullable<ConnectionInput["airflow"]>;
type AuthInput = AirflowInput["auth"];

export type ExtraValue = string | number | boolean | null;

export type { ServiceAccountComponent } from "../provider/astro/naming";
export type {
  RoleLike,
  AwsTrust,
  DeploymentRoleTrust,
  ClusterRoleTrust,
  WebIdentityTrust,
  AwsGrantArgs,
} from "../provider/grants/aws/programArgs";
export type {
  GcpGrant,
  GcpProjectRoleGrant,
  GcpImpersonationGrant,
  GcpCustomerManagedIdentityGrant,
  GcpGrantArgs,
} from "../provider/grants/gcp/programArgs";
export type { AzureGrantArgs } from "../provider/grants/azure/programArgs";

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

/** Each built-in cloud's arguments, by its key: as its module types them. */
type ArgsByCloud = {
  [C in BuiltInCloud as ReturnType<C["outputs"]["grant"]>["cloud"]]: C["program"] extends ProgramRules<infer Args>
    ? Args
    : never;
};

/** One cloud per resource: give `aws`, `gcp` or `azure` (one key of the cloud list), and leave the others out. */
export type DeploymentAuthorizationArgs = CommonArgs &
  {
    [K in keyof ArgsByCloud]: { [P in K]: ArgsByCloud[K] } & { [P in Exclude<keyof ArgsByCloud, K>]?: undefined };
  }[keyof ArgsByCloud];

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
