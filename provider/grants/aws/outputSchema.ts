import { z } from "zod";
import type { PolicyStatement } from "./trustPolicy";

/** The component's `grant` output for AWS: its one definition (the SDK's type, and the documentation of each field). */
export const awsGrantOutputSchema = z
  .object({
    cloud: z.literal("aws").describe("The cloud the grant is in."),
    roleArn: z.string().describe("The role's ARN, as AWS reports it."),
    statementId: z
      .string()
      .describe(
        "The Sid of the statement that holds this grant (shared by grants that differ only in whom they trust).",
      ),
    trusted: z
      .array(z.string())
      .describe("This resource's entries: the principal it trusts, or the service account subjects."),
    statement: z
      .custom<PolicyStatement>((v) => typeof v === "object" && v !== null && !Array.isArray(v))
      .nullable()
      .describe(
        "This resource's share of the statement as last applied or read, as IAM stores it (null after a refresh found it removed).",
      ),
    oidcProviderCreated: z
      .boolean()
      .describe("Whether this resource created the IAM OIDC provider (web identity trust)."),
  })
  .strict()
  .describe("The AWS grant: this resource's share of one statement in the role's trust policy.");

export type AwsGrantOutput = z.infer<typeof awsGrantOutputSchema>;
