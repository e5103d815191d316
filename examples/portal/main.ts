// Runs the portal: `node dist/examples/portal/main.js` with the backend and credentials in the environment.
import { buildPortal } from "./app";

const backendUrl = process.env.PORTAL_BACKEND_URL;
if (!backendUrl) throw new Error("set PORTAL_BACKEND_URL, e.g. s3://pulumi-state?region=eu-west-1");

const portal = buildPortal({
  logger: true,
  defaultRegion: process.env.AWS_REGION ?? "us-east-1",
  stackFor: (team) => ({
    stackName: team,
    projectName: "access-portal",
    backendUrl,
    config: {
      "deployment-authorization:astroToken": { value: process.env.ASTRO_API_TOKEN ?? "", secret: true },
      ...(process.env.ASTRO_API_URL
        ? { "deployment-authorization:astroApiUrl": { value: process.env.ASTRO_API_URL } }
        : {}),
    },
    env: { PULUMI_CONFIG_PASSPHRASE: process.env.PULUMI_CONFIG_PASSPHRASE ?? "" },
  }),
});

portal.listen({ port: Number(process.env.PORT ?? 8080), host: process.env.HOST ?? "127.0.0.1" }).catch((error) => {
  console.error(error);
  process.exit(1);
});
