import * as pulumi from "@pulumi/pulumi";
import type { DeploymentAuthorizationArgs } from "../args";
import { type AuthorizationResource, DeploymentAuthorization } from "../deploymentAuthorization";
import { AUTHORIZATION_TYPE } from "./resource";

/** The component's type token, the same as the Node.js component's. */
export const COMPONENT_TYPE = "deployment-authorization:index:DeploymentAuthorization";

/** The work as the plugin's own resource type, which the engine serves from this same plugin. */
class ServedAuthorization extends pulumi.CustomResource implements AuthorizationResource {
  declare readonly grant: AuthorizationResource["grant"];
  declare readonly connection: AuthorizationResource["connection"];
  declare readonly resolved: AuthorizationResource["resolved"];

  constructor(name: string, props: pulumi.Inputs, opts: pulumi.CustomResourceOptions) {
    super(AUTHORIZATION_TYPE, name, { grant: undefined, connection: undefined, resolved: undefined, ...props }, opts);
  }
}

/**
 * The Node.js component, constructed for a program in another language: everything is the same but
 * its child, which a program without node_modules could not run as a dynamic resource.
 */
export class ServedDeploymentAuthorization extends DeploymentAuthorization {
  protected override authorizationResource(
    name: string,
    props: pulumi.Inputs,
    opts: pulumi.CustomResourceOptions,
  ): AuthorizationResource {
    return new ServedAuthorization(name, props, opts);
  }
}

/** `construct` for the component: its outputs are the state the program sees. */
export async function constructComponent(
  name: string,
  type: string,
  inputs: pulumi.Inputs,
  options: pulumi.ComponentResourceOptions,
): Promise<pulumi.provider.ConstructResult> {
  if (type !== COMPONENT_TYPE) throw new Error(`unknown resource type ${type}`);
  const component = new ServedDeploymentAuthorization(name, inputs as unknown as DeploymentAuthorizationArgs, options);
  return {
    urn: component.urn,
    state: { grant: component.grant, connection: component.connection, deployment: component.deployment },
  };
}
