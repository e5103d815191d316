import path from "node:path";
import { describe, expect, inject, it } from "vitest";
import { minify, statementsOf } from "../../provider/grants/aws/trustPolicy";
import {
  astroClient,
  seedDeployment,
  storedDeployment,
  storedEnvironmentObject,
  storedEnvironmentObjects,
  updateRequestFrom,
} from "../support/astro";
import { createRole, iamClient, setTrustPolicy, trustPolicyOf, uniqueName } from "../support/aws";
import { FOREIGN_COUNT, foreignPolicy } from "../support/fixtures";
import { programStack, repoRoot } from "../support/pulumiProgram";
import { astroEnv, motoEnv } from "../../scripts/toolchain.mjs";

describe("a connection in Astro's Environment Manager, with the real pulumi CLI", () => {
  it("up records the object's id; drift of the object is shown and repaired; destroy deletes it", async () => {
    const astro = inject("endpoints").astro;
    const iam = iamClient(inject("endpoints").moto.url);
    const roleName = uniqueName("astro-lake");
    const roleArn = await createRole(iam, roleName, foreignPolicy());
    const deployment = await seedDeployment(astro.fakeUrl, { cloudProvider: "AWS" });
    const stack = await programStack({
      program: path.join(repoRoot, "tests/e2e/programs/astroConnection.js"),
      stackName: "astro",
      config: {
        "astroe2e:workloadIdentity": { value: "arn:aws:iam::111122223333:role/astro-e2e" },
        "astroe2e:targetRole": { value: roleArn },
        "astroe2e:organizationId": { value: deployment.organizationId },
        "astroe2e:deploymentId": { value: deployment.id },
        "deployment-authorization:astroToken": { value: astro.token, secret: true },
      },
      env: { ...motoEnv(inject("endpoints").moto.url), ...astroEnv(astro.url), ASTRO_API_TOKEN: "" } as Record<
        string,
        string
      >,
    });
    try {
      const up = await stack.stack.up();
      const url = up.outputs.connection!.value.url as string;
      const objectId = url.split("/").at(-1)!;
      expect(url).toBe(`${astro.url}/organizations/${deployment.organizationId}/environment-objects/${objectId}`);
      expect(await storedEnvironmentObject(astro.fakeUrl, objectId)).toMatchObject({
        objectKey: "aws_lake",
        objectType: "CONNECTION",
        scope: "DEPLOYMENT",
        scopeEntityId: deployment.id,
        connection: { type: "aws", extra: { role_arn: roleArn, region_name: "us-east-1" } },
      });
      expect(statementsOf(await trustPolicyOf(iam, roleName))).toHaveLength(FOREIGN_COUNT + 1);
      expect((await stack.stack.preview({ diff: true })).changeSummary).toEqual({ same: 3 });

      await astroClient(astro.url).updateEnvironmentObject(deployment.organizationId, objectId, {
        connection: { type: "aws", extra: { role_arn: roleArn, region_name: "eu-north-1" } },
      });
      const preview = await stack.stack.preview({ diff: true, refresh: true });
      expect(preview.changeSummary.update).toBe(1);
      expect(preview.stdout).toMatch(/region_name.*eu-north-1.*us-east-1/s);
      await stack.stack.up({ refresh: true });
      expect((await storedEnvironmentObject(astro.fakeUrl, objectId)).connection?.extra).toEqual({
        role_arn: roleArn,
        region_name: "us-east-1",
      });

      await stack.stack.destroy();
      expect(await storedEnvironmentObjects(astro.fakeUrl, deployment.id)).toEqual([]);
      expect(minify(await trustPolicyOf(iam, roleName))).toBe(minify(foreignPolicy()));
      expect(stack.stateText()).not.toContain(astro.token);
    } finally {
      await stack.dispose();
    }
  });

  it("names only the organization and Deployment: the exact-namespace trust is in the preview, applied and removed in one pass", async () => {
    const astro = inject("endpoints").astro;
    const iam = iamClient(inject("endpoints").moto.url);
    const roleName = uniqueName("astro-cmi");
    const roleArn = await createRole(iam, roleName, foreignPolicy());
    const issuer = `https://oidc.eks.us-west-2.amazonaws.com/id/${uniqueName("E2E").replace("-", "").toUpperCase()}`;
    const deployment = await seedDeployment(astro.fakeUrl, {
      cloudProvider: "AWS",
      namespace: uniqueName("galaxy"),
      oidcIssuerUrl: issuer,
    });
    const stackFor = (deploymentId: string) =>
      programStack({
        program: path.join(repoRoot, "tests/e2e/programs/astroDeployment.js"),
        stackName: "astro-deployment",
        config: {
          "astroe2e:targetRole": { value: roleArn },
          "astroe2e:organizationId": { value: deployment.organizationId },
          "astroe2e:deploymentId": { value: deploymentId },
          "deployment-authorization:astroToken": { value: astro.token, secret: true },
        },
        env: { ...motoEnv(inject("endpoints").moto.url), ...astroEnv(astro.url), ASTRO_API_TOKEN: "" } as Record<
          string,
          string
        >,
      });
    const stack = await stackFor(deployment.id);
    const ns = deployment.namespace;
    try {
      const preview = await stack.stack.preview({ diff: true });
      expect(preview.stdout).toContain(`system:serviceaccount:${ns}:${ns}-worker-serviceaccount`);
      expect(preview.stdout).not.toContain(`system:serviceaccount:${ns}:*`);

      const up = await stack.stack.up();
      expect(up.outputs.deployment!.value).toMatchObject({
        namespace: ns,
        oidcIssuerUrl: issuer,
        cloudProvider: "AWS",
      });
      const policy = await trustPolicyOf(iam, roleName);
      const ours = statementsOf(policy).at(-1)!;
      const host = issuer.replace("https://", "");
      expect((ours.Condition as Record<string, Record<string, unknown>>).StringEquals![`${host}:sub`]).toEqual(
        ["scheduler", "worker", "triggerer", "dag-processor"]
          .map((c) => `system:serviceaccount:${ns}:${ns}-${c}-serviceaccount`)
          .concat(`system:serviceaccount:${ns}:${ns}-kpo`),
      );
      const [object] = await storedEnvironmentObjects(astro.fakeUrl, deployment.id);
      expect(object).toMatchObject({ objectKey: "aws_lake", scope: "DEPLOYMENT", scopeEntityId: deployment.id });
      expect((await stack.stack.preview({ diff: true })).changeSummary).toEqual({ same: 3 });

      await stack.stack.destroy();
      expect(minify(await trustPolicyOf(iam, roleName))).toBe(minify(foreignPolicy()));
      expect(await storedEnvironmentObjects(astro.fakeUrl, deployment.id)).toEqual([]);
    } finally {
      await stack.dispose();
    }

    // A Deployment on another cloud than the one granted in is refused while the program runs.
    const onGcp = await seedDeployment(astro.fakeUrl, {
      cloudProvider: "GCP",
      organizationId: deployment.organizationId,
    });
    const wrong = await stackFor(onGcp.id);
    try {
      const failure = await wrong.stack.preview().then(
        () => undefined,
        (e: Error) => e,
      );
      expect(failure?.message).toMatch(/runs on GCP, but this authorization grants in aws/);
    } finally {
      await wrong.dispose();
    }
  });

  it("a customer-managed identity and secrets backend on the Deployment: set, drift in each of the four parts repaired, destroy leaves the identity", async () => {
    const astro = inject("endpoints").astro;
    const iam = iamClient(inject("endpoints").moto.url);
    const roleName = uniqueName("astro-own");
    const roleArn = await createRole(iam, roleName, foreignPolicy());
    const deployment = await seedDeployment(astro.fakeUrl, {
      cloudProvider: "AWS",
      namespace: uniqueName("nebula"),
      oidcIssuerUrl: `https://oidc.eks.us-east-1.amazonaws.com/id/${uniqueName("CMI").replace("-", "").toUpperCase()}`,
      environmentVariables: [
        { key: "PLAIN", value: "kept" },
        { key: "DB_PASSWORD", value: "s3cret", isSecret: true },
      ],
    });
    const client = astroClient(astro.url);
    const stack = await programStack({
      program: path.join(repoRoot, "tests/e2e/programs/astroCustomerManagedIdentity.js"),
      stackName: "astro-cmi",
      config: {
        "astroe2e:targetRole": { value: roleArn },
        "astroe2e:organizationId": { value: deployment.organizationId },
        "astroe2e:deploymentId": { value: deployment.id },
        "deployment-authorization:astroToken": { value: astro.token, secret: true },
      },
      env: { ...motoEnv(inject("endpoints").moto.url), ...astroEnv(astro.url), ASTRO_API_TOKEN: "" } as Record<
        string,
        string
      >,
    });
    const variables = async () =>
      Object.fromEntries(
        (await storedDeployment(astro.fakeUrl, deployment.id)).environmentVariables.map((v) => [v.key, v.value]),
      );
    const kwargs = {
      connections_prefix: "airflow/connections",
      region_name: "us-east-1",
      variables_prefix: "airflow/variables",
    };
    try {
      const preview = await stack.stack.preview({ diff: true });
      expect(preview.stdout).toContain(roleArn);
      expect(preview.stdout).toContain("SecretsManagerBackend");

      await stack.stack.up();
      expect((await storedDeployment(astro.fakeUrl, deployment.id)).workloadIdentity).toBe(roleArn);
      expect((await client.getDeployment(deployment.organizationId, deployment.id)).effectiveWorkloadIdentity).toBe(
        roleArn,
      );
      expect(await variables()).toEqual({
        PLAIN: "kept",
        DB_PASSWORD: "s3cret",
        AIRFLOW__SECRETS__BACKEND: "airflow.providers.amazon.aws.secrets.secrets_manager.SecretsManagerBackend",
        AIRFLOW__SECRETS__BACKEND_KWARGS: JSON.stringify(kwargs),
      });
      expect(statementsOf(await trustPolicyOf(iam, roleName))).toHaveLength(FOREIGN_COUNT + 1);
      const [object] = await storedEnvironmentObjects(astro.fakeUrl, deployment.id);
      expect(object?.connection?.extra).toEqual({ region_name: "us-east-1" });
      expect((await stack.stack.preview({ diff: true })).changeSummary).toEqual({ same: 3 });

      // Drift in all four parts at once: the trust statement, the connection, the identity, the backend.
      await setTrustPolicy(iam, roleName, foreignPolicy());
      await client.updateEnvironmentObject(deployment.organizationId, object!.id, {
        connection: { type: "aws", extra: { region_name: "eu-north-1" } },
      });
      const read = await client.getDeployment(deployment.organizationId, deployment.id);
      const request = updateRequestFrom(read);
      const otherRole = "arn:aws:iam::123456789012:role/someone-else";
      await client.updateDeployment(deployment.organizationId, deployment.id, {
        ...request,
        workloadIdentity: otherRole,
        environmentVariables: request.environmentVariables.map((v) =>
          v.key === "AIRFLOW__SECRETS__BACKEND_KWARGS" ? { ...v, value: '{"connections_prefix":"by-hand"}' } : v,
        ),
      });
      // As someone in the UI would, wait until the Deployment shows the identity they set.
      for (let i = 0; i < 10; i++) {
        if (
          (await client.getDeployment(deployment.organizationId, deployment.id)).effectiveWorkloadIdentity === otherRole
        )
          break;
      }
      const drifted = await stack.stack.preview({ diff: true, refresh: true });
      expect(drifted.changeSummary.update).toBe(1);
      expect(drifted.stdout).toMatch(/eu-north-1/);
      expect(drifted.stdout).toMatch(/by-hand/);
      expect(drifted.stdout).toMatch(/someone-else/);
      await stack.stack.up({ refresh: true });
      expect((await storedDeployment(astro.fakeUrl, deployment.id)).workloadIdentity).toBe(roleArn);
      expect((await variables()).AIRFLOW__SECRETS__BACKEND_KWARGS).toBe(JSON.stringify(kwargs));
      expect((await storedEnvironmentObject(astro.fakeUrl, object!.id)).connection?.extra).toEqual({
        region_name: "us-east-1",
      });
      expect(statementsOf(await trustPolicyOf(iam, roleName))).toHaveLength(FOREIGN_COUNT + 1);
      expect((await stack.stack.preview({ diff: true, refresh: true })).changeSummary).toEqual({ same: 3 });

      await stack.stack.destroy();
      expect(minify(await trustPolicyOf(iam, roleName))).toBe(minify(foreignPolicy()));
      expect(await storedEnvironmentObjects(astro.fakeUrl, deployment.id)).toEqual([]);
      expect(await variables()).toEqual({ PLAIN: "kept", DB_PASSWORD: "s3cret" });
      // Left in place: restoring it was not asked for.
      expect((await storedDeployment(astro.fakeUrl, deployment.id)).workloadIdentity).toBe(roleArn);
      expect(stack.stateText()).not.toContain(astro.token);
    } finally {
      await stack.dispose();
    }
  });
});
