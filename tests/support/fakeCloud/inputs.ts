import { z } from "zod";
import type { CloudInputs } from "../../../provider/core/types";
import type { LabGrant } from "./types";

export const labInputSchema = z
  .object({
    realm: z
      .string({ error: "must be the realm's name as a string" })
      .regex(/^[a-z][a-z0-9-]*$/, { error: "must be a realm name of lower-case letters, digits and -, such as north" }),
    /** Whom to let in; default: the Deployment's workload identity. */
    members: z.array(z.string().min(1, { error: "must be a non-empty member" })).optional(),
  })
  .strict();

export type LabInput = z.infer<typeof labInputSchema>;

/** The lab cloud's inputs: a realm and whom to let in, planned as members and a `lab` connection. */
export const labInputs: CloudInputs<LabInput, LabGrant> = {
  schema: labInputSchema,
  reservedExtraKeys: ["realm"],
  secretExtraKeys: { realm_key: "the realm's shared key" },
  refine(input, common, issue) {
    if (input?.members === undefined && common.workloadIdentity === undefined) {
      issue(["workloadIdentity"], "is required when lab.members is not given: the Deployment's identity is let in");
    }
  },
  plan(input, common) {
    const members = [...(input.members ?? [common.workloadIdentity!])].sort();
    return {
      grant: { cloud: "lab", realm: input.realm, members, live: members },
      connType: "lab",
      extra: { realm: input.realm },
    };
  },
};
