/** Google Cloud names, as the schema checks them and the planner and driver read them (no zod here). */
/** Project ids: 6-30 characters, lower case, digits and hyphens; older ones may carry a domain prefix. */
export const PROJECT_ID = /^(?:[a-z0-9.-]+:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$/;
/** Any service account e-mail: user-managed (`name@project.iam…`) or Google-managed. */
export const SERVICE_ACCOUNT_EMAIL = /^[a-z0-9][a-z0-9._-]{0,62}@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.gserviceaccount\.com$/;
/** A user-managed service account names its project: `name@<project>.iam.gserviceaccount.com`. */
export const USER_MANAGED_SERVICE_ACCOUNT =
  /^[a-z][a-z0-9-]{4,28}[a-z0-9]@([a-z][a-z0-9-]{4,28}[a-z0-9])\.iam\.gserviceaccount\.com$/;
export const ROLE_NAME =
  /^(?:roles\/[\w.]+|(?:projects\/[a-z][a-z0-9-]{4,28}[a-z0-9]|organizations\/\d+)\/roles\/[\w.]+)$/;
export const WORKLOAD_IDENTITY_POOL = /^[a-z][a-z0-9-]{4,28}[a-z0-9]\.svc\.id\.goog$/;
