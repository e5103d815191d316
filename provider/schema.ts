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
export const RESERVED_AWS_EXTRA_KEYS = ["role_arn", "region_name"] as const;

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
    workloadIdentity: orUnknown(roleArn("workloadIdentity")),
    aws: z
      .object({
        targetRole: orUnknown(targetRole),
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
  .strict();

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
