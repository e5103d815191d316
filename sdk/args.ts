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
import type { AwsArgs } from "../provider/grants/aws/programArgs";
import type { GcpArgs } from "../provider/grants/gcp/programArgs";
import type { AzureArgs } from "../provider/grants/azure/programArgs";

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
  /**
   * How to authenticate to the Airflow API: { kind: "token" } (a bearer token, as on Astro) or { kind:
   * "password", username } (exchanged at /auth/token on Airflow 3, basic auth on Airflow 2). The token or
   * password itself is given apart, as a secret.
   */
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
  /**
   * More `extra` fields of the connection: strings, numbers, booleans or null, such as { verify: false }. The
   * fields the grant needs are set by the resource, and keys Airflow's hooks read as secrets are refused: no
   * secrets here. Default: none.
   */
  extra?: pulumi.Input<Record<string, pulumi.Input<ExtraValue>>>;
  /**
   * With `target: "airflow"` (the default): the Deployment's Airflow REST API, { url, apiVersion?, auth }.
   * With `deployment`, optional: read from the Deployment (its Airflow API URL and version, bearer token
   * auth).
   */
  airflow?: AirflowApiArgs;
  /**
   * With `target: "astro"`: the connection in Astro's Environment Manager, { organizationId, deploymentId }
   * (Deployment-scoped) or { organizationId, workspaceId, linkedDeploymentIds? } (Workspace-scoped). With
   * `deployment`, optional: read from the Deployment.
   */
  astro?: AstroConnectionArgs;
}

/** An Astro Deployment, named by id: the component reads what the grant and connection need from it. */
export interface DeploymentArgs {
  /** The Astro organization's id (20-40 lower-case letters and digits), such as clmh597sg000208lb2kjhcn8q. */
  organizationId: pulumi.Input<string>;
  /** The Astro Deployment's id (20-40 lower-case letters and digits), such as clmh597sg000208lb2kjhcn8q. */
  deploymentId: pulumi.Input<string>;
  /**
   * An Astro API token that may read the Deployment. Default: stack config
   * `deployment-authorization:astroToken` (set it with `--secret`), then `ASTRO_API_TOKEN`.
   */
  token?: pulumi.Input<string>;
  /**
   * Make the grant's identity the Deployment's own workload identity (Astro's "Customer Managed Identity"):
   * on AWS the role of a `webIdentity` trust, on GCP the service account of a `customerManagedIdentity`
   * grant. Set through UpdateDeployment, which keeps every other setting; the apply waits until the
   * Deployment shows it. On delete the identity stays in place unless `restoreOnDelete` sets back the one
   * shown before. Not on Azure (Astro's API refuses it there). true or { restoreOnDelete }. Default: the
   * Deployment's identity is left alone.
   */
  customerManagedIdentity?:
    | boolean
    | {
        /**
         * On delete, set back the identity the Deployment showed before. Default: false: the grant's identity
         * stays in place.
         */
        restoreOnDelete?: boolean;
      };
  /**
   * Set the Deployment's `AIRFLOW__SECRETS__BACKEND` and `AIRFLOW__SECRETS__BACKEND_KWARGS` to the cloud's
   * secret store, reached through this grant (AWS Secrets Manager with the connection's role and region; GCP
   * Secret Manager with the project and impersonation chain), as the guides do. Only these two variables are
   * ever written; `kwargs` adds or replaces defaults such as `connections_prefix` or `project_id`. AWS and
   * GCP. true or { backend?, kwargs? }. Default: the Deployment's variables are left alone.
   */
  secretsBackend?:
    | true
    | {
        /**
         * Airflow's secrets backend class, a dotted Python class path such as
         * airflow.providers.amazon.aws.secrets.systems_manager.SystemsManagerParameterStoreBackend. Default:
         * the cloud's secret store backend.
         */
        backend?: string;
        /**
         * Backend kwargs added to (or replacing) the defaults, such as { connections_prefix:
         * "airflow/connections" } or project_id; scalars, no secrets. Default: none.
         */
        kwargs?: Record<string, ExtraValue>;
      };
}

interface CommonArgs {
  /**
   * Read the Deployment from the Astro Platform API (`GetDeployment`) while the program runs, so the preview
   * already shows the exact grant: its workload identity, namespace and OIDC issuer fill `workloadIdentity`,
   * `namespace` and `issuerUrl` where not given, its Airflow API fills `connection.airflow` (bearer token
   * auth), and it fills `connection.astro` for `target: "astro"`. The cloud key given must match the
   * Deployment's cloud. { organizationId, deploymentId, token?, customerManagedIdentity?, secretsBackend? }.
   */
  deployment?: DeploymentArgs;
  /**
   * The Deployment's workload identity (Astro: Deployment → Details → Workload Identity): an IAM role ARN on
   * AWS, such as arn:aws:iam::123456789012:role/astro-my-namespace, a service account e-mail on GCP. Required
   * by the AWS `deploymentRole` trust and the GCP `projectRole` and `impersonation` grants; an error with the
   * other kinds and on Azure. With `deployment`, read from the Deployment.
   */
  workloadIdentity?: pulumi.Input<string>;
  /**
   * The Airflow connection the Deployment's DAGs use with the grant: its id, where it lives (`target`: the
   * Deployment's Airflow, or Astro's Environment Manager) and what else goes into it.
   */
  connection: AirflowConnectionArgs;
}

/** Each built-in cloud's arguments, by its key: as its module types them. */
type ComputedArgsByCloud = {
  [C in BuiltInCloud as ReturnType<C["outputs"]["grant"]>["cloud"]]: C["program"] extends ProgramRules<infer Args>
    ? Args
    : never;
};

/**
 * The same, as each cloud's module documents its key (a computed key carries no documentation to
 * editors); checked against the module list below, so a cloud added to the list must add its key here.
 */
type ArgsByCloud = AwsArgs & GcpArgs & AzureArgs;
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type MustHold<T extends true> = T;
type _ArgsByCloudMatchesTheModules = MustHold<Same<ArgsByCloud, ComputedArgsByCloud>>;

/** One cloud per resource: give `aws`, `gcp` or `azure` (one key of the cloud list), and leave the others out. */
export type DeploymentAuthorizationArgs = CommonArgs &
  {
    [K in keyof ArgsByCloud]: Pick<ArgsByCloud, K> & { [P in Exclude<keyof ArgsByCloud, K>]?: undefined };
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
