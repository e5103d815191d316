/** The lab grant as planned (and as state holds it): this resource's members of one realm. */
export interface LabGrant {
  cloud: "lab";
  realm: string;
  members: string[];
  /** Our members as last applied or read (null after a refresh found none). */
  live: string[] | null;
}

/** What apply learned: the realm's id. */
export interface LabResolved {
  [key: string]: unknown;
  realmId: string;
}
