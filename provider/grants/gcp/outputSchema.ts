import { z } from "zod";

/** The component's `grant` output for GCP: its one definition (the SDK's type, and the documentation of each field). */
export const gcpGrantOutputSchema = z
  .object({
    cloud: z.literal("gcp").describe("The cloud the grant is in."),
    mode: z
      .enum(["projectRole", "impersonation", "customerManagedIdentity"])
      .describe("The kind of grant (`gcp.grant.kind`)."),
    resource: z.string().describe("`projects/<id>` or `projects/-/serviceAccounts/<email>`: the IAM policy it is in."),
    role: z.string().describe("The role the binding grants."),
    members: z.array(z.string()).describe("The members this resource grants."),
    binding: z
      .object({
        role: z.string().describe("The binding's role."),
        members: z.array(z.string()).describe("Our members in it."),
      })
      .nullable()
      .describe("Our members as last applied or read (null after a refresh found none)."),
    preExistingMembers: z
      .array(z.string())
      .describe("Members that were in the binding before this resource: left in place when it goes."),
  })
  .strict()
  .describe("The GCP grant: this resource's members in one role's unconditional binding.");

export type GcpGrantOutput = z.infer<typeof gcpGrantOutputSchema>;
