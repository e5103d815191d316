// Runs the portal: `node dist/examples/portal/main.js`, configured by the environment (README.md).
import { readFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { buildPortal } from "./app";
import { proxyIdentity } from "./identity";
import { PortalStore } from "./store";

const list = z
  .string()
  .optional()
  .transform((v) =>
    (v ?? "")
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean),
  );

/** The portal's settings, from the environment. */
const Settings = z
  .object({
    PORTAL_BACKEND_URL: z
      .string({ error: "required: the stacks' backend, such as s3://pulumi-state?region=eu-west-1" })
      .min(1),
    PORTAL_DATABASE_URL: z
      .string()
      .regex(/^postgres(ql)?:\/\//, "a Postgres URL such as postgres://portal@db.internal:5432/portal")
      .optional(),
    PORTAL_DATA_DIR: z.string().default("portal-data"),
    PORTAL_IDENTITY_HEADER: z.string().default("x-pomerium-jwt-assertion"),
    PORTAL_JWKS_URL: z
      .url("the proxy's JWKS URL, such as https://authenticate.example.com/.well-known/pomerium/jwks.json")
      .optional(),
    PORTAL_JWKS_FILE: z.string().optional(),
    PORTAL_ISSUER: z.string({ error: "required: the iss the proxy writes in its assertions" }).min(1),
    PORTAL_AUDIENCE: z.string({ error: "required: the aud that names this portal in the proxy" }).min(1),
    PORTAL_IDENTITY_CLAIM: z.string().default("email"),
    PORTAL_GROUPS_CLAIM: z.string().default("groups"),
    PORTAL_REQUESTERS: list,
    PORTAL_REQUESTER_GROUPS: list,
    PORTAL_APPROVERS: list,
    PORTAL_APPROVER_GROUPS: list,
    PORTAL_DEFAULT_REGION: z.string().default(process.env.AWS_REGION ?? "us-east-1"),
    PULUMI_ROOT: z.string().optional(),
    PULUMI_CONFIG_PASSPHRASE: z.string().default(""),
    ASTRO_API_TOKEN: z.string().default(""),
    ASTRO_API_URL: z.url().optional(),
    PORT: z.coerce.number().int().default(8080),
    HOST: z.string().default("127.0.0.1"),
  })
  .refine((s) => Boolean(s.PORTAL_JWKS_URL) !== Boolean(s.PORTAL_JWKS_FILE), {
    message: "set one of PORTAL_JWKS_URL (the proxy's published keys) or PORTAL_JWKS_FILE",
    path: ["PORTAL_JWKS_URL"],
  });

const parsed = Settings.safeParse(process.env);
if (!parsed.success) {
  for (const issue of parsed.error.issues) console.error(`${issue.path.join(".")}: ${issue.message}`);
  process.exit(2);
}
const settings = parsed.data;

async function main() {
  const store = await PortalStore.open(
    settings.PORTAL_DATABASE_URL
      ? { url: settings.PORTAL_DATABASE_URL }
      : { directory: path.resolve(settings.PORTAL_DATA_DIR) },
  );
  const portal = buildPortal({
    logger: true,
    store,
    defaultRegion: settings.PORTAL_DEFAULT_REGION,
    identity: proxyIdentity({
      header: settings.PORTAL_IDENTITY_HEADER,
      keys: settings.PORTAL_JWKS_URL
        ? { jwksUrl: settings.PORTAL_JWKS_URL }
        : { jwks: JSON.parse(readFileSync(settings.PORTAL_JWKS_FILE!, "utf8")) },
      issuer: settings.PORTAL_ISSUER,
      audience: settings.PORTAL_AUDIENCE,
      identityClaim: settings.PORTAL_IDENTITY_CLAIM,
      groupsClaim: settings.PORTAL_GROUPS_CLAIM,
      requesters: { ids: settings.PORTAL_REQUESTERS, groups: settings.PORTAL_REQUESTER_GROUPS },
      approvers: { ids: settings.PORTAL_APPROVERS, groups: settings.PORTAL_APPROVER_GROUPS },
    }),
    stackFor: (team) => ({
      stackName: team,
      projectName: "access-portal",
      backendUrl: settings.PORTAL_BACKEND_URL,
      ...(settings.PULUMI_ROOT ? { pulumiRoot: settings.PULUMI_ROOT } : {}),
      config: {
        "deployment-authorization:astroToken": { value: settings.ASTRO_API_TOKEN, secret: true },
        ...(settings.ASTRO_API_URL
          ? { "deployment-authorization:astroApiUrl": { value: settings.ASTRO_API_URL } }
          : {}),
      },
      env: { PULUMI_CONFIG_PASSPHRASE: settings.PULUMI_CONFIG_PASSPHRASE },
    }),
  });
  // A deploy stops the old replica: finish the requests under way, then let the database go.
  const stop = () => {
    portal
      .close()
      .then(() => store.close())
      .finally(() => process.exit(0));
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
  await portal.listen({ port: settings.PORT, host: settings.HOST });
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
