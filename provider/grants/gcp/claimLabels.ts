import { AuthorizationError } from "../../core/errors";

/**
 * Claims kept as a project's labels, pure: one owner's claim is `deployment-authorization-<owner>`
 * = its digests joined by `_`, in as many labels as it takes (`…-<owner>-2`, `-3`, …), since a
 * label value holds at most 63 characters (6 digests, each marked `x` or not). Google's rules for labels: keys of 1-63
 * lower-case letters, digits, `_` and `-`, starting with a letter; values of 0-63 of the same;
 * at most 64 labels per resource.
 */

export type Labels = Record<string, string>;

export const CLAIM_LABEL_PREFIX = "deployment-authorization-";
/** Google's limit of labels on one resource. */
export const LABEL_LIMIT = 64;
const VALUE_LENGTH = 63;
/** A digest, or one marked `x` (a unit its owner found granted already and does not own). */
const DIGEST = /^x?[0-9a-f]{8}$/;
/** An instance (12 hex digits) or a handover (`handover-<8 hex digits>`). */
const OWNER = "[0-9a-f]{12}|handover-[0-9a-f]{8}";
const CLAIM_KEY = new RegExp(`^${CLAIM_LABEL_PREFIX}(${OWNER})(?:-([2-9]|[1-9][0-9]+))?$`);
const DIGESTS_PER_LABEL = Math.floor((VALUE_LENGTH + 1) / 10);

function checkOwner(owner: string): void {
  if (!new RegExp(`^(?:${OWNER})$`).test(owner)) {
    throw new AuthorizationError(
      "INVALID_INPUT",
      `"${owner}" cannot own a claim kept as a label: an owner is 12 hex digits (an instance) or handover-<8 hex digits>`,
    );
  }
}

/** The labels that hold this owner's claim, in order. */
export function claimLabels(owner: string, digests: readonly string[]): Labels {
  checkOwner(owner);
  const bad = digests.find((d) => !DIGEST.test(d));
  if (bad !== undefined) {
    throw new AuthorizationError("INVALID_INPUT", `"${bad}" is not a claim digest (8 hex digits, marked f or not)`);
  }
  const unique = [...new Set(digests)];
  const labels: Labels = { [`${CLAIM_LABEL_PREFIX}${owner}`]: "" };
  for (let part = 0; part * DIGESTS_PER_LABEL < unique.length; part++) {
    const key = `${CLAIM_LABEL_PREFIX}${owner}${part === 0 ? "" : `-${part + 1}`}`;
    labels[key] = unique.slice(part * DIGESTS_PER_LABEL, (part + 1) * DIGESTS_PER_LABEL).join("_");
  }
  return labels;
}

function ownerKeys(labels: Labels, owner: string): string[] {
  return Object.keys(labels).filter((key) => CLAIM_KEY.exec(key)?.[1] === owner);
}

/** The labels with this owner's claim in place of any earlier one; every other label as it was. */
export function withClaim(labels: Labels, owner: string, digests: readonly string[]): Labels {
  return { ...withoutClaim(labels, owner), ...claimLabels(owner, digests) };
}

/** The labels less this owner's claim (all its parts); every other label as it was. */
export function withoutClaim(labels: Labels, owner: string): Labels {
  checkOwner(owner);
  const drop = new Set(ownerKeys(labels, owner));
  return Object.fromEntries(Object.entries(labels).filter(([key]) => !drop.has(key)));
}

/** Whether the labels hold exactly this claim of the owner, in no more parts than it needs. */
export function holdsClaim(labels: Labels, owner: string, digests: readonly string[]): boolean {
  const wanted = claimLabels(owner, digests);
  const keys = ownerKeys(labels, owner);
  return keys.length === Object.keys(wanted).length && keys.every((key) => labels[key] === wanted[key]);
}

/** Whether the labels hold any part of the owner's claim. */
export function holdsAnyClaim(labels: Labels, owner: string): boolean {
  return ownerKeys(labels, owner).length > 0;
}

/** Every claim in the labels, by owner, its parts joined in order; other labels are not read. */
export function claimsIn(labels: Labels): Map<string, string[]> {
  const parts = new Map<string, Array<[number, string]>>();
  for (const [key, value] of Object.entries(labels)) {
    const match = CLAIM_KEY.exec(key);
    if (!match) continue;
    const owner = match[1]!;
    parts.set(owner, [...(parts.get(owner) ?? []), [match[2] ? Number(match[2]) : 1, value]]);
  }
  const claims = new Map<string, string[]>();
  for (const [owner, found] of parts) {
    const digests = found
      .sort(([a], [b]) => a - b)
      .flatMap(([, value]) => value.split("_"))
      .filter((d) => DIGEST.test(d));
    claims.set(owner, digests);
  }
  return claims;
}
