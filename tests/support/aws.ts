import {
  CreateRoleCommand,
  GetRoleCommand,
  IAMClient,
  type IAMClientConfig,
  UpdateAssumeRolePolicyCommand,
} from "@aws-sdk/client-iam";
import { randomBytes } from "node:crypto";
import { TrustPolicy, minify, parsePolicyDocument } from "../../provider/grants/aws/trustPolicy";

/** An IAM client of one try against a local IAM (moto, or a test server); `options` adds to it. */
export function iamClient(url: string, options: IAMClientConfig = {}): IAMClient {
  return new IAMClient({
    endpoint: url,
    region: "us-east-1",
    credentials: { accessKeyId: "testing", secretAccessKey: "testing" },
    maxAttempts: 1,
    ...options,
  });
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString("hex")}`;
}

export async function createRole(client: IAMClient, name: string, policy: TrustPolicy): Promise<string> {
  const created = await client.send(
    new CreateRoleCommand({ RoleName: name, AssumeRolePolicyDocument: minify(policy) }),
  );
  return created.Role!.Arn!;
}

export async function trustPolicyOf(client: IAMClient, name: string): Promise<TrustPolicy> {
  const role = await client.send(new GetRoleCommand({ RoleName: name }));
  return parsePolicyDocument(role.Role!.AssumeRolePolicyDocument!);
}

export async function setTrustPolicy(client: IAMClient, name: string, policy: TrustPolicy): Promise<void> {
  await client.send(new UpdateAssumeRolePolicyCommand({ RoleName: name, PolicyDocument: minify(policy) }));
}
