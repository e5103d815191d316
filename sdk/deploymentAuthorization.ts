import * as pulumi from "@pulumi/pulumi";
import type { ExtraValue, GrantBase, PlannedAuthorization, Resolved } from "../provider/core/types";
import { GRANT_CLOUDS, GRANT_OUTPUTS } from "../provider/grants/outputs";
import type {
  AwsGrantOutput,
  AzureGrantOutput,
  ConnectionOutput,
  DeploymentAuthorizationArgs,
  GcpGrantOutput,
  GrantOutput,
  RoleLike,
} from "./args";
import { DeploymentLookup, astroApiUrl, deploymentInput, lookupDeployment, withDeploymentFacts } from "./deployment";
import { serializedProvider } from "./providerStub";

/** The resource behind the component that does the work: the grant and the connection as one resource. */
export interface AuthorizationResource {
  readonly grant: pulumi.Output<GrantBase>;
  readonly connection: pulumi.Output<PlannedAuthorization["connection"] & { payload: unknown }>;
  readonly resolved: pulumi.Output<Resolved & { apiVersion?: "v1" | "v2"; environmentObjectId?: string }>;
}

/** The dynamic resource behind the component in a Node.js program. */
class Authorization extends pulumi.dynamic.Resource implements AuthorizationResource {
  declare readonly grant: pulumi.Output<GrantBase>;
  declare readonly connection: pulumi.Output<PlannedAuthorization["connection"] & { payload: unknown }>;
  declare readonly resolved: pulumi.Output<Resolved & { apiVersion?: "v1" | "v2"; environmentObjectId?: string }>;

  constructor(name: string, props: pulumi.Inputs, opts: pulumi.CustomResourceOptions) {
    super(
      serializedProvider(),
      name,
      { grant: undefined, connection: undefined, resolved: undefined, ...props },
      opts,
      "deploymentAuthorization",
      "Authorization",
    );
  }
}

/** The grant output of the cloud the arguments name. */
export type GrantOutputOf<Args> = Args extends { aws: object }
  ? AwsGrantOutput
  : Args extends { gcp: object }
    ? GcpGrantOutput
    : Args extends { azure: object }
      ? AzureGrantOutput
      : GrantOutput;

/**
 * Authorizes an Airflow Deployment's workload identity in one cloud (an AWS role trust statement, a
 * GCP IAM binding, or Azure federated credentials and a role assignment) and creates the Airflow connection that uses it, as one resource: created,
 * refreshed, updated and deleted together.
 */
export class DeploymentAuthorization<
  Args extends DeploymentAuthorizationArgs = DeploymentAuthorizationArgs,
> extends pulumi.ComponentResource {
  /** What was granted, in the terms of the cloud the arguments name (typed by it). */
  readonly grant: pulumi.Output<GrantOutputOf<Args>>;
  readonly connection: pulumi.Output<ConnectionOutput>;

  /** What the component read from Astro (with `deployment`; undefined without). */
  readonly deployment: pulumi.Output<DeploymentLookup | undefined>;

  constructor(name: string, given: Args, opts?: pulumi.ComponentResourceOptions) {
    super("deployment-authorization:index:DeploymentAuthorization", name, {}, opts);

    // The cloud the arguments name; the grant in state names it too, but a test's mocks may not.
    const cloud = GRANT_CLOUDS.find((c) => (given as unknown as Record<string, unknown>)[c] !== undefined);
    const facts = given.deployment ? lookupDeployment(given.deployment) : undefined;
    const args = facts ? withDeploymentFacts(given, facts) : given;
    this.deployment = facts ?? pulumi.output(undefined);

    // Secrets leave the auth object (or the Astro target) for the secret `credentials` input; the
    // rest, whatever its kind, goes to the provider's check, which names anything wrong at its path.
    const { airflow, astro: astroArgs, ...connectionArgs } = args.connection;
    const {
      token: airflowToken,
      password,
      ...auth
    } = (airflow?.auth ?? {}) as {
      token?: pulumi.Input<string>;
      password?: pulumi.Input<string>;
      kind?: string;
    };
    const { token: connectionAstroToken, ...astro } = astroArgs ?? {};
    // The Astro token serves the Environment Manager and the Deployment's own settings.
    const astroToken = connectionAstroToken ?? given.deployment?.token;
    const secrets = {
      ...(airflowToken !== undefined ? { token: airflowToken } : password !== undefined ? { password } : {}),
      ...(astroToken !== undefined ? { astroToken } : {}),
    };
    const credentials = Object.keys(secrets).length === 0 ? undefined : pulumi.secret(secrets);

    const resource = this.authorizationResource(
      name,
      {
        owner: `${pulumi.getProject()}/${pulumi.getStack()}/${name}`,
        workloadIdentity: args.workloadIdentity,
        ...(facts ? { deployment: deploymentInput(facts, given.deployment!) } : {}),
        ...cloudInputs(args),
        connection: {
          ...connectionArgs,
          ...(airflow ? { airflow: { ...airflow, auth } } : {}),
          ...(astroArgs ? { astro } : {}),
        },
        credentials,
      },
      { parent: this, additionalSecretOutputs: ["credentials"] },
    );

    // State holds the plan's words for what apply resolved (so a refresh and a diff stay quiet); the
    // outputs show the values, as the cloud's own outputs make them.
    const outputsOf = (grant: GrantBase) => {
      const named = grant.cloud ?? cloud ?? "";
      const outputs = GRANT_OUTPUTS.get(named);
      if (!outputs) throw new Error(`give one of ${GRANT_CLOUDS.join(", ")} (the cloud to grant in)`);
      return { outputs, grant: { ...grant, cloud: named } };
    };
    this.grant = pulumi.all([resource.grant, resource.resolved]).apply(([given, resolved]) => {
      const { outputs, grant } = outputsOf(given);
      return outputs.grant(grant, resolved) as unknown as GrantOutputOf<Args>;
    });
    this.connection = pulumi
      .all([resource.connection, resource.grant, resource.resolved])
      .apply(([connection, given, resolved]) => {
        const payload = connection.payload as { conn_type: string; extra: Record<string, ExtraValue> } | null;
        const { outputs, grant } = outputsOf(given);
        return {
          connectionId: connection.connectionId,
          url: connection.astro
            ? `${astroApiUrl()}/organizations/${connection.astro.organizationId}/environment-objects/${String(resolved.environmentObjectId)}`
            : `${connection.airflow?.url}/api/${resolved.apiVersion}/connections/${connection.connectionId}`,
          connType: payload?.conn_type ?? null,
          extra: payload ? outputs.connectionExtra(payload.extra, grant, resolved) : null,
        };
      });
    // The outputs are the dynamic resource's, already in state: registering them again here would
    // store a second copy for every authorization (about 850 bytes each in `stack export`).
    this.registerOutputs({});
  }

  /**
   * Registers the resource that does the work. In a Node.js program a dynamic resource (no plugin to
   * install); the provider plugin overrides it with its own resource type (see `sdk/plugin`).
   */
  protected authorizationResource(
    name: string,
    props: pulumi.Inputs,
    opts: pulumi.CustomResourceOptions,
  ): AuthorizationResource {
    return new Authorization(name, props, opts);
  }
}

/** The cloud key as given, with the component's defaults from stack config filled in. */
function cloudInputs(args: DeploymentAuthorizationArgs): Record<string, unknown> {
  const all = args as unknown as Record<string, unknown>;
  const given = Object.fromEntries(GRANT_CLOUDS.filter((c) => all[c] !== undefined).map((c) => [c, all[c]]));
  if (args.aws) {
    given.aws = {
      ...args.aws,
      targetRole: roleArnOrName(args.aws.targetRole),
      region: args.aws.region ?? new pulumi.Config("aws").get("region"),
    };
  }
  if (args.gcp && args.gcp.project === undefined && args.gcp.grant.kind === "projectRole") {
    const project = new pulumi.Config("gcp").get("project");
    if (project) given.gcp = { ...args.gcp, project };
  }
  return given;
}

function roleArnOrName(role: pulumi.Input<string> | RoleLike): pulumi.Input<string> {
  if (typeof role === "object" && role !== null && "arn" in role && !pulumi.Output.isInstance(role)) {
    return role.arn;
  }
  return role as pulumi.Input<string>;
}
