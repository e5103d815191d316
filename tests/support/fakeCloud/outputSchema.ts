import { z } from "zod";

/** The component's `grant` output for the lab cloud, each field described. */
export const labGrantOutputSchema = z
  .object({
    cloud: z.literal("lab").describe("The cloud the grant is in."),
    realm: z.string().describe("The realm's name."),
    realmId: z.string().describe("The realm's id, as apply read it."),
    members: z.array(z.string()).describe("The members this resource lets in."),
    live: z.array(z.string()).nullable().describe("Our members as last applied or read."),
  })
  .strict()
  .describe("The lab grant: this resource's members of one realm.");

export type LabGrantOutput = z.infer<typeof labGrantOutputSchema>;
