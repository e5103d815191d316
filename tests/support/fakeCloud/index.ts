import type { CloudModule } from "../../../provider/core/cloud";
import type { LabInput } from "./inputs";
import type { LabGrantOutput } from "./outputSchema";
import { LabRealms, labDriver, labEndpoints } from "./realms";
import type { LabGrant, LabResolved } from "./types";

const claimKey = (grant: LabGrant, member: string) => `lab ${grant.realm} ${member}`;

/**
 * A fourth cloud that exists only in the tests: a realm and the members let into it. It is
 * registered from here, with nothing outside this folder naming it, to show that a cloud is one
 * module object.
 */
export const labCloud: CloudModule<LabInput, LabGrant, LabResolved, LabGrantOutput, { endpoint: string }> = {
  cloud: "lab",
  planner: {
    cloud: "lab",
    replaces: (old, next) => (old.realm === next.realm ? [] : ["lab.realm"]),
    stale(old, next) {
      const members = old.members.filter((m) => !next.members.includes(m));
      return members.length > 0 ? { ...old, members } : undefined;
    },
    claims: (grant) => grant.members.map((m) => claimKey(grant, m)),
    withoutClaims(grant, kept) {
      const members = grant.members.filter((m) => !kept.has(claimKey(grant, m)));
      return members.length === 0 ? undefined : { ...grant, members };
    },
    foundGranted: () => [],
    shareClaimed: (_grant, resolved) => resolved,
    idOf: (grant) => `lab/${grant.realm}`,
    extraForApply: (extra) => extra,
    extraInPlanTerms: (_key, live) => live,
    summarize: (grant) => ({
      target: `lab realm ${grant.realm}`,
      entries: (grant.live ?? []).map((m) => `${m} may enter`),
      risks: grant.members.includes("*") ? ["* lets everyone in"] : [],
    }),
    deploymentSettings: {
      customerManagedIdentity: () => ({ ok: false, reason: "the lab cloud has no customer-managed identity" }),
      secretsBackend: () => ({ ok: false, reason: "the lab cloud has no secrets backend" }),
      reservedKwargs: [],
    },
  },
  outputs: {
    grant: (grant, resolved) => ({
      cloud: "lab",
      realm: grant.realm,
      realmId: resolved.realmId,
      members: grant.members,
      live: grant.live,
    }),
    connectionExtra: (extra, _grant, resolved) => ({ ...extra, realm_id: resolved.realmId }),
  },
  loadOutputSchema: async () => (await import("./outputSchema")).labGrantOutputSchema,
  loadInputs: async () => (await import("./inputs")).labInputs,
  program: {
    withDefaults: (args, program) => ({ ...args, realm: args.realm ?? program.config("lab", "realm") }),
    withDeploymentFacts: (args) => ({ args, needsWorkloadIdentity: args.members === undefined }),
  },
  remoteSettings: (settings, env) => ({ endpoint: settings("labEndpoint") ?? env.LAB_ENDPOINT ?? "default" }),
  async loadDriver(remote) {
    const realms = labEndpoints.get(remote.endpoint) ?? new LabRealms();
    labEndpoints.set(remote.endpoint, realms);
    return labDriver(realms);
  },
  discovery: {
    targets: [{ option: "lab-realm", value: "<name>", help: "a lab realm whose members to search" }],
    connTypes: ["lab"],
    load: async () => (await import("./discover")).labDiscoverer,
  },
};

export { LabRealms, labEndpoints } from "./realms";
export type { LabGrant, LabResolved } from "./types";
