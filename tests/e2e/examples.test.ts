import path from "node:path";
import { describe, expect, inject, it } from "vitest";
import { AirflowConnectionsDriver } from "../../provider/connections/airflow";
import { airflowTarget } from "../support/airflow";
import { createRole, iamClient, trustPolicyOf, uniqueName } from "../support/aws";
import { createIdentity, storageAccountScope, storedCredentials, storedRoleAssignments } from "../support/azure";
import { AKS_ISSUER, foreignPolicy } from "../support/fixtures";
import { createProject, storedPolicy } from "../support/gcp";
import { programStack, repoRoot } from "../support/pulumiProgram";
import { azureEnv, gcpEnv, motoEnv } from "../../scripts/toolchain.mjs";

// The examples as a user runs them: the compiled program (dist/examples/<name>), its stack config
// set as its README says, bearer token auth against the sandbox's Airflow 3, up and destroy.

/** A bearer token from the sandbox's Airflow 3 (what an Astro API token is to an Astro Deployment). */
async function airflowToken(): Promise<string> {
  const server = inject("endpoints").airflow3;
  const response = await fetch(`${server.url}/auth/token`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username: server.username, password: server.password }),
  });
  expect(response.status).toBeLessThan(300);
  return ((await response.json()) as { access_token: string }).access_token;
}

async function exampleStack(example: string, settings: Record<string, string>, env: Record<string, string>) {
  // programStack names the project deployment-authorization-demo: the example's own config keys live there.
  const config: Record<string, { value: string; secret?: boolean }> = {
    "deployment-authorization:airflowToken": { value: await airflowToken(), secret: true },
    "deployment-authorization-demo:airflowUrl": { value: inject("endpoints").airflow3.url },
  };
  for (const [key, value] of Object.entries(settings)) config[key] = { value };
  return programStack({
    program: path.join(repoRoot, "dist", "examples", example, "index.js"),
    stackName: example,
    config,
    env,
  });
}

const connections = new AirflowConnectionsDriver();

// The three run side by side: each has its own stack, target and connection id.
describe.concurrent("the examples, run against the sandbox", () => {
  it("aws-default-identity: up writes the trust entry and the connection, destroy leaves the role as it was", async () => {
    const endpoints = inject("endpoints");
    const iam = iamClient(endpoints.moto.url);
    const roleName = uniqueName("example-reader");
    const roleArn = await createRole(iam, roleName, foreignPolicy());
    const before = await trustPolicyOf(iam, roleName);
    const identity = "arn:aws:iam::111122223333:role/astro-example-aws";
    const awsConnection = uniqueName("aws_example").replace(/-/g, "_");
    const stack = await exampleStack(
      "aws-default-identity",
      {
        "deployment-authorization-demo:workloadIdentity": identity,
        "deployment-authorization-demo:targetRoleArn": roleArn,
        "deployment-authorization-demo:connectionId": awsConnection,
      },
      motoEnv(endpoints.moto.url) as Record<string, string>,
    );
    try {
      const up = await stack.stack.up();
      expect(up.outputs.trustStatement!.value).toMatchObject({ Principal: { AWS: identity } });
      expect(await connections.read(airflowTarget(), awsConnection)).toMatchObject({
        conn_type: "aws",
        extra: { role_arn: roleArn, region_name: "us-east-1" },
      });
      await stack.stack.destroy();
      expect(await trustPolicyOf(iam, roleName)).toEqual(before);
      expect(await connections.read(airflowTarget(), awsConnection)).toBeUndefined();
    } finally {
      await stack.dispose();
    }
  });

  it("gcp-project-role: up adds the member to the project's binding and writes the connection, destroy takes both away", async () => {
    const gcp = inject("endpoints").gcp;
    const { projectId } = await createProject(gcp.fakeUrl);
    const identity = "astro-example-gcp@astronomer-prod.iam.gserviceaccount.com";
    const gcpConnection = uniqueName("gcp_example").replace(/-/g, "_");
    const stack = await exampleStack(
      "gcp-project-role",
      {
        "deployment-authorization-demo:workloadIdentity": identity,
        "deployment-authorization-demo:project": projectId,
        "deployment-authorization-demo:connectionId": gcpConnection,
      },
      gcpEnv(gcp.url) as Record<string, string>,
    );
    try {
      const up = await stack.stack.up();
      expect(up.outputs.binding!.value).toEqual({
        role: "roles/bigquery.dataViewer",
        members: [`serviceAccount:${identity}`],
      });
      expect(await connections.read(airflowTarget(), gcpConnection)).toMatchObject({
        conn_type: "google_cloud_platform",
        extra: { project: projectId },
      });
      await stack.stack.destroy();
      const bindings = (await storedPolicy(gcp.fakeUrl, { project: projectId })).bindings ?? [];
      expect(bindings.flatMap((b) => b.members ?? [])).not.toContain(`serviceAccount:${identity}`);
      expect(await connections.read(airflowTarget(), gcpConnection)).toBeUndefined();
    } finally {
      await stack.dispose();
    }
  });

  it("azure-managed-identity: up federates the service accounts, assigns the role and writes the connection, destroy takes them away", async () => {
    const azure = inject("endpoints").azure;
    const identity = await createIdentity(azure.fakeUrl);
    const scope = storageAccountScope(identity.subscriptionId, identity.resourceGroup, "lake");
    const azureConnection = uniqueName("azure_example").replace(/-/g, "_");
    const stack = await exampleStack(
      "azure-managed-identity",
      {
        "deployment-authorization-demo:identity": identity.id,
        "deployment-authorization-demo:issuerUrl": AKS_ISSUER,
        "deployment-authorization-demo:namespace": "example-azure",
        "deployment-authorization-demo:scope": scope,
        "deployment-authorization-demo:connectionId": azureConnection,
      },
      azureEnv(azure.url, azure.caFile) as Record<string, string>,
    );
    try {
      const up = await stack.stack.up();
      expect(up.outputs.clientId!.value).toBe(identity.properties.clientId);
      expect((await storedCredentials(azure.fakeUrl, identity.id)).map((c) => c.properties.subject).sort()).toEqual(
        ["dag-processor", "scheduler", "triggerer", "worker"].map(
          (component) => `system:serviceaccount:example-azure:example-azure-${component}-serviceaccount`,
        ),
      );
      expect(await storedRoleAssignments(azure.fakeUrl, scope)).toHaveLength(1);
      expect(await connections.read(airflowTarget(), azureConnection)).toMatchObject({
        conn_type: "azure",
        extra: { managed_identity_client_id: identity.properties.clientId },
      });
      await stack.stack.destroy();
      expect(await storedCredentials(azure.fakeUrl, identity.id)).toEqual([]);
      expect(await storedRoleAssignments(azure.fakeUrl, scope)).toEqual([]);
      expect(await connections.read(airflowTarget(), azureConnection)).toBeUndefined();
    } finally {
      await stack.dispose();
    }
  });
});
