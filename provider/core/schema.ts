import { z } from "zod";
import type { CheckFailure } from "./checkFailure";
import type { CommonInputs, GrantPlugin } from "./types";
import { ASTRO_CLOUD_PROVIDERS, ASTRO_ID } from "../astro/naming";
import { UNKNOWN } from "./unknown";

/**
 * `z.object(shape).strict()`, typed by the shape itself (zod's own type maps it), so the declaration
 * files keep each field's JSDoc and an editor shows it on the argument types derived from the schema.
 */
export const strictObject = <T extends z.core.$ZodLooseShape>(shape: T): z.ZodObject<T, z.core.$strict> =>
  z.object(shape).strict();

/** A schema that also lets through the engine's placeholder for a value not known yet. */
export const orUnknown = <T extends z.ZodType>(schema: T) => schema.or(z.literal(UNKNOWN));

/**
 * A value as an error message shows it: as JSON, cut short past 80 characters. Only for
 * identifiers (names, ids, URLs without credentials), never for anything that may be a secret.
 */
export function shown(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = Object.prototype.toString.call(value);
  }
  return text.length > 80 ? `${text.slice(0, 60)}…" (${text.length - 2} characters)` : text;
}

/** A zod error that says what a valid value looks like; the failure shows the value given beside it (`given`). */
export const mustBe = (rule: string) => (): string => `must be ${rule}`;

/** Airflow 3's REST API rule for a connection id (ConnectionBody: max_length 200, ^[\w.-]+$), the stricter of the two Airflows'. */
export const CONNECTION_ID = /^[\w.-]+$/;

/**
 * The key a hook reads for an `extra` key: hooks read `<key>` and, for older connections,
 * `extra__<conn type>__<key>`. Lower case, as a key that differs only in case holds the same secret.
 */
export function extraKeyAsHooksReadIt(key: string): string {
  return key.replace(/^extra__[a-z0-9_]+?__(?=.)/i, "").toLowerCase();
}

/** What a cloud's hooks read as a secret under this `extra` key, if they do. */
export function secretExtraKey(secrets: Readonly<Record<string, string>>, key: string): string | undefined {
  const name = extraKeyAsHooksReadIt(key);
  return Object.entries(secrets).find(([secret]) => secret.toLowerCase() === name)?.[1];
}

/** Keys Airflow masks in `extra`: anything secret belongs in a secrets backend, never in plain inputs. */
export const SENSITIVE_EXTRA_KEY =
  /(access_token|api_key|apikey|authorization|passphrase|passwd|password|private_key|secret|token|credential|keyfile)/i;

const extraValue = z.union([z.string(), z.number(), z.boolean(), z.null()], {
  error: "must be a string, a number, a boolean or null (extra values are scalars)",
});

const extra = z.record(z.string(), extraValue);

/**
 * The Deployment's Airflow base URL: http(s) with a host, no credentials (they are secrets: give
 * the password or token apart), no query, fragment or white space, and not the REST API itself
 * (the resource adds /api/v1 or /api/v2).
 */
const airflowUrl = z
  .string({ error: "must be the Airflow base URL as a string" })
  .refine(
    (v) => {
      if (/\s/.test(v)) return false;
      try {
        const u = new URL(v);
        return (
          (u.protocol === "http:" || u.protocol === "https:") &&
          /^https?:\/\//i.test(v) &&
          u.hostname !== "" &&
          !u.username &&
          !u.password
        );
      } catch {
        return false;
      }
    },
    {
      error:
        "must be an http(s) URL without credentials or white space, such as https://myorg.astronomer.run/d1234567 or http://localhost:8080",
      abort: true,
    },
  )
  .refine((v) => !/\/api\/v\d+(?:\/|$)/i.test(new URL(v).pathname) && !v.includes("?") && !v.includes("#"), {
    error:
      "must be the Deployment's base URL, without /api/v1 or /api/v2, a query or a fragment (the resource adds the API path), such as https://myorg.astronomer.run/d1234567",
  });

const airflowAuth = z.discriminatedUnion(
  "kind",
  [
    strictObject({
      /** "token": a bearer token (an Astro API token, or any token the API accepts). */
      kind: z.literal("token").describe('"token": a bearer token (an Astro API token, or any token the API accepts).'),
    }),
    strictObject({
      /**
       * "password": a user name and password, exchanged at /auth/token on Airflow 3, basic auth on Airflow
       * 2.
       */
      kind: z
        .literal("password")
        .describe(
          '"password": a user name and password, exchanged at /auth/token on Airflow 3, basic auth on Airflow 2.',
        ),
      /** The Airflow user's name, such as admin. */
      username: orUnknown(z.string().min(1, { error: "must be a non-empty user name" })).describe(
        "The Airflow user's name, such as admin.",
      ),
    }),
  ],
  { error: 'must be {kind: "token"} (a bearer token, as on Astro) or {kind: "password", username}' },
);

/** Astro's ids are cuids (25 lower-case letters and digits); its API documents no pattern, so 20-40 are taken. */
const astroId = (what: string) =>
  orUnknown(
    z.string({ error: `must be the ${what} id as a string` }).regex(ASTRO_ID, {
      error: mustBe(`an Astro ${what} id (20-40 lower-case letters and digits) such as clmh597sg000208lb2kjhcn8q`),
    }),
  );

const astroConnection = strictObject({
  /**
   * The Astro organization's id (20-40 lower-case letters and digits), such as clmh597sg000208lb2kjhcn8q.
   */
  organizationId: astroId("organization").describe(
    "The Astro organization's id (20-40 lower-case letters and digits), such as clmh597sg000208lb2kjhcn8q.",
  ),
  /**
   * The Deployment the connection belongs to (a Deployment-scoped connection), such as
   * clmh597sg000208lb2kjhcn8q. Give it or workspaceId.
   */
  deploymentId: astroId("Deployment")
    .optional()
    .describe(
      "The Deployment the connection belongs to (a Deployment-scoped connection), such as clmh597sg000208lb2kjhcn8q. Give it or workspaceId.",
    ),
  /**
   * The Workspace the connection belongs to (a Workspace-scoped connection, linked to linkedDeploymentIds),
   * such as clmh597sg000208lb2kjhcn8q. Give it or deploymentId.
   */
  workspaceId: astroId("Workspace")
    .optional()
    .describe(
      "The Workspace the connection belongs to (a Workspace-scoped connection, linked to linkedDeploymentIds), such as clmh597sg000208lb2kjhcn8q. Give it or deploymentId.",
    ),
  /**
   * With workspaceId: the ids of the Deployments the Workspace-scoped connection is linked to, such as
   * ["clmh597sg000208lb2kjhcn8q"]. Default: none.
   */
  linkedDeploymentIds: z
    .array(astroId("Deployment"))
    .optional()
    .describe(
      'With workspaceId: the ids of the Deployments the Workspace-scoped connection is linked to, such as ["clmh597sg000208lb2kjhcn8q"]. Default: none.',
    ),
})
  .refine((a) => (a.deploymentId === undefined) !== (a.workspaceId === undefined), {
    error: "give deploymentId (a Deployment-scoped connection) or workspaceId (a Workspace-scoped one), one of them",
  })
  .refine((a) => a.workspaceId !== undefined || a.linkedDeploymentIds === undefined, {
    error: "linkedDeploymentIds is for a Workspace-scoped connection (workspaceId)",
  });

/** `inputs.connection`: where the connection lives, its id, and what else goes into it. */
export const connectionInputSchema = strictObject({
  /**
   * Where the connection lives: "airflow", the Deployment's Airflow REST API (`connection.airflow`), or
   * "astro", Astro's Environment Manager (`connection.astro`). Default: "airflow".
   */
  target: z
    .enum(["airflow", "astro"], { error: 'must be "airflow" or "astro"' })
    .optional()
    .describe(
      'Where the connection lives: "airflow", the Deployment\'s Airflow REST API (`connection.airflow`), or "astro", Astro\'s Environment Manager (`connection.astro`). Default: "airflow".',
    ),
  /**
   * The connection's id, as DAGs name it: letters, digits, _ . and - (at most 200 characters), such as
   * aws_default.
   */
  connectionId: orUnknown(
    z
      .string({ error: "must be a string" })
      .max(200, {
        error: "must be at most 200 characters, such as aws_default",
      })
      .regex(CONNECTION_ID, {
        error: mustBe("a connection id of letters, digits, _ . and - (^[\\w.-]+$), such as aws_default"),
      }),
  ).describe(
    "The connection's id, as DAGs name it: letters, digits, _ . and - (at most 200 characters), such as aws_default.",
  ),
  /**
   * The connection's description, at most 5000 characters, such as "S3 for the lake DAGs". Default: a note
   * that the connection is managed by Pulumi.
   */
  description: orUnknown(z.string({ error: "must be a string" }).max(5000))
    .optional()
    .describe(
      'The connection\'s description, at most 5000 characters, such as "S3 for the lake DAGs". Default: a note that the connection is managed by Pulumi.',
    ),
  /**
   * More `extra` fields of the connection: strings, numbers, booleans or null, such as { verify: false }.
   * The fields the grant needs are set by the resource, and keys Airflow's hooks read as secrets are
   * refused: no secrets here. Default: none.
   */
  extra: orUnknown(extra)
    .optional()
    .describe(
      "More `extra` fields of the connection: strings, numbers, booleans or null, such as { verify: false }. The fields the grant needs are set by the resource, and keys Airflow's hooks read as secrets are refused: no secrets here. Default: none.",
    ),
  /**
   * Take over a connection with this id that already exists (made by hand), keeping its description and
   * other `extra` fields. Default: false: create fails when one exists, naming this option.
   */
  adoptExisting: z
    .boolean({ error: "must be true or false" })
    .optional()
    .describe(
      "Take over a connection with this id that already exists (made by hand), keeping its description and other `extra` fields. Default: false: create fails when one exists, naming this option.",
    ),
  /**
   * With `target: "airflow"` (the default): the Deployment's Airflow REST API, { url, apiVersion?, auth }.
   * With `deployment`, optional: read from the Deployment (its Airflow API URL and version, bearer token
   * auth).
   */
  airflow: strictObject({
    /**
     * The Deployment's Airflow base URL, http(s), without credentials, query or fragment, and without
     * /api/v1 or /api/v2 (the resource adds the API path), such as https://myorg.astronomer.run/d1234567
     * or http://localhost:8080.
     */
    url: orUnknown(airflowUrl).describe(
      "The Deployment's Airflow base URL, http(s), without credentials, query or fragment, and without /api/v1 or /api/v2 (the resource adds the API path), such as https://myorg.astronomer.run/d1234567 or http://localhost:8080.",
    ),
    /**
     * The Airflow REST API to use: "v2" (Airflow 3), "v1" (Airflow 2) or "detect", found at apply from
     * /api/v2/version, then /api/v1/version. Default: "detect".
     */
    apiVersion: z
      .enum(["v1", "v2", "detect"], {
        error: 'must be "v1" (Airflow 2), "v2" (Airflow 3) or "detect" (the default: found at apply)',
      })
      .optional()
      .describe(
        'The Airflow REST API to use: "v2" (Airflow 3), "v1" (Airflow 2) or "detect", found at apply from /api/v2/version, then /api/v1/version. Default: "detect".',
      ),
    /**
     * How to authenticate to the Airflow API: { kind: "token" } (a bearer token, as on Astro) or { kind:
     * "password", username } (exchanged at /auth/token on Airflow 3, basic auth on Airflow 2). The token
     * or password itself is given apart, as a secret.
     */
    auth: airflowAuth.describe(
      'How to authenticate to the Airflow API: { kind: "token" } (a bearer token, as on Astro) or { kind: "password", username } (exchanged at /auth/token on Airflow 3, basic auth on Airflow 2). The token or password itself is given apart, as a secret.',
    ),
  })
    .optional()
    .describe(
      'With `target: "airflow"` (the default): the Deployment\'s Airflow REST API, { url, apiVersion?, auth }. With `deployment`, optional: read from the Deployment (its Airflow API URL and version, bearer token auth).',
    ),
  /**
   * With `target: "astro"`: the connection in Astro's Environment Manager, { organizationId, deploymentId }
   * (Deployment-scoped) or { organizationId, workspaceId, linkedDeploymentIds? } (Workspace-scoped). With
   * `deployment`, optional: read from the Deployment.
   */
  astro: astroConnection
    .optional()
    .describe(
      'With `target: "astro"`: the connection in Astro\'s Environment Manager, { organizationId, deploymentId } (Deployment-scoped) or { organizationId, workspaceId, linkedDeploymentIds? } (Workspace-scoped). With `deployment`, optional: read from the Deployment.',
    ),
}).superRefine((c, ctx) => {
  // One sink per resource: the same connection id is never written to two places.
  const target = c.target ?? "airflow";
  const other = target === "airflow" ? "astro" : "airflow";
  if (c[target] === undefined) {
    ctx.addIssue({
      code: "custom",
      path: [target],
      message:
        target === "airflow"
          ? 'is required: the Deployment\'s Airflow API ({url, auth}), or set target: "astro" and give astro'
          : "is required for target astro: {organizationId, deploymentId} or {organizationId, workspaceId, linkedDeploymentIds}",
    });
  }
  if (c[other] !== undefined) {
    ctx.addIssue({
      code: "custom",
      path: [other],
      message: `is for target "${other}"; this connection's target is "${target}": one resource writes its connection to one place`,
    });
  }
});

const credentials = strictObject({
  /**
   * The Airflow API's bearer token (auth kind token). Default: stack config
   * deployment-authorization:airflowToken, then AIRFLOW_API_TOKEN.
   */
  token: z
    .string()
    .min(1)
    .optional()
    .describe(
      "The Airflow API's bearer token (auth kind token). Default: stack config deployment-authorization:airflowToken, then AIRFLOW_API_TOKEN.",
    ),
  /**
   * The Airflow user's password (auth kind password). Default: stack config
   * deployment-authorization:airflowPassword, then AIRFLOW_API_PASSWORD.
   */
  password: z
    .string()
    .min(1)
    .optional()
    .describe(
      "The Airflow user's password (auth kind password). Default: stack config deployment-authorization:airflowPassword, then AIRFLOW_API_PASSWORD.",
    ),
  /**
   * An Astro API token, to read the Deployment and to write connections in Astro's Environment Manager.
   * Default: stack config deployment-authorization:astroToken, then ASTRO_API_TOKEN.
   */
  astroToken: z
    .string()
    .min(1)
    .optional()
    .describe(
      "An Astro API token, to read the Deployment and to write connections in Astro's Environment Manager. Default: stack config deployment-authorization:astroToken, then ASTRO_API_TOKEN.",
    ),
}).optional();

/** Make the grant's identity the Deployment's own (Astro's "customer-managed identity"). */
const customerManagedIdentity = z.union(
  [
    z.boolean(),
    strictObject({
      /**
       * On delete, set back the identity the Deployment showed before. Default: false: the grant's identity
       * stays in place.
       */
      restoreOnDelete: z
        .boolean({ error: "must be true or false" })
        .optional()
        .describe(
          "On delete, set back the identity the Deployment showed before. Default: false: the grant's identity stays in place.",
        ),
    }),
  ],
  { error: "must be true, or {restoreOnDelete: true | false}" },
);

/** Set the Deployment's AIRFLOW__SECRETS__BACKEND and AIRFLOW__SECRETS__BACKEND_KWARGS to reach the grant. */
const secretsBackend = z.union(
  [
    z.literal(true),
    strictObject({
      /**
       * Airflow's secrets backend class, a dotted Python class path such as
       * airflow.providers.amazon.aws.secrets.systems_manager.SystemsManagerParameterStoreBackend. Default:
       * the cloud's secret store backend.
       */
      backend: z
        .string({ error: "must be a string" })
        .regex(/^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)+$/, {
          error: mustBe(
            "a dotted Python class path, such as airflow.providers.amazon.aws.secrets.systems_manager.SystemsManagerParameterStoreBackend",
          ),
        })
        .optional()
        .describe(
          "Airflow's secrets backend class, a dotted Python class path such as airflow.providers.amazon.aws.secrets.systems_manager.SystemsManagerParameterStoreBackend. Default: the cloud's secret store backend.",
        ),
      /**
       * Backend kwargs added to (or replacing) the defaults, such as { connections_prefix:
       * "airflow/connections" } or project_id; scalars, no secrets. Default: none.
       */
      kwargs: extra
        .optional()
        .describe(
          'Backend kwargs added to (or replacing) the defaults, such as { connections_prefix: "airflow/connections" } or project_id; scalars, no secrets. Default: none.',
        ),
    }),
  ],
  { error: "must be true (the cloud's defaults), or {backend?, kwargs?}" },
);

/** `inputs.deployment`: the Deployment the component read, and what of its own settings to own. */
export const deploymentInputSchema = strictObject({
  /**
   * The Astro organization's id (20-40 lower-case letters and digits), such as clmh597sg000208lb2kjhcn8q.
   */
  organizationId: astroId("organization").describe(
    "The Astro organization's id (20-40 lower-case letters and digits), such as clmh597sg000208lb2kjhcn8q.",
  ),
  /** The Astro Deployment's id (20-40 lower-case letters and digits), such as clmh597sg000208lb2kjhcn8q. */
  deploymentId: astroId("Deployment").describe(
    "The Astro Deployment's id (20-40 lower-case letters and digits), such as clmh597sg000208lb2kjhcn8q.",
  ),
  /**
   * The Deployment's cloud as Astro reports it (AWS, GCP or AZURE), set by the component from the
   * Deployment it read: it must match the cloud key given.
   */
  cloudProvider: z
    .enum(ASTRO_CLOUD_PROVIDERS)
    .optional()
    .describe(
      "The Deployment's cloud as Astro reports it (AWS, GCP or AZURE), set by the component from the Deployment it read: it must match the cloud key given.",
    ),
  /**
   * Why the component could not read the Deployment from Astro, set by the component: check fails at
   * `deployment` with it.
   */
  lookupError: z
    .string()
    .optional()
    .describe(
      "Why the component could not read the Deployment from Astro, set by the component: check fails at `deployment` with it.",
    ),
  /**
   * Make the grant's identity the Deployment's own workload identity (Astro's "Customer Managed Identity"):
   * on AWS the role of a `webIdentity` trust, on GCP the service account of a `customerManagedIdentity`
   * grant. Set through UpdateDeployment, which keeps every other setting; the apply waits until the
   * Deployment shows it. On delete the identity stays in place unless `restoreOnDelete` sets back the one
   * shown before. Not on Azure (Astro's API refuses it there). true or { restoreOnDelete }. Default: the
   * Deployment's identity is left alone.
   */
  customerManagedIdentity: customerManagedIdentity
    .optional()
    .describe(
      "Make the grant's identity the Deployment's own workload identity (Astro's \"Customer Managed Identity\"): on AWS the role of a `webIdentity` trust, on GCP the service account of a `customerManagedIdentity` grant. Set through UpdateDeployment, which keeps every other setting; the apply waits until the Deployment shows it. On delete the identity stays in place unless `restoreOnDelete` sets back the one shown before. Not on Azure (Astro's API refuses it there). true or { restoreOnDelete }. Default: the Deployment's identity is left alone.",
    ),
  /**
   * Set the Deployment's `AIRFLOW__SECRETS__BACKEND` and `AIRFLOW__SECRETS__BACKEND_KWARGS` to the cloud's
   * secret store, reached through this grant (AWS Secrets Manager with the connection's role and region;
   * GCP Secret Manager with the project and impersonation chain), as the guides do. Only these two
   * variables are ever written; `kwargs` adds or replaces defaults such as `connections_prefix` or
   * `project_id`. AWS and GCP. true or { backend?, kwargs? }. Default: the Deployment's variables are left
   * alone.
   */
  secretsBackend: secretsBackend
    .optional()
    .describe(
      "Set the Deployment's `AIRFLOW__SECRETS__BACKEND` and `AIRFLOW__SECRETS__BACKEND_KWARGS` to the cloud's secret store, reached through this grant (AWS Secrets Manager with the connection's role and region; GCP Secret Manager with the project and impersonation chain), as the guides do. Only these two variables are ever written; `kwargs` adds or replaces defaults such as `connections_prefix` or `project_id`. AWS and GCP. true or { backend?, kwargs? }. Default: the Deployment's variables are left alone.",
    ),
});

export type DeploymentInput = z.infer<typeof deploymentInputSchema>;

/** The inputs the component sends to the dynamic provider, with one optional key per cloud. */
export function inputsSchema(plugins: ReadonlyArray<GrantPlugin>) {
  return strictObject({
    /**
     * The resource that owns the grant and the connection, <project>/<stack>/<name>, such as
     * lake/prod/analytics-s3: set by the component, and written as the claim beside each.
     */
    owner: z
      .string()
      .min(1, { error: "must name the owning resource (project/stack/name)" })
      .describe(
        "The resource that owns the grant and the connection, <project>/<stack>/<name>, such as lake/prod/analytics-s3: set by the component, and written as the claim beside each.",
      ),
    /**
     * The Deployment's workload identity (Astro: Deployment → Details → Workload Identity): an IAM role ARN
     * on AWS, such as arn:aws:iam::123456789012:role/astro-my-namespace, a service account e-mail on GCP.
     * Required by the AWS `deploymentRole` trust and the GCP `projectRole` and `impersonation` grants; an
     * error with the other kinds and on Azure. With `deployment`, read from the Deployment.
     */
    workloadIdentity: orUnknown(z.string({ error: "must be a string" }))
      .optional()
      .describe(
        "The Deployment's workload identity (Astro: Deployment → Details → Workload Identity): an IAM role ARN on AWS, such as arn:aws:iam::123456789012:role/astro-my-namespace, a service account e-mail on GCP. Required by the AWS `deploymentRole` trust and the GCP `projectRole` and `impersonation` grants; an error with the other kinds and on Azure. With `deployment`, read from the Deployment.",
      ),
    /**
     * The Airflow connection the Deployment's DAGs use with the grant: its id, where it lives (`target`:
     * the Deployment's Airflow, or Astro's Environment Manager) and what else goes into it.
     */
    connection: connectionInputSchema.describe(
      "The Airflow connection the Deployment's DAGs use with the grant: its id, where it lives (`target`: the Deployment's Airflow, or Astro's Environment Manager) and what else goes into it.",
    ),
    /**
     * The secrets, kept apart from the other inputs and never shown: set by the component from its
     * arguments, the stack config or the environment.
     */
    credentials: credentials.describe(
      "The secrets, kept apart from the other inputs and never shown: set by the component from its arguments, the stack config or the environment.",
    ),
    /**
     * Read the Deployment from the Astro Platform API (`GetDeployment`) while the program runs, so the
     * preview already shows the exact grant: its workload identity, namespace and OIDC issuer fill
     * `workloadIdentity`, `namespace` and `issuerUrl` where not given, its Airflow API fills
     * `connection.airflow` (bearer token auth), and it fills `connection.astro` for `target: "astro"`. The
     * cloud key given must match the Deployment's cloud. { organizationId, deploymentId, token?,
     * customerManagedIdentity?, secretsBackend? }.
     */
    deployment: deploymentInputSchema
      .optional()
      .describe(
        'Read the Deployment from the Astro Platform API (`GetDeployment`) while the program runs, so the preview already shows the exact grant: its workload identity, namespace and OIDC issuer fill `workloadIdentity`, `namespace` and `issuerUrl` where not given, its Airflow API fills `connection.airflow` (bearer token auth), and it fills `connection.astro` for `target: "astro"`. The cloud key given must match the Deployment\'s cloud. { organizationId, deploymentId, token?, customerManagedIdentity?, secretsBackend? }.',
      ),
    ...Object.fromEntries(plugins.map((p) => [p.cloud, p.schema.optional()])),
  });
}

export type { CheckFailure };

/** Keys whose values are secrets wherever they appear in the inputs. */
const SECRET_FIELD = /(token|password|passwd|passphrase|secret|private_?key|api_?key)/i;
/** Maps whose keys are free-form and whose secret-looking keys are refused: their values are never shown. */
const FREE_FORM_MAPS = ["connection.extra", "deployment.secretsBackend.kwargs"];
const SHOWN_LENGTH = 120;

/** Whether the value at this path may hold a secret: shown as *** in any failure. */
function isSecretPath(path: ReadonlyArray<PropertyKey>, plugins: ReadonlyArray<GrantPlugin>): boolean {
  const keys = path.map(String);
  if (keys[0] === "credentials") return true;
  const last = keys.at(-1) ?? "";
  if (SECRET_FIELD.test(last)) return true;
  const parent = keys.slice(0, -1).join(".");
  return (
    FREE_FORM_MAPS.includes(parent) &&
    (SENSITIVE_EXTRA_KEY.test(last) || plugins.some((p) => secretExtraKey(p.secretExtraKeys, last) !== undefined))
  );
}

/** The value given at `path` in the raw inputs, or undefined when there is none. */
function valueAt(raw: unknown, path: ReadonlyArray<PropertyKey>): unknown {
  let value = raw;
  for (const key of path) {
    if (value === null || typeof value !== "object") return undefined;
    value = (value as Record<PropertyKey, unknown>)[key as string];
  }
  return value;
}

/** A value as a failure may show it: secrets masked at any depth, credentials in a URL masked, cut short. */
function shownGiven(value: unknown, path: ReadonlyArray<PropertyKey>, plugins: ReadonlyArray<GrantPlugin>): string {
  const masked = (v: unknown, at: ReadonlyArray<PropertyKey>): unknown => {
    if (isSecretPath(at, plugins) && v !== undefined) return "***";
    if (v === UNKNOWN) return "(not known yet)";
    if (typeof v === "string") return v.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/@:]*):[^/@]*@/i, "$1:***@");
    if (Array.isArray(v)) return v.map((item, i) => masked(item, [...at, i]));
    if (v !== null && typeof v === "object") {
      return Object.fromEntries(Object.entries(v).map(([k, inner]) => [k, masked(inner, [...at, k])]));
    }
    return v;
  };
  if (isSecretPath(path, plugins)) return "***";
  const text = JSON.stringify(masked(value, path)) ?? String(value);
  return text.length <= SHOWN_LENGTH ? text : `${text.slice(0, SHOWN_LENGTH - 1)}…`;
}

export type ParseResult<T> = { ok: true; value: T; plugin: GrantPlugin } | { ok: false; failures: CheckFailure[] };

/**
 * One failure per bad field, each naming its property path; secrets are never echoed. The rules
 * that join fields (one cloud key; what a cloud needs of `workloadIdentity`; `extra` keys a cloud
 * sets itself) run even when other fields are bad, so one `check` reports everything at once.
 */
export function parseWith<T>(plugins: ReadonlyArray<GrantPlugin>, schema: z.ZodType<T>, raw: unknown): ParseResult<T> {
  const failures: CheckFailure[] = [];
  const seen = new Set<string>();
  const report = (path: ReadonlyArray<PropertyKey>, reason: string) => {
    const property = path.map(String).join(".") || "(inputs)";
    if (seen.has(property)) return;
    seen.add(property);
    const value = path.length > 0 ? valueAt(raw, path) : undefined;
    failures.push({ property, reason, ...(value !== undefined ? { given: shownGiven(value, path, plugins) } : {}) });
  };

  const result = schema.safeParse(raw);
  if (!result.success) for (const issue of result.error.issues) flatten(issue, [], report);

  const record = raw !== null && typeof raw === "object" ? (raw as Record<string, unknown>) : {};
  const given = plugins.filter((p) => record[p.cloud] !== undefined);
  if (given.length !== 1) {
    const keys = plugins.map((p) => p.cloud).join(", ");
    report(
      given.length === 0 ? [] : [given[1]!.cloud],
      given.length === 0
        ? `say which cloud to grant in: give exactly one of ${keys}`
        : `give exactly one of ${keys}, not ${given.map((p) => p.cloud).join(" and ")}: one resource grants in one cloud`,
    );
  }
  const deployment = record.deployment as Partial<DeploymentInput> | undefined;
  // These rules read a field only when it is a string: the schema reports any other value at its path.
  const text = (value: unknown) => (typeof value === "string" ? value : undefined);
  const lookupError = text(deployment?.lookupError);
  if (lookupError) report(["deployment"], `could not be read from Astro: ${lookupError}`);
  const plugin = given.length === 1 ? given[0] : undefined;
  const cloudProvider = text(deployment?.cloudProvider)?.toLowerCase();
  if (plugin && cloudProvider && cloudProvider !== plugin.cloud) {
    report(
      ["deployment"],
      `Deployment ${text(deployment!.deploymentId) ?? "(deployment.deploymentId)"} runs on ${deployment!.cloudProvider}, but this authorization grants in ` +
        `${plugin.cloud}: give ${cloudProvider} instead, or name another Deployment`,
    );
  }
  if (plugin) {
    const piece = plugin.schema.safeParse(record[plugin.cloud]);
    const identity = record.workloadIdentity;
    const common: CommonInputs = {
      owner: typeof record.owner === "string" ? record.owner : "",
      ...(typeof identity === "string" ? { workloadIdentity: identity } : {}),
    };
    // Cross-field rules run on what parsed, else on the raw value, so they report alongside field errors.
    if (piece.success) plugin.refine(piece.data, common, report);
    else if (record[plugin.cloud] !== null && typeof record[plugin.cloud] === "object") {
      plugin.refine(record[plugin.cloud], common, report);
    }
    checkExtraKeys(plugin, record, report);
    if (piece.success && deployment && !deployment.lookupError) {
      checkDeploymentSettings(plugin, plugin.plan(piece.data, common), deployment, report);
    }
  }

  if (failures.length > 0 || !result.success || !plugin) return { ok: false, failures };
  return { ok: true, value: result.data, plugin };
}

/** What the grant can make of the Deployment's own settings; kwargs the grant sets are not the user's. */
function checkDeploymentSettings(
  plugin: GrantPlugin,
  planned: ReturnType<GrantPlugin["plan"]>,
  deployment: Partial<DeploymentInput>,
  report: (path: ReadonlyArray<PropertyKey>, reason: string) => void,
) {
  const rules = plugin.deploymentSettings;
  if (deployment.customerManagedIdentity) {
    const identity = rules.customerManagedIdentity(planned.grant);
    if (!identity.ok) report(["deployment", "customerManagedIdentity"], identity.reason);
  }
  if (deployment.secretsBackend) {
    const backend = rules.secretsBackend(planned.extra);
    if (!backend.ok) return report(["deployment", "secretsBackend"], backend.reason);
    const given = deployment.secretsBackend === true ? {} : (deployment.secretsBackend.kwargs ?? {});
    for (const key of Object.keys(given)) {
      const path = ["deployment", "secretsBackend", "kwargs", key];
      if (rules.reservedKwargs.includes(key)) {
        report(path, `is set by the resource itself (from the ${plugin.cloud} grant); remove it from kwargs`);
      } else if (SENSITIVE_EXTRA_KEY.test(key)) {
        report(
          path,
          "looks like a secret: the Deployment's variable is plain text; the grant needs no secret to reach the backend",
        );
      }
    }
  }
}

/** Secrets never go into `extra` (plain text in state); keys the cloud sets itself are not the user's. */
function checkExtraKeys(
  plugin: GrantPlugin,
  record: Record<string, unknown>,
  report: (path: ReadonlyArray<PropertyKey>, reason: string) => void,
) {
  const connection = record.connection as { extra?: unknown } | undefined;
  const extraValue = connection?.extra;
  if (extraValue === null || typeof extraValue !== "object" || Array.isArray(extraValue)) return;
  for (const key of Object.keys(extraValue)) {
    const path = ["connection", "extra", key];
    const refused = plugin.refusedExtraKeys?.[key];
    const secret = secretExtraKey(plugin.secretExtraKeys, key);
    if (refused) {
      report(path, refused);
    } else if (secret) {
      report(
        path,
        `is key material: Airflow's ${plugin.cloud} hooks read it as ${secret}. This resource grants by workload ` +
          `identity, so the connection needs no key or secret: remove it (extra is stored in plain text in Pulumi ` +
          `state and in the connection; a DAG that needs a secret reads it from a secrets backend)`,
      );
    } else if (SENSITIVE_EXTRA_KEY.test(key)) {
      report(
        path,
        "looks like a secret: extra is stored in plain text in Pulumi state and in the connection; keep secrets in a secrets backend",
      );
    } else if (plugin.reservedExtraKeys.includes(key)) {
      report(path, `is set by the resource itself (from the ${plugin.cloud} inputs); remove it from extra`);
    }
  }
}

/**
 * A value that may also be "unknown" is a union of its schema and that marker; its failure belongs
 * to the schema's branch, at that branch's own path (a bad `extra` value at its key, not at `extra`).
 */
function flatten(
  issue: z.core.$ZodIssue,
  prefix: ReadonlyArray<PropertyKey>,
  report: (path: ReadonlyArray<PropertyKey>, reason: string) => void,
) {
  const path = [...prefix, ...issue.path];
  if (issue.code === "invalid_union" && isOrUnknown(issue)) {
    const branch = issue.errors[0]!;
    if (branch.some((inner) => inner.path.length > 0)) {
      for (const inner of branch) flatten(inner, path, report);
      return;
    }
    const first = branch[0];
    if (first && first.message !== "Invalid input") return report(path, first.message);
  }
  if (issue.code === "unrecognized_keys") {
    return report(path, `unknown properties ${issue.keys.join(", ")}; remove them (check the spelling)`);
  }
  report(path, ownWords(issue));
}

/** zod's own messages ("Invalid input: expected string, received number") in the schemas' terms. */
function ownWords(issue: z.core.$ZodIssue): string {
  if (!/^(Invalid input|Too small|Too big)\b/.test(issue.message)) return issue.message;
  if (issue.code === "invalid_type") {
    const expected: Record<string, string> = {
      string: "a string",
      boolean: "true or false",
      number: "a number",
      object: "an object",
      array: "a list",
    };
    return `must be ${expected[issue.expected] ?? issue.expected}`;
  }
  if (issue.code === "too_small" && issue.origin === "string") {
    return Number(issue.minimum) <= 1 ? "must not be empty" : `must be at least ${issue.minimum} characters`;
  }
  if (issue.code === "too_big" && issue.origin === "string") return `must be at most ${issue.maximum} characters`;
  if (issue.code === "too_small" && issue.origin === "array") return `must hold at least ${issue.minimum} item(s)`;
  if (issue.code === "too_big" && issue.origin === "array") return `must hold at most ${issue.maximum} item(s)`;
  return issue.message;
}

function isOrUnknown(issue: z.core.$ZodIssueInvalidUnion): boolean {
  const last = issue.errors.at(-1)?.[0];
  return (
    issue.errors.length === 2 &&
    last?.code === "invalid_value" &&
    last.values.length === 1 &&
    last.values[0] === UNKNOWN
  );
}

export { UNKNOWN };
