import type { CloudDiscoverer } from "../../../provider/core/discovery";
import { connectionFor, connectionIdFrom, resourceName } from "../../../provider/core/discovery";
import { labEndpoints } from "./realms";

/** A realm as read: its name and every member let in. */
export interface LiveRealm {
  realm: string;
  members: string[];
}

/** Discovery in the lab cloud: members let into the realms given by hand, matched to the Deployments' identities. */
export const labDiscoverer: CloudDiscoverer<{ endpoint: string }, LiveRealm> = {
  async read(targets, remote) {
    const realms = labEndpoints.get(remote.endpoint);
    return (targets["lab-realm"] ?? []).map((realm) => ({ realm, members: realms?.members(realm) ?? [] }));
  },
  match(live, deployments, pool, _options, out) {
    const where = `lab realm ${live.realm}`;
    for (const d of deployments) {
      if (!d.identity || !live.members.includes(d.identity)) continue;
      const found = connectionFor(
        pool,
        d,
        (c) => c.conn_type === "lab" && c.extra.realm === live.realm,
        connectionIdFrom("lab", live.realm),
        ["realm"],
        `realm ${live.realm}`,
      );
      out.authorizations.push({
        name: resourceName(d.name, live.realm),
        deployment: d,
        cloud: "lab",
        grant: { realm: live.realm },
        workloadIdentity: d.identity,
        connection: found.connection,
        notes: [`lets ${d.identity} into ${where}`, ...found.notes],
      });
    }
    for (const member of live.members.filter((m) => !deployments.some((d) => d.identity === m))) {
      out.unmatched.push({ where, what: `${member} is no Deployment given` });
    }
  },
};
