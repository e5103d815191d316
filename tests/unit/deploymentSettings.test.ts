import { beforeEach, describe, expect, it } from "vitest";
import { DeploymentRecord, updateDeploymentBody } from "../../provider/astro/deploymentSettingsDriver";
import { airflowSink } from "../../provider/connections/airflow";
import { SECRETS_BACKEND_KEYS } from "../../provider/astro/deploymentSettingsPlan";
import { RemoteError } from "../../provider/core/errors";
import { AuthorizationLifecycle } from "../../provider/core/lifecycle";
import type { PlannedAuthorization } from "../../provider/core/types";
import { GRANT_PLUGINS } from "../../provider/inputs";
import { awsGrantDriver } from "../../provider/grants/aws";
import { parseInputs } from "../../provider/inputs";
import {
  FOREIGN_COUNT,
  TARGET_ROLE_ARN,
  azureInputs,
  foreignPolicy,
  gcpInputs,
  planned,
  plannedFor,
  rawInputs,
  plannedGcp,
  trustInputs,
} from "../support/fixtures";
import { MemoryConnections, MemoryDeploymentSettings, MemoryTrust } from "../support/memoryDrivers";

const ORG = "clmh597sg000208lb2kjhcn8q";
const DEPLOYMENT = "clmh5a1b2000308lb3xyz9k7p";
const DEFAULT_IDENTITY = "arn:aws:iam::999988887777:role/astro-galaxy-1234";
const ISSUER = "https://oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B71";

/** AWS inputs with a webIdentity trust, naming the Deployment and what of it to own. */
function awsInputs(deployment: Record<string, unknown>, trust: Record<string, unknown> = {}) {
  return {
    ...trustInputs(TARGET_ROLE_ARN, { kind: "webIdentity", issuerUrl: ISSUER, namespace: "galaxy-1234", ...trust }),
    deployment: { organizationId: ORG, deploymentId: DEPLOYMENT, cloudProvider: "AWS", ...deployment },
  };
}

const failures = (raw: unknown) => {
  const parsed = parseInputs(raw);
  return parsed.ok ? [] : parsed.failures.map((f) => `${f.property}: ${f.reason}`);
};

describe("UpdateDeployment body (a full replace built from GetDeployment)", () => {
  const read: DeploymentRecord = {
    id: DEPLOYMENT,
    name: "analytics",
    description: "prod",
    workspaceId: "clmh5ws00000108lb0000aaaa",
    type: "STANDARD",
    executor: "CELERY",
    effectiveWorkloadIdentity: DEFAULT_IDENTITY,
    isCicdEnforced: true,
    isDagDeployEnabled: true,
    isHighAvailability: false,
    isDevelopmentMode: true,
    schedulerSize: "MEDIUM",
    defaultTaskPodCpu: "0.5",
    defaultTaskPodMemory: "1Gi",
    resourceQuotaCpu: "20",
    resourceQuotaMemory: "40Gi",
    contactEmails: ["data@example.com"],
    environmentVariables: [
      { key: "PLAIN", value: "1", isSecret: false },
      { key: "DB_PASSWORD", isSecret: true },
      { key: "AIRFLOW__SECRETS__BACKEND", value: "old.Backend", isSecret: false },
    ],
    workerQueues: [
      {
        id: "q1",
        name: "default",
        isDefault: true,
        astroMachine: "A10",
        minWorkerCount: 1,
        maxWorkerCount: 4,
        workerConcurrency: 8,
      },
    ],
    scalingSpec: {
      hibernationSpec: {
        override: { isHibernating: true, overrideUntil: "2030-01-01T00:00:00Z" },
        schedules: [{ hibernateAtCron: "0 20 * * *", wakeAtCron: "0 6 * * *", isEnabled: true }],
      },
    },
  };

  it("sends every setting back as read, secrets without a value, and no identity it was not asked to set", () => {
    const body = updateDeploymentBody(read);
    expect(body).toMatchObject({
      name: "analytics",
      description: "prod",
      type: "STANDARD",
      schedulerSize: "MEDIUM",
      isCicdEnforced: true,
      isDevelopmentMode: true,
      contactEmails: ["data@example.com"],
      workerQueues: [expect.objectContaining({ id: "q1", astroMachine: "A10", workerConcurrency: 8 })],
      scalingSpec: { hibernationSpec: { override: { isHibernating: true, overrideUntil: "2030-01-01T00:00:00Z" } } },
    });
    expect(body.environmentVariables).toEqual([
      { key: "PLAIN", isSecret: false, value: "1" },
      { key: "DB_PASSWORD", isSecret: true },
      { key: "AIRFLOW__SECRETS__BACKEND", isSecret: false, value: "old.Backend" },
    ]);
    // Echoing the effective identity would pin Astro's default as if someone had chosen it.
    expect(body).not.toHaveProperty("workloadIdentity");
    expect(JSON.stringify(body)).not.toContain(DEFAULT_IDENTITY);
  });

  it("changes only the variables and identity given", () => {
    const body = updateDeploymentBody(read, {
      workloadIdentity: TARGET_ROLE_ARN,
      set: { AIRFLOW__SECRETS__BACKEND_KWARGS: "{}" },
      drop: ["AIRFLOW__SECRETS__BACKEND"],
    });
    expect(body.workloadIdentity).toBe(TARGET_ROLE_ARN);
    expect(body.environmentVariables).toEqual([
      { key: "PLAIN", isSecret: false, value: "1" },
      { key: "DB_PASSWORD", isSecret: true },
      { key: "AIRFLOW__SECRETS__BACKEND_KWARGS", isSecret: false, value: "{}" },
    ]);
  });

  it("builds a Hybrid Deployment's body with its scheduler", () => {
    const hybrid = updateDeploymentBody({ ...read, type: "HYBRID", schedulerAu: 7, schedulerReplicas: 2 });
    expect(hybrid).toMatchObject({ type: "HYBRID", scheduler: { au: 7, replicas: 2 } });
    expect(hybrid).not.toHaveProperty("schedulerSize");
  });
});

describe("checking and planning the Deployment's own settings", () => {
  it("AWS: the webIdentity role becomes the identity; the backend reaches Secrets Manager in the region", () => {
    const plan = planned(awsInputs({ customerManagedIdentity: true, secretsBackend: true }));
    expect(plan.deploymentSettings).toEqual({
      organizationId: ORG,
      deploymentId: DEPLOYMENT,
      workloadIdentity: { identity: TARGET_ROLE_ARN, restoreOnDelete: false },
      secretsBackend: {
        backend: "airflow.providers.amazon.aws.secrets.secrets_manager.SecretsManagerBackend",
        kwargs: {
          connections_prefix: "airflow/connections",
          region_name: "us-east-1",
          variables_prefix: "airflow/variables",
        },
      },
    });
  });

  it("GCP: the guide's Secret Manager kwargs, with the project and the impersonation chain", () => {
    const sa = "lake-reader@customer-data.iam.gserviceaccount.com";
    const plan = plannedGcp(
      gcpInputs(
        {
          grant: {
            kind: "customerManagedIdentity",
            serviceAccount: sa,
            namespace: "galaxy-1234",
            workloadIdentityPool: "astronomer-prod.svc.id.goog",
          },
        },
        {
          workloadIdentity: undefined,
          deployment: {
            organizationId: ORG,
            deploymentId: DEPLOYMENT,
            cloudProvider: "GCP",
            customerManagedIdentity: { restoreOnDelete: true },
            secretsBackend: { kwargs: { project_id: "secrets-project" } },
          },
        },
      ),
    );
    expect(plan.deploymentSettings).toEqual({
      organizationId: ORG,
      deploymentId: DEPLOYMENT,
      workloadIdentity: { identity: sa, restoreOnDelete: true },
      secretsBackend: {
        backend: "airflow.providers.google.cloud.secrets.secret_manager.CloudSecretManagerBackend",
        kwargs: {
          connections_prefix: "airflow-connections",
          impersonation_chain: sa,
          project_id: "secrets-project",
          variables_prefix: "airflow-variables",
        },
      },
    });
  });

  it("refuses what the grant cannot be, with the reason, at the property's path", () => {
    expect(planned(rawInputs()).deploymentSettings).toBeUndefined();
    expect(
      failures({
        ...trustInputs(TARGET_ROLE_ARN, {
          kind: "clusterRole",
          clusterRoleArn: "arn:aws:iam::111122223333:role/AirflowS3Logs-c1",
        }),
        deployment: { organizationId: ORG, deploymentId: DEPLOYMENT, customerManagedIdentity: true },
      }),
    ).toEqual([expect.stringMatching(/^deployment.customerManagedIdentity: needs aws.trust.kind webIdentity/)]);
    expect(
      failures(
        azureInputs(
          {},
          {
            deployment: {
              organizationId: ORG,
              deploymentId: DEPLOYMENT,
              customerManagedIdentity: true,
              secretsBackend: true,
            },
          },
        ),
      ),
    ).toEqual([
      expect.stringMatching(/^deployment.customerManagedIdentity: cannot be set on Azure: Astro's API refuses/),
      expect.stringMatching(/^deployment.secretsBackend: is offered for AWS .* and GCP/),
    ]);
    expect(
      failures(
        awsInputs({ secretsBackend: { kwargs: { role_arn: "arn:aws:iam::1:role/x", aws_secret_access_key: "k" } } }),
      ),
    ).toEqual([
      expect.stringMatching(/^deployment.secretsBackend.kwargs.role_arn: is set by the resource itself/),
      expect.stringMatching(/^deployment.secretsBackend.kwargs.aws_secret_access_key: looks like a secret/),
    ]);
    expect(failures(awsInputs({ secretsBackend: { backend: "not a class" } }))).toEqual([
      expect.stringMatching(/^deployment.secretsBackend.backend: must be a dotted Python class path/),
    ]);
  });
});

describe("the lifecycle with the Deployment's settings", () => {
  let trust: MemoryTrust;
  let connections: MemoryConnections;
  let settings: MemoryDeploymentSettings;
  let lifecycle: AuthorizationLifecycle;

  beforeEach(() => {
    trust = new MemoryTrust();
    trust.addRole("data-reader", foreignPolicy());
    connections = new MemoryConnections();
    settings = new MemoryDeploymentSettings();
    settings.addDeployment(DEPLOYMENT, DEFAULT_IDENTITY, { OTHER: "kept" });
    lifecycle = new AuthorizationLifecycle(
      new Map(GRANT_PLUGINS.map((p) => [p.cloud, p])),
      {
        grants: { aws: awsGrantDriver(trust) },
        connections: { airflow: airflowSink(connections) },
        deploymentSettings: settings,
      },
      { astroToken: "astro-token" },
    );
  });

  const vars = () => Object.fromEntries(settings.deployments.get(DEPLOYMENT)!.vars);

  it("sets the identity and backend with the grant, records the identity before, and leaves it on delete", async () => {
    const plan = plannedFor(awsInputs({ customerManagedIdentity: true, secretsBackend: true }));
    const { id, outs } = await lifecycle.create(plan);
    expect(settings.effective(DEPLOYMENT)).toBe(TARGET_ROLE_ARN);
    expect(outs.resolved.previousWorkloadIdentity).toBe(DEFAULT_IDENTITY);
    expect(JSON.parse(vars().AIRFLOW__SECRETS__BACKEND_KWARGS!)).toEqual({
      connections_prefix: "airflow/connections",
      region_name: "us-east-1",
      variables_prefix: "airflow/variables",
    });

    const { props } = await lifecycle.read(id, outs);
    expect(props.deploymentSettings).toEqual(plan.deploymentSettings);

    await lifecycle.delete(id, outs);
    expect(settings.effective(DEPLOYMENT)).toBe(TARGET_ROLE_ARN);
    expect(vars()).toEqual({ OTHER: "kept" });
  });

  it("restores the identity shown before on delete when asked", async () => {
    const plan = plannedFor(awsInputs({ customerManagedIdentity: { restoreOnDelete: true } }));
    const { id, outs } = await lifecycle.create(plan);
    await lifecycle.delete(id, outs);
    expect(settings.effective(DEPLOYMENT)).toBe(DEFAULT_IDENTITY);
  });

  it("shows drift in the identity and the backend, and an update puts both back", async () => {
    const plan = plannedFor(awsInputs({ customerManagedIdentity: true, secretsBackend: true }));
    const { id, outs } = await lifecycle.create(plan);
    const d = settings.deployments.get(DEPLOYMENT)!;
    d.identity = "arn:aws:iam::123456789012:role/someone-else";
    d.vars.set("AIRFLOW__SECRETS__BACKEND_KWARGS", '{"connections_prefix":"hand-made"}');
    const { props } = await lifecycle.read(id, outs);
    expect(props.deploymentSettings?.workloadIdentity?.identity).toBe("arn:aws:iam::123456789012:role/someone-else");
    expect(props.deploymentSettings?.secretsBackend?.kwargs).toEqual({ connections_prefix: "hand-made" });

    const { outs: after } = await lifecycle.update(id, props, plan);
    expect(settings.effective(DEPLOYMENT)).toBe(TARGET_ROLE_ARN);
    expect(JSON.parse(vars().AIRFLOW__SECRETS__BACKEND_KWARGS!).connections_prefix).toBe("airflow/connections");
    // The identity before ours is still the one the first apply saw.
    expect(after.resolved.previousWorkloadIdentity).toBe(DEFAULT_IDENTITY);
  });

  it("dropping the backend from the program removes only its variables", async () => {
    const withBackend = plannedFor(awsInputs({ secretsBackend: true }));
    const { id, outs } = await lifecycle.create(withBackend);
    const { deployment: _d, ...without } = awsInputs({});
    await lifecycle.update(id, outs, plannedFor(without) as PlannedAuthorization);
    expect(vars()).toEqual({ OTHER: "kept" });
  });

  it("a backend variable someone else set is never overwritten", async () => {
    settings.deployments.get(DEPLOYMENT)!.vars.set("AIRFLOW__SECRETS__BACKEND", "their.Backend");
    await expect(lifecycle.create(plannedFor(awsInputs({ secretsBackend: true })))).rejects.toMatchObject({
      code: "CONFLICT",
    });
    expect(vars()).toEqual({ OTHER: "kept", AIRFLOW__SECRETS__BACKEND: "their.Backend" });
    expect(statementsOfRole()).toHaveLength(FOREIGN_COUNT);
  });

  it("a failed connection create takes back the identity, the variables and the grant", async () => {
    connections.failNextCreate = new RemoteError("POST /connections answered 500");
    const plan = plannedFor(awsInputs({ customerManagedIdentity: true, secretsBackend: true }));
    await expect(lifecycle.create(plan)).rejects.toThrow(/answered 500/);
    expect(settings.effective(DEPLOYMENT)).toBe(DEFAULT_IDENTITY);
    expect(vars()).toEqual({ OTHER: "kept" });
    expect(Object.keys(vars())).not.toContain(SECRETS_BACKEND_KEYS[0]);
    expect(statementsOfRole()).toHaveLength(FOREIGN_COUNT);
  });

  const statementsOfRole = () => trust.roles.get("data-reader")!.policy.Statement;
});
