import * as pulumi from "@pulumi/pulumi";
import { providerModuleId, providerStub } from "./providerStub";

/** Anything with a role ARN output, such as an `aws.iam.Role` from `@pulumi/aws`. */
export interface RoleLike {
  arn: pulumi.Input<string>;
}

export type ExtraValue = string | number | boolean | null;

/** Components whose Kubernetes service accounts a web identity grant trusts (Astro naming). */
export type ServiceAccountComponent =
  | "scheduler"
  | "worker"
  | "triggerer"
  | "dag-processor"
  | "webserver"
  | "api-server"
  | "kpo";

/** Trust the Deployment's workload identity, an IAM role (Astro's default). Needs `workloadIdentity`. */
export interface DeploymentRoleTrust {
  kind: "deploymentRole";
}

/** Trust an Astro cluster's role, `AirflowS3Logs-<clusterId>`, for every Deployment on the cluster. */
export interface ClusterRoleTrust {
  kind: "clusterRole";
  /** The cluster role's ARN; or give `dataPlaneAccountId` and `clusterId`. */
  clusterRoleArn?: pulumi.Input<string>;
  dataPlaneAccountId?: pulumi.Input<string>;
  clusterId?: pulumi.Input<string>;
}

/**
 * Trust the Deployment's Kubernetes service accounts through the cluster's OIDC provider
 * (customer-managed identity on Astro; IRSA on Astronomer Software / EKS).
 */
export interface WebIdentityTrust {
  kind: "webIdentity";
  /** The cluster's OIDC issuer URL (Astro: the Deployment's `oidcIssuerUrl`). */
  issuerUrl: pulumi.Input<string>;
  /** The Deployment's namespace; may be an output of the resource that creates the Deployment. */
  namespace: pulumi.Input<string>;
  /** Default: scheduler, worker, triggerer, dag-processor, kpo. */
  serviceAccounts?: ServiceAccountComponent[];
  /** Full service account names, instead of the components' Astro names. */
  serviceAccountNames?: pulumi.Input<string>[];
  /** Trust `system:serviceaccount:<namespace>:*` instead of the exact service accounts. */
  namespaceWide?: boolean;
  /**
   * Write `role_arn` and `assume_role_method: assume_role_with_web_identity` into the connection,
   * for pods whose own web identity is another role. Default: the connection names the region only.
   */
  connectionAssumesRole?: boolean;
}

export type AwsTrust = DeploymentRoleTrust | ClusterRoleTrust | WebIdentityTrust;

export interface AwsGrantArgs {
  /**
   * The customer's IAM role the Deployment will assume: an ARN, a role name, or an `aws.iam.Role`.
   * The resource adds one trust statement to this role; it never creates or deletes the role.
   */
  targetRole: pulumi.Input<string> | RoleLike;
  /** Region written to the connection (`region_name`). Default: the stack config `aws:region`. */
  region?: pulumi.Input<string>;
  /** Whom the role trusts. Default: `{ kind: "deploymentRole" }`, the Deployment's `workloadIdentity`. */
  trust?: AwsTrust;
}

/** How to reach the Airflow REST API of the Deployment. */
export interface AirflowApiArgs {
  /**
   * Base URL of the Airflow webserver / API server, without `/api/...`:
   * on Astro `https://<org>.astronomer.run/<deployment>`, self-hosted e.g. `http://airflow:8080`.
   */
  url: pulumi.Input<string>;
  /** `v2` for Airflow 3, `v1` for Airflow 2. Default: detected from the server. */
  apiVersion?: "v1" | "v2";
  auth: AirflowTokenAuth | AirflowPasswordAuth;
}

/** A bearer token (an Astro API token, or any token the API accepts). */
export interface AirflowTokenAuth {
  kind: "token";
  /**
   * The token. Default: stack config `deployment-authorization:airflowToken` (set it with
   * `--secret`), then the environment variable `AIRFLOW_API_TOKEN`.
   */
  token?: pulumi.Input<string>;
}

/** A user and password: exchanged at `/auth/token` on Airflow 3, basic auth on Airflow 2. */
export interface AirflowPasswordAuth {
  kind: "password";
  username: pulumi.Input<string>;
  /**
   * The password. Default: stack config `deployment-authorization:airflowPassword` (set it with
   * `--secret`), then the environment variable `AIRFLOW_API_PASSWORD`.
   */
  password?: pulumi.Input<string>;
}

export interface AirflowConnectionArgs {
  /** The Airflow connection id (`^[\w.-]+$`, at most 200 characters), e.g. `aws_default`. */
  connectionId: pulumi.Input<string>;
  description?: pulumi.Input<string>;
  /** More `extra` fields; `role_arn` and `region_name` are set by the resource. No secrets here. */
  extra?: pulumi.Input<Record<string, pulumi.Input<ExtraValue>>>;
  /**
   * Take over a connection with this id that already exists (made by hand). Without it, create
   * fails rather than overwrite a connection someone else made.
   */
  adoptExisting?: boolean;
  airflow: AirflowApiArgs;
}

export interface DeploymentAuthorizationArgs {
  /**
   * The Deployment's workload identity, an IAM role ARN (Astro: Deployment → Details → Workload
   * Identity). Required for the default `deploymentRole` trust; not used by the others.
   */
  workloadIdentity?: pulumi.Input<string>;
  aws: AwsGrantArgs;
  connection: AirflowConnectionArgs;
}

/** A trust policy statement, as IAM stores it. */
export interface TrustStatement {
  Sid: string;
  Effect: string;
  Principal: { AWS?: string | string[]; Federated?: string };
  Action: string;
  Condition?: Record<string, Record<string, string | string[]>>;
}

export interface GrantOutput {
  /** The role's ARN, as AWS reports it. */
  roleArn: string;
  /**
   * The Sid of the statement that holds this grant. Grants that differ only in whom they trust
   * share a statement; each resource owns only its entries in it.
   */
  statementId: string;
  /** This resource's entries: the principal it trusts, or the service account subjects. */
  trusted: string[];
  /** This resource's share of the statement as last applied or read (null after a refresh found it removed). */
  statement: TrustStatement | null;
  /** Whether this resource created the IAM OIDC provider (web identity trust). */
  oidcProviderCreated: boolean;
}

export interface ConnectionOutput {
  connectionId: string;
  /** The connections endpoint, e.g. `http://localhost:8080/api/v2/connections/aws_default`. */
  url: string;
  connType: string | null;
  extra: Record<string, ExtraValue> | null;
}

/** The dynamic resource behind the component: the grant and the connection as one resource. */
class Authorization extends pulumi.dynamic.Resource {
  declare readonly grant: pulumi.Output<{
    role: string;
    sid: string;
    entries: string[];
    statement: TrustStatement | null;
  }>;
  declare readonly connection: pulumi.Output<{
    airflow: { url: string };
    connectionId: string;
    payload: { conn_type: string; extra: Record<string, ExtraValue> } | null;
  }>;
  declare readonly resolved: pulumi.Output<{ roleArn: string; apiVersion: "v1" | "v2"; oidcProviderCreated?: boolean }>;

  constructor(name: string, props: pulumi.Inputs, opts: pulumi.CustomResourceOptions) {
    super(
      providerStub(providerModuleId()),
      name,
      { grant: undefined, connection: undefined, resolved: undefined, ...props },
      opts,
      "deploymentAuthorization",
      "Authorization",
    );
  }
}

/**
 * Authorizes an Airflow Deployment's workload identity in AWS (a statement in an IAM role's trust
 * policy) and creates the Airflow connection that uses it, as one resource: created, refreshed,
 * updated and deleted together.
 */
export class DeploymentAuthorization extends pulumi.ComponentResource {
  readonly grant: pulumi.Output<GrantOutput>;
  readonly connection: pulumi.Output<ConnectionOutput>;

  constructor(name: string, args: DeploymentAuthorizationArgs, opts?: pulumi.ComponentResourceOptions) {
    super("deployment-authorization:index:DeploymentAuthorization", name, {}, opts);

    const auth = args.connection.airflow.auth;
    const secretValue = auth.kind === "token" ? auth.token : auth.password;
    const credentials =
      secretValue === undefined
        ? undefined
        : pulumi.secret(auth.kind === "token" ? { token: secretValue } : { password: secretValue });

    const resource = new Authorization(
      name,
      {
        owner: `${pulumi.getProject()}/${pulumi.getStack()}/${name}`,
        workloadIdentity: args.workloadIdentity,
        aws: {
          targetRole: roleArnOrName(args.aws.targetRole),
          region: args.aws.region ?? new pulumi.Config("aws").get("region"),
          trust: args.aws.trust,
        },
        connection: {
          connectionId: args.connection.connectionId,
          description: args.connection.description,
          extra: args.connection.extra,
          adoptExisting: args.connection.adoptExisting,
          airflow: {
            url: args.connection.airflow.url,
            apiVersion: args.connection.airflow.apiVersion,
            auth: auth.kind === "token" ? { kind: "token" } : { kind: "password", username: auth.username },
          },
        },
        credentials,
      },
      { parent: this, additionalSecretOutputs: ["credentials"] },
    );

    this.grant = pulumi.all([resource.grant, resource.resolved]).apply(([grant, resolved]) => ({
      roleArn: resolved.roleArn,
      statementId: grant.sid,
      trusted: grant.entries,
      statement: grant.statement,
      oidcProviderCreated: resolved.oidcProviderCreated ?? false,
    }));
    this.connection = pulumi.all([resource.connection, resource.resolved]).apply(([connection, resolved]) => ({
      connectionId: connection.connectionId,
      url: `${connection.airflow.url}/api/${resolved.apiVersion}/connections/${connection.connectionId}`,
      connType: connection.payload?.conn_type ?? null,
      extra: connection.payload?.extra ?? null,
    }));
    this.registerOutputs({ grant: this.grant, connection: this.connection });
  }
}

function roleArnOrName(role: pulumi.Input<string> | RoleLike): pulumi.Input<string> {
  if (typeof role === "object" && role !== null && "arn" in role && !pulumi.Output.isInstance(role)) {
    return role.arn;
  }
  return role as pulumi.Input<string>;
}
