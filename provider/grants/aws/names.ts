/** IAM role ARNs and names, as the schema checks them and the planner and driver read them (no zod here). */

/**
 * The partitions AWS documents in ARNs ("Identify AWS resources with Amazon Resource Names"): aws,
 * aws-cn, aws-us-gov, and the isolated and sovereign ones of the SDKs' partitions.json.
 */
const PARTITION = "aws(?:-cn|-us-gov|-iso(?:-[bef])?|-eusc)?";

/**
 * IAM role names (CreateRole RoleName): 1-64 of letters, digits and `_+=,.@-`. A path (CreateRole
 * Path) is `/`, or `/…/` of 1-512 printable ASCII characters (U+0021-U+007E); in the ARN it sits
 * between `role` and the name: arn:<partition>:iam::<12-digit account>:role/<path without its leading slash><name>.
 */
const NAME = "[\\w+=,.@-]{1,64}";
export const ROLE_NAME = new RegExp(`^${NAME}$`);
export const ROLE_ARN = new RegExp(`^arn:${PARTITION}:iam::\\d{12}:role\\/(?:[\\x21-\\x7e]{1,510}\\/)?${NAME}$`);

/** The Astro cluster role of a data plane account: `AirflowS3Logs-<clusterId>`, an IAM role name itself. */
export const CLUSTER_ROLE_PREFIX = "AirflowS3Logs-";
