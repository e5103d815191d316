import * as pulumi from "@pulumi/pulumi";
import type { ProgramContext } from "../provider/core/cloud";
import type { ExtraValue, GrantBase, PlannedAuthorization, Resolved } from "../provider/core/types";
import { cloudModules } from "../provider/grants";
import type { ConnectionOutput, DeploymentAuthorizationArgs, GrantOutputOf } from "./args";
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

export type { GrantOutputOf } from "./args";

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
    const clouds = cloudModules();
    const cloud = clouds.find((c) => (given as unknown as Record<string, unknown>)[c.cloud] !== undefined)?.cloud;
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
      const outputs = clouds.find((c) => c.cloud === named)?.outputs;
      if (!outputs) throw new Error(`give one of ${clouds.map((c) => c.cloud).join(", ")} (the cloud to grant in)`);
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

/** What a cloud's rules may ask of the engine. */
const PROGRAM: ProgramContext = {
  config: (namespace, key) => new pulumi.Config(namespace).get(key),
  isOutput: (value) => pulumi.Output.isInstance(value),
};

/** The cloud key as given, with the cloud's defaults (from stack config) filled in. */
function cloudInputs(args: DeploymentAuthorizationArgs): Record<string, unknown> {
  const all = args as unknown as Record<string, unknown>;
  return Object.fromEntries(
    cloudModules()
      .filter((c) => all[c.cloud] !== undefined)
      .map((c) => {
        const given = all[c.cloud] as Record<string, unknown>;
        return [c.cloud, given ? c.program.withDefaults(given, PROGRAM) : given];
      }),
  );
}
