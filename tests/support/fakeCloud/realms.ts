import { TargetMissingError } from "../../../provider/core/errors";
import type { GrantDriver } from "../../../provider/core/types";
import type { LabGrant, LabResolved } from "./types";

/**
 * The lab cloud's remote, in memory: realms, each with an id and the members allowed in. Members
 * someone else added are kept through every operation, as a real cloud's foreign grants are.
 */
export class LabRealms {
  readonly realms = new Map<string, { id: string; members: Set<string> }>();
  writes = 0;

  addRealm(name: string, members: string[] = []): void {
    this.realms.set(name, { id: `realm-${this.realms.size + 1}`, members: new Set(members) });
  }

  members(name: string): string[] {
    return [...(this.realms.get(name)?.members ?? [])].sort();
  }

  realm(name: string) {
    const realm = this.realms.get(name);
    if (!realm) throw new TargetMissingError(`lab realm ${name} does not exist`);
    return realm;
  }
}

/** Every lab "endpoint" a process talks to, by name: what the remote settings select. */
export const labEndpoints = new Map<string, LabRealms>();

/** The lifecycle's view of one lab endpoint: read, ensure and remove this resource's members. */
export function labDriver(realms: LabRealms): GrantDriver<LabGrant, LabResolved> {
  return {
    async read(grant, resolved) {
      const realm = realms.realm(grant.realm);
      const live = grant.members.filter((m) => realm.members.has(m));
      return { grant: { ...grant, live: live.length > 0 ? live : null }, resolved: { ...resolved, realmId: realm.id } };
    },
    async ensure(grant, _previous, progress) {
      const realm = realms.realm(grant.realm);
      progress?.factsKnown({ realmId: realm.id });
      const missing = grant.members.filter((m) => !realm.members.has(m));
      for (const member of missing) realm.members.add(member);
      if (missing.length > 0) realms.writes++;
      return { changed: missing.length > 0, resolved: { realmId: realm.id } };
    },
    async remove(grant) {
      const realm = realms.realm(grant.realm);
      const present = grant.members.filter((m) => realm.members.has(m));
      for (const member of present) realm.members.delete(member);
      if (present.length > 0) realms.writes++;
      return { removed: present.length > 0 };
    },
  };
}
