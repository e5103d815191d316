/** IAM role ARNs and names, as the schema checks them and the planner and driver read them (no zod here). */
export const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/(?:[\w+=,.@-]+\/)*[\w+=,.@-]{1,64}$/;
export const ROLE_NAME = /^[\w+=,.@-]{1,64}$/;
