import { z } from "zod";

/** The component's `grant` output for Azure: its one definition (the SDK's type, and the documentation of each field). */
export const azureGrantOutputSchema = z
  .object({
    cloud: z.literal("azure").describe("The cloud the grant is in."),
    identity: z.string().describe("The managed identity's resource id."),
    clientId: z.string().describe("The managed identity's client id."),
    principalId: z.string().describe("The managed identity's principal (object) id."),
    tenantId: z.string().describe("The tenant the managed identity is in."),
    credentials: z
      .array(
        z
          .object({
            name: z.string().describe("The federated credential's name."),
            issuer: z.string().describe("The Deployment's cluster OIDC issuer."),
            subject: z
              .string()
              .describe("The Kubernetes service account it admits (`system:serviceaccount:<ns>:<name>`)."),
            audiences: z.array(z.string()).describe("The token audiences it accepts."),
          })
          .strict(),
      )
      .describe("Our credentials as last applied or read (one missing after a refresh: deleted by hand)."),
    roleAssignment: z
      .object({
        name: z.string().describe("The assignment's name (a GUID derived from scope, identity and role)."),
        scope: z.string().describe("The scope it is on."),
        role: z.string().describe("The role as given: a built-in role's name or a role definition id."),
        principal: z.string().describe("The identity's principal id."),
        roleDefinitionId: z.string().nullable().describe("The role definition's id, as apply resolved it."),
      })
      .strict()
      .nullable()
      .describe("The assignment (null when none was asked for, or a refresh found it deleted)."),
    preExistingAssignment: z
      .string()
      .nullable()
      .describe(
        "An equal assignment someone made under another name: this resource relies on it and never deletes it.",
      ),
    adoptedCredentials: z
      .array(z.string())
      .describe("Credentials made by hand that this resource took over (`adoptExistingCredentials`)."),
  })
  .strict()
  .describe("The Azure grant: this resource's federated credentials and the identity's role assignment.");

export type AzureGrantOutput = z.infer<typeof azureGrantOutputSchema>;
