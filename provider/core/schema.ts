import { z } from "zod";
import type { CheckFailure } from "./checkFailure";
import type { CommonInputs, GrantPlugin } from "./types";
import { ASTRO_CLOUD_PROVIDERS, ASTRO_ID } from "../astro/naming";
import { UNKNOWN } from "./unknown";

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

/** Astro's ids are cuids (25 lower-case letters and digits); its API documents no pattern, so 20-40 are taken. */
const astroId = (what: string) =>
  orUnknown(
    z.string({ error: `must be the ${what} id as a string` }).regex(ASTRO_ID, {
      error: mustBe(`an Astro ${what} id (20-40 lower-case letters and digits) such as clmh597sg000208lb2kjhcn8q`),
    }),
  );

const astroConnection = z
  .object({
    organizationId: astroId("organization"),
    /** The connection belongs to this Deployment. */
    deploymentId: astroId("Deployment").optional(),
    /** The connection belongs to this Workspace and is linked to `linkedDeploymentIds`. */
    workspaceId: astroId("Workspace").optional(),
    linkedDeploymentIds: z.array(astroId("Deployment")).optional(),
  })
  .strict()
  .refine((a) => (a.deploymentId === undefined) !== (a.workspaceId === undefined), {
    error: "give deploymentId (a Deployment-scoped connection) or workspaceId (a Workspace-scoped one), one of them",
  })
  .refine((a) => a.workspaceId !== undefined || a.linkedDeploymentIds === undefined, {
    error: "linkedDeploymentIds is for a Workspace-scoped connection (workspaceId)",
  });

/** `inputs.connection`: where the connection lives, its id, and what else goes into it. */
export const connectionInputSchema = z
  .object({
    /** Where the connection lives: the Deployment's Airflow REST API (default), or Astro's Environment Manager. */
    target: z.enum(["airflow", "astro"], { error: 'must be "airflow" or "astro"' }).optional(),
    connectionId: orUnknown(
      z
        .string({ error: "must be a string" })
        .max(200, {
          error: "must be at most 200 characters, such as aws_default",
        })
        .regex(CONNECTION_ID, {
          error: mustBe("a connection id of letters, digits, _ . and - (^[\\w.-]+$), such as aws_default"),
        }),
    ),
    description: orUnknown(z.string({ error: "must be a string" }).max(5000)).optional(),
    extra: orUnknown(extra).optional(),
    adoptExisting: z.boolean({ error: "must be true or false" }).optional(),
    airflow: z
      .object({
        url: orUnknown(airflowUrl),
        apiVersion: z
          .enum(["v1", "v2", "detect"], {
            error: 'must be "v1" (Airflow 2), "v2" (Airflow 3) or "detect" (the default: found at apply)',
          })
          .optional(),
        auth: airflowAuth,
      })
      .strict()
      .optional(),
    astro: astroConnection.optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
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

const credentials = z
  .object({
    token: z.string().min(1).optional(),
    password: z.string().min(1).optional(),
    astroToken: z.string().min(1).optional(),
  })
  .strict()
  .optional();

/** Make the grant's identity the Deployment's own (Astro's "customer-managed identity"). */
const customerManagedIdentity = z.union(
  [
    z.boolean(),
    z
      .object({
        /** On delete, set the identity the Deployment showed before back (default: leave ours in place). */
        restoreOnDelete: z.boolean({ error: "must be true or false" }).optional(),
      })
      .strict(),
  ],
  { error: "must be true, or {restoreOnDelete: true | false}" },
);

/** Set the Deployment's AIRFLOW__SECRETS__BACKEND and AIRFLOW__SECRETS__BACKEND_KWARGS to reach the grant. */
const secretsBackend = z.union(
  [
    z.literal(true),
    z
      .object({
        /** Airflow's backend class (default: the cloud's secret store backend). */
        backend: z
          .string({ error: "must be a string" })
          .regex(/^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)+$/, {
            error: mustBe(
              "a dotted Python class path, such as airflow.providers.amazon.aws.secrets.systems_manager.SystemsManagerParameterStoreBackend",
            ),
          })
          .optional(),
        /** kwargs added to (or replacing) the defaults, such as connections_prefix or project_id. */
        kwargs: extra.optional(),
      })
      .strict(),
  ],
  { error: "must be true (the cloud's defaults), or {backend?, kwargs?}" },
);

/** `inputs.deployment`: the Deployment the component read, and what of its own settings to own. */
const deploymentInputSchema = z
  .object({
    organizationId: astroId("organization"),
    deploymentId: astroId("Deployment"),
    cloudProvider: z.enum(ASTRO_CLOUD_PROVIDERS).optional(),
    lookupError: z.string().optional(),
    customerManagedIdentity: customerManagedIdentity.optional(),
    secretsBackend: secretsBackend.optional(),
  })
  .strict();

export type DeploymentInput = z.infer<typeof deploymentInputSchema>;

/** The inputs the component sends to the dynamic provider, with one optional key per cloud. */
export function inputsSchema(plugins: ReadonlyArray<GrantPlugin>) {
  return z
    .object({
      owner: z.string().min(1, { error: "must name the owning resource (project/stack/name)" }),
      workloadIdentity: orUnknown(z.string({ error: "must be a string" })).optional(),
      connection: connectionInputSchema,
      credentials,
      /** The Astro Deployment the component read (with `deployment`): checked against the cloud. */
      deployment: deploymentInputSchema.optional(),
      ...Object.fromEntries(plugins.map((p) => [p.cloud, p.schema.optional()])),
    })
    .strict();
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
