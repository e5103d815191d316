/** Google Cloud names, as the schema checks them and the planner and driver read them (no zod here). */

/**
 * Project ids ("Creating and managing projects"): 6-30 lower-case letters, digits and hyphens,
 * starting with a letter and not ending in a hyphen. Older projects may carry a domain prefix
 * (`example.com:my-project`).
 */
const PROJECT = "[a-z][a-z0-9-]{4,28}[a-z0-9]";
const DOMAIN = "[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+";
export const PROJECT_ID = new RegExp(`^(?:${DOMAIN}:)?${PROJECT}$`);

/**
 * Service account e-mails. A user-managed account is `<account id>@<project>.iam.gserviceaccount.com`,
 * and every account in an `….iam.gserviceaccount.com` domain (service agents included) has an account
 * id of 6-30 lower-case letters, digits and hyphens, starting with a letter and not ending in a hyphen
 * (IAM "Create service accounts"). Other Google-managed accounts (`<number>-compute@developer…`,
 * `<project>@appspot…`, `<number>@cloudservices…`) keep the looser e-mail shape.
 */
const IAM_DOMAIN_ACCOUNT = new RegExp(`^${PROJECT}@(?:[a-z0-9-]+\\.)+iam\\.gserviceaccount\\.com$`);
const GOOGLE_MANAGED_ACCOUNT = /^[a-z0-9][a-z0-9._-]{0,62}@(?:[a-z0-9-]+\.)+gserviceaccount\.com$/;
export function isServiceAccountEmail(email: string): boolean {
  if (/\.iam\.gserviceaccount\.com$/.test(email)) return IAM_DOMAIN_ACCOUNT.test(email);
  return GOOGLE_MANAGED_ACCOUNT.test(email);
}

/** A user-managed service account names its project: `name@<project>.iam.gserviceaccount.com`. */
export const USER_MANAGED_SERVICE_ACCOUNT =
  /^[a-z][a-z0-9-]{4,28}[a-z0-9]@([a-z][a-z0-9-]{4,28}[a-z0-9])\.iam\.gserviceaccount\.com$/;

/**
 * Roles: a predefined `roles/<name>`, or a custom role of a project or an organization, whose id is
 * at most 64 letters, digits, underscores and periods (IAM "Create and manage custom roles").
 */
export const ROLE_NAME = new RegExp(
  `^(?:roles\\/[A-Za-z0-9_.]+|(?:projects\\/(?:${DOMAIN}:)?${PROJECT}|organizations\\/\\d+)\\/roles\\/[A-Za-z0-9_.]{1,64})$`,
);

/** A GKE cluster's workload identity pool: `<cluster project>.svc.id.goog`. */
export const WORKLOAD_IDENTITY_POOL = new RegExp(`^${PROJECT}\\.svc\\.id\\.goog$`);
