/**
 * The provider plugin `pulumi-resource-deployment-authorization`: the entry point its launcher runs.
 * It serves `DeploymentAuthorization` to programs in every language (`construct`) and the resource
 * the component makes (CRUD through the dynamic provider's methods), and the package schema.
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { constructComponent } from "./component";
import { servedResource } from "./resource";
import { unwrapSecrets } from "./secrets";

const packageRoot = path.resolve(__dirname, "..", "..", "..");

/**
 * The provider settings (`deployment-authorization:*` stack config) arrive in `Configure`, which the
 * SDK's server answers without passing them on; the dynamic provider gets them from its own
 * `configure`. So the request is seen here first, then answered as before.
 */
function onConfigure(handle: (args: Record<string, unknown>) => Promise<void>): void {
  // The gRPC module the SDK's server is built on, wherever the package manager put it.
  const grpcPath = require.resolve("@grpc/grpc-js", { paths: [path.dirname(require.resolve("@pulumi/pulumi"))] });
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const grpc = require(grpcPath) as { Server: { prototype: { addService: AddService } } };
  const addService = grpc.Server.prototype.addService;
  grpc.Server.prototype.addService = function (this: unknown, service, implementation) {
    const original = implementation.configure;
    if (original) {
      implementation.configure = (call, callback) => {
        handle(call.request.getArgs()?.toJavaScript() ?? {}).then(
          () => original.call(implementation, call, callback),
          (error: unknown) => callback(error, null),
        );
      };
    }
    return addService.call(this, service, implementation);
  };
}

type UnaryHandler = (
  call: { request: { getArgs(): { toJavaScript(): Record<string, unknown> } | undefined } },
  callback: (error: unknown, response: unknown) => void,
) => void;
type AddService = (service: unknown, implementation: { configure?: UnaryHandler }) => void;

export function main(args: string[]): Promise<void> {
  const { version } = JSON.parse(readFileSync(path.join(packageRoot, "package.json"), "utf8")) as { version: string };
  // The provider (and the clouds' SDKs it loads on demand) is loaded by the first call that needs it.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const load = () => (require("../../provider/runtime") as typeof import("../../provider/runtime")).provider;
  onConfigure(async (config) => {
    const plain = unwrapSecrets(config) as Record<string, unknown>;
    await load().configure({
      config: {
        get: (key) => {
          const value = plain[key.slice(key.indexOf(":") + 1)];
          return value === undefined || value === null ? undefined : String(value);
        },
      },
    });
  });
  return pulumi.provider.main(
    {
      version,
      getSchema: async () => readFileSync(path.join(packageRoot, "schema.json"), "utf8"),
      construct: constructComponent,
      ...servedResource(load),
    },
    args,
  );
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`pulumi-resource-deployment-authorization: ${String(error)}\n`);
    process.exit(1);
  });
}
