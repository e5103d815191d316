import { createHash, randomBytes } from "node:crypto";

/**
 * Who relies on a shared grant entry. Two resources may hold the same entry: a trust statement's
 * principal, a binding's member, a federated credential (two stacks that authorize one Deployment;
 * a resource and its own replacement). The clouds keep no owner beside the entry, but every
 * resource has one object of its own in the Deployment's Airflow: its connection. So each
 * connection's description ends in a claim: the instance that wrote it (made anew by every create)
 * and a short digest of each grant entry it relies on. Before a delete or an update takes entries
 * away, it reads the claims of the other connections in the same place (after its own connection
 * is gone, so of two deletes at once the later one sees neither) and keeps every entry another
 * instance claims. A delete leaves its connection alone when the connection holds another
 * instance's claim: a newer instance of the same resource made it (see `AuthorizationLifecycle`).
 */

/** `[DeploymentAuthorization instance=<12 hex> grants=<8 hex>,…]`, alone on the description's last line. */
const CLAIM = /(?:^|\n)\[DeploymentAuthorization instance=([0-9a-f]{12}) grants=((?:[0-9a-f]{8})(?:,[0-9a-f]{8})*)?\]$/;

export interface Claim {
  instance: string;
  /** Digests of the grant entries this instance relies on (`claimDigest`). */
  grants: string[];
}

/** A new instance id: every create makes one, so a replacement never shares its predecessor's. */
export function newInstance(): string {
  return randomBytes(6).toString("hex");
}

/**
 * The owner under which a ledger keeps a handover: the unit with this digest was kept by its owner,
 * when that owner went, only for the resources that claim it in the ledger, and is theirs to remove
 * from then on, even those that found it granted already.
 */
export function handoverOwner(digest: string): string {
  return `handover-${digest}`;
}

/** Marks a found digest in a ledger record: not a hex digit, so no digest starts with it. */
const FOUND_MARK = "x";

/**
 * An instance's record in a ledger: the digests of the units it owns and shares across places, then
 * those of the units it found granted already, each marked `x`, a letter no digest holds (it relies on those, it does not own
 * them: their owner hands them over when it goes).
 */
export function ledgerRecord(owned: readonly string[], found: readonly string[]): string[] {
  return [
    ...new Set([
      ...owned.filter((digest) => !found.includes(digest)),
      ...found.map((digest) => `${FOUND_MARK}${digest}`),
    ]),
  ];
}

/** What a ledger's records say, for `self`: the digests other instances own, those they found, and the handovers. */
export function readLedger(
  records: ReadonlyMap<string, readonly string[]>,
  self: string | undefined,
): { owned: Set<string>; found: Set<string>; handovers: Set<string> } {
  const owned = new Set<string>();
  const found = new Set<string>();
  const handovers = new Set<string>();
  for (const [owner, digests] of records) {
    if (owner.startsWith("handover-")) handovers.add(owner.slice("handover-".length));
    else if (owner !== self)
      for (const digest of digests) {
        if (digest.startsWith(FOUND_MARK)) found.add(digest.slice(FOUND_MARK.length));
        else owned.add(digest);
      }
  }
  return { owned, found, handovers };
}

/** The digest of one grant entry's key (a planner's `claims`): 32 bits, so a claim stays short. */
export function claimDigest(key: string): string {
  return createHash("sha256").update(key).digest("hex").slice(0, 8);
}

export function claimLine(claim: Claim): string {
  return `[DeploymentAuthorization instance=${claim.instance} grants=${[...new Set(claim.grants)].sort().join(",")}]`;
}

/** The description as written: the user's (or the default) text, then the claim on its own line. */
export function withClaim(description: string | null, claim: Claim): string {
  const line = claimLine(claim);
  return description ? `${description}\n${line}` : line;
}

/** The claim a description ends in, if any. */
export function claimOf(description: string | null | undefined): Claim | undefined {
  const match = description ? CLAIM.exec(description) : null;
  if (!match) return undefined;
  return { instance: match[1]!, grants: match[2] ? match[2].split(",") : [] };
}

/**
 * The description without its claim, in the plan's terms: the claim is this package's bookkeeping,
 * not drift. A description that was only a claim reads as the plan's empty one.
 */
export function withoutClaim(description: string | null, planned: string | null): string | null {
  if (!description) return description;
  const match = CLAIM.exec(description);
  if (!match) return description;
  const text = description.slice(0, match.index);
  return text === "" ? (planned === "" ? "" : null) : text;
}

/** Digests claimed by instances other than `self`, from the descriptions of the connections at one place. */
export function claimedByOthers(descriptions: ReadonlyArray<string | null>, self: string | undefined): Set<string> {
  const claimed = new Set<string>();
  for (const description of descriptions) {
    const claim = claimOf(description);
    if (!claim || claim.instance === self) continue;
    for (const digest of claim.grants) claimed.add(digest);
  }
  return claimed;
}

/**
 * Listings that are fresh for whoever asks: a caller gets a listing that started after it asked.
 * Callers that ask while one is in flight share the next one, started when that returns, so a
 * destroy of many resources at one place makes a few listings, not one each.
 */
export class FreshListings<T> {
  private readonly places = new Map<string, { inFlight?: Promise<unknown>; next?: Promise<T> }>();

  get(place: string, list: () => Promise<T>): Promise<T> {
    let state = this.places.get(place);
    if (!state) this.places.set(place, (state = {}));
    if (state.next) return state.next;
    const current = state;
    const next = Promise.resolve(current.inFlight?.catch(() => undefined)).then(() => {
      current.next = undefined;
      const listing = list();
      current.inFlight = listing;
      void listing
        .catch(() => undefined)
        .finally(() => {
          if (current.inFlight === listing) current.inFlight = undefined;
          if (!current.inFlight && !current.next) this.places.delete(place);
        });
      return listing;
    });
    current.next = next;
    return next;
  }
}
