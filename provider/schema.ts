import { z } from "zod";

/**
 * The value the Pulumi engine sends for an input that is not known yet (an output of a resource that
 * is still to be created). Validation lets it through; the plan carries it to the preview unchanged.
 */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

const orUnknown = <T extends z.ZodType>(schema: T) => schema.or(z.literal(UNKNOWN));

export const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/(?:[\w+=,.@-]+\/)*[\w+=,.@-]{1,64}$/;
export const ROLE_NAME = /^[\w+=,.@-]{1,64}$/;
export const CONNECTION_ID = /^[\w.-]+$/;
const AWS_REGION = /^[a-z]{2}(?:-[a-z]+)+-\d$/;

const roleArn = (what: string) =>
  z.string({ error: `${what} must be a string` }).regex(ROLE_ARN, {
    error: `${what} must be an IAM role ARN such as arn:aws:iam::123456789012:role/astro-my-namespace`,
  });

const targetRole = z
  .string({ error: "must be a string: an IAM role ARN or role name" })
  .refine((v) => ROLE_ARN.test(v) || ROLE_NAME.test(v), {
    error:
      "must be an IAM role ARN (arn:aws:iam::123456789012:role/my-role) or a role name (1-64 characters of letters, digits and +=,.@_-)",
  });

/** Keys Airflow masks in `extra`: anything secret belongs in a secrets backend, never in plain inputs. */
export const SENSITIVE_EXTRA_KEY =
  /(access_token|api_key|apikey|authorization|passphrase|passwd|password|private_key|secret|token|keyfile_dict|credential)/i;
export const RESERVED_AWS_EXTRA_KEYS = ["role_arn", "region_name", "assume_role_method"] as const;

/** Kubernetes service accounts of an Astro Deployment in namespace <ns>, by component. */
export const SERVICE_ACCOUNT_COMPONENTS = [
  "scheduler",
  "worker",
  "triggerer",
  "dag-processor",
  "webserver",
  "api-server",
  "kpo",
] as const;
export const DEFAULT_SERVICE_ACCOUNTS = ["scheduler", "worker", "triggerer", "dag-processor", "kpo"] as const;
const K8S_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

const issuerUrl = z.string({ error: "must be the cluster's OIDC issuer URL as a string" }).refine(
  (v) => {
    try {
      const u = new URL(v);
      return u.protocol === "https:" && !u.search && !u.hash && !u.username;
    } catch {
      return false;
    }
  },
  { error: "must be an https URL such as https://oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B71" },
);

const trust = z.discriminatedUnion(
  "kind",
  [
    z.object({ kind: z.literal("deploymentRole") }).strict(),
    z
      .object({
        kind: z.literal("clusterRole"),
        clusterRoleArn: orUnknown(roleArn("aws.trust.clusterRoleArn")).optional(),
        dataPlaneAccountId: orUnknown(
          z.string().regex(/^\d{12}$/, { error: "must be a 12-digit AWS account id" }),
        ).optional(),
        clusterId: orUnknown(
          z
            .string()
            .regex(/^[\w-]{1,64}$/, { error: "must be the Astro cluster id, such as clv1a2b3c000008l7abcd1234" }),
        ).optional(),
      })
      .strict()
      .refine(
        (t) => t.clusterRoleArn !== undefined || (t.dataPlaneAccountId !== undefined && t.clusterId !== undefined),
        {
          error: "give clusterRoleArn, or dataPlaneAccountId and clusterId (the role is AirflowS3Logs-<clusterId>)",
        },
      ),
    z
      .object({
        kind: z.literal("webIdentity"),
        issuerUrl: orUnknown(issuerUrl),
        namespace: orUnknown(
          z.string({ error: "must be the Deployment's Kubernetes namespace" }).regex(K8S_NAME, {
            error: "must be a Kubernetes namespace name such as astronomer-celestial-galaxy-1234",
          }),
        ),
        serviceAccounts: z
          .array(
            z.enum(SERVICE_ACCOUNT_COMPONENTS, { error: `must be one of ${SERVICE_ACCOUNT_COMPONENTS.join(", ")}` }),
          )
          .min(1, { error: "must name at least one component" })
          .optional(),
        serviceAccountNames: z
          .array(orUnknown(z.string().regex(K8S_NAME, { error: "must be a Kubernetes service account name" })))
          .min(1)
          .optional(),
        namespaceWide: z.boolean().optional(),
        connectionAssumesRole: z.boolean().optional(),
      })
      .strict()
      .refine((t) => !(t.namespaceWide && (t.serviceAccounts || t.serviceAccountNames)), {
        error:
          "namespaceWide trusts every service account of the namespace: drop serviceAccounts and serviceAccountNames",
      }),
  ],
  {
    error:
      'must be {kind: "deploymentRole"}, {kind: "clusterRole", ...} or {kind: "webIdentity", issuerUrl, namespace}',
  },
);

const extraValue = z.union([z.string(), z.number(), z.boolean(), z.null()], {
  error: "extra values must be strings, numbers, booleans or null",
});

const extra = z.record(z.string(), extraValue).superRefine((value, ctx) => {
  for (const key of Object.keys(value)) {
    if (SENSITIVE_EXTRA_KEY.test(key)) {
      ctx.addIssue({
        code: "custom",
        path: [key],
        message:
          "looks like a secret: extra is stored in plain text in Pulumi state and in the connection; keep secrets in a secrets backend",
      });
    }
    if ((RESERVED_AWS_EXTRA_KEYS as readonly string[]).includes(key)) {
      ctx.addIssue({
        code: "custom",
        path: [key],
        message: `is set by the resource itself (from aws.targetRole and aws.region); remove it from extra`,
      });
    }
  }
});

const airflowUrl = z.string({ error: "must be the Airflow base URL as a string" }).refine(
  (v) => {
    try {
      const u = new URL(v);
      return (u.protocol === "http:" || u.protocol === "https:") && !u.username && !u.password;
    } catch {
      return false;
    }
  },
  {
    error:
      "must be an http(s) URL without credentials, such as https://myorg.astronomer.run/d1234567 or http://localhost:8080",
  },
);

const airflowAuth = z.discriminatedUnion(
  "kind",
  [
    z.object({ kind: z.literal("token") }).strict(),
    z
      .object({
        kind: z.literal("password"),
        username: orUnknown(z.string().min(1, { error: "must be a non-empty user name" })),
      })
      .strict(),
  ],
  { error: 'must be {kind: "token"} (a bearer token, as on Astro) or {kind: "password", username}' },
);

/** The inputs the component sends to the dynamic provider: the one shape `check` validates. */
export const authorizationInputsSchema = z
  .object({
    owner: z.string().min(1, { error: "must name the owning resource (project/stack/name)" }),
    workloadIdentity: orUnknown(roleArn("workloadIdentity")).optional(),
    aws: z
      .object({
        targetRole: orUnknown(targetRole),
        trust: trust.optional(),
        region: orUnknown(
          z
            .string({
              error: "is required: pass aws.region or set the stack config aws:region (for example us-east-1)",
            })
            .regex(AWS_REGION, { error: "must be an AWS region such as us-east-1 or eu-central-1" }),
        ),
      })
      .strict(),
    connection: z
      .object({
        connectionId: orUnknown(
          z
            .string({ error: "must be a string" })
            .max(200, { error: "must be at most 200 characters" })
            .regex(CONNECTION_ID, {
              error: "must match ^[\\w.-]+$ (letters, digits, _ . -), for example aws_default",
            }),
        ),
        description: orUnknown(z.string().max(5000)).optional(),
        extra: orUnknown(extra).optional(),
        adoptExisting: z.boolean({ error: "must be true or false" }).optional(),
        airflow: z
          .object({
            url: orUnknown(airflowUrl),
            apiVersion: z
              .enum(["v1", "v2"], { error: 'must be "v1" (Airflow 2) or "v2" (Airflow 3); omit it to detect' })
              .optional(),
            auth: airflowAuth,
          })
          .strict(),
      })
      .strict(),
    credentials: z
      .object({
        token: z.string().min(1).optional(),
        password: z.string().min(1).optional(),
      })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((inputs, ctx) => {
    const kind = inputs.aws.trust?.kind ?? "deploymentRole";
    if (kind === "deploymentRole" && inputs.workloadIdentity === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["workloadIdentity"],
        message:
          "is required for the deploymentRole trust: the Deployment's workload identity, an IAM role ARN such as arn:aws:iam::123456789012:role/astro-my-namespace",
      });
    }
    if (kind !== "deploymentRole" && inputs.workloadIdentity !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["workloadIdentity"],
        message: `is only for the deploymentRole trust; the ${kind} trust names whom it trusts in aws.trust`,
      });
    }
    if (kind === "webIdentity" && inputs.aws.targetRole !== UNKNOWN && !ROLE_ARN.test(inputs.aws.targetRole)) {
      ctx.addIssue({
        code: "custom",
        path: ["aws", "targetRole"],
        message:
          "must be a role ARN for the webIdentity trust (the OIDC provider lives in the role's account), such as arn:aws:iam::123456789012:role/my-role",
      });
    }
  });

export type AuthorizationInputs = z.infer<typeof authorizationInputsSchema>;

export interface CheckFailure {
  property: string;
  reason: string;
}

export type ParseResult = { ok: true; value: AuthorizationInputs } | { ok: false; failures: CheckFailure[] };

/** One failure per bad field, each naming its property path; secrets are never echoed. */
export function parseInputs(raw: unknown): ParseResult {
  const result = authorizationInputsSchema.safeParse(raw);
  if (result.success) return { ok: true, value: result.data };
  const seen = new Set<string>();
  const failures: CheckFailure[] = [];
  for (const issue of result.error.issues) {
    const property = issue.path.map(String).join(".") || "(inputs)";
    if (seen.has(property)) continue;
    seen.add(property);
    failures.push({ property, reason: describeIssue(issue) });
  }
  return { ok: false, failures };
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === "unrecognized_keys") {
    return `unknown properties ${issue.keys.join(", ")}; remove them (check the spelling)`;
  }
  if (issue.code === "invalid_union" && issue.errors.length > 0) {
    const first = issue.errors[0]?.[0];
    if (first && first.message !== "Invalid input") return first.message;
  }
  return issue.message;
}
