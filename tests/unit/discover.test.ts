import { describe, expect, it } from "vitest";
import { parseInputs } from "../../provider/inputs";
import { parseDiscoverArgs } from "../../cli/main";
import type { TrustPolicy } from "../../provider/grants/aws/trustPolicy";
import {
  DeploymentRef,
  Discovery,
  FoundAuthorization,
  Inventory,
  LiveConnection,
  discover as discoverWith,
  loadDiscoverers,
} from "../../cli/discover/match";
import type { CloudDiscoverer } from "../../provider/core/discovery";
import { cloudModules } from "../../provider/grants";
import { renderProgram, renderReport } from "../../cli/discover/program";

const ROLE = "arn:aws:iam::123456789012:role/data-lake";
const A = "arn:aws:iam::111122223333:role/astro-a";
const AIRFLOW_A = "https://a.example.com";
const AIRFLOW_WEB = "https://web.example.com";
const AIRFLOW_G = "https://g.example.com";
const HOST = "oidc.eks.us-east-1.amazonaws.com/id/ABC";
const NS = "astronomer-web-1234";
const SA = "astro-g@astronomer-prod.iam.gserviceaccount.com";
const CUSTOMER_SA = "reader@my-data-project.iam.gserviceaccount.com";
const IDENTITY =
  "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/airflow-id";

/** What the targets of each cloud held, by the cloud's key. */
interface Live {
  awsRoles?: unknown[];
  gcpPolicies?: unknown[];
  azureIdentities?: unknown[];
}

function inventory({
  awsRoles,
  gcpPolicies,
  azureIdentities,
  ...overrides
}: Partial<Inventory> & Live = {}): Inventory {
  return {
    deployments: [],
    connections: {},
    clouds: { aws: awsRoles ?? [], gcp: gcpPolicies ?? [], azure: azureIdentities ?? [] },
    ...overrides,
  };
}

/** Loaded before the suites are collected: some call discover while they are. */
const discoverers: ReadonlyMap<string, CloudDiscoverer> = await loadDiscoverers(cloudModules());

/** Discovery over the clouds' own discoverers, through the plug-in interface. */
const discover = (found: Inventory, options: Parameters<typeof discoverWith>[1]) =>
  discoverWith(found, options, discoverers);

/** The component's arguments as the provider's schema sees them: the single source of validation. */
function validates(a: FoundAuthorization) {
  const raw = {
    owner: "p/s/x",
    ...(a.workloadIdentity ? { workloadIdentity: a.workloadIdentity } : {}),
    [a.cloud]: a.grant,
    connection: {
      connectionId: a.connection.connectionId,
      ...(a.connection.adopted ? { adoptExisting: true } : {}),
      ...(a.connection.description ? { description: a.connection.description } : {}),
      ...(a.connection.extra ? { extra: a.connection.extra } : {}),
      airflow: { url: a.deployment.airflowUrl, auth: { kind: "token" } },
    },
  };
  const parsed = parseInputs(raw);
  return parsed.ok ? "ok" : JSON.stringify(parsed);
}

describe("discover on AWS", () => {
  const deployments: DeploymentRef[] = [
    { name: "team-a", identity: A, airflowUrl: AIRFLOW_A },
    { name: "web", namespace: NS, airflowUrl: AIRFLOW_WEB },
  ];
  const policy: TrustPolicy = {
    Version: "2012-10-17",
    Statement: [
      { Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" },
      // As the guide writes it, with a list, and one with a condition the resource does not write.
      {
        Effect: "Allow",
        Principal: { AWS: [A, "arn:aws:iam::111122223333:role/astro-unknown"] },
        Action: "sts:AssumeRole",
      },
      {
        Effect: "Allow",
        Principal: { AWS: A },
        Action: "sts:AssumeRole",
        Condition: { Bool: { "aws:SecureTransport": "true" } },
      },
      {
        Effect: "Allow",
        Principal: { Federated: `arn:aws:iam::123456789012:oidc-provider/${HOST}` },
        Action: "sts:AssumeRoleWithWebIdentity",
        Condition: {
          StringEquals: {
            [`${HOST}:aud`]: "sts.amazonaws.com",
            [`${HOST}:sub`]: [
              `system:serviceaccount:${NS}:${NS}-worker-serviceaccount`,
              `system:serviceaccount:${NS}:${NS}-kpo`,
            ],
          },
        },
      },
      {
        Sid: "AirflowDAAssumeRole",
        Effect: "Allow",
        Principal: { AWS: "arn:aws:iam::1:role/x" },
        Action: "sts:AssumeRole",
      },
    ],
  };
  const connections: Record<string, LiveConnection[]> = {
    [AIRFLOW_A]: [
      {
        connectionId: "aws_lake",
        conn_type: "aws",
        description: "by hand",
        extra: { role_arn: ROLE, region_name: "eu-west-1", verify: false },
      },
      { connectionId: "aws_lake_2", conn_type: "aws", description: null, extra: { role_arn: ROLE } },
      { connectionId: "other", conn_type: "aws", description: null, extra: { role_arn: "arn:aws:iam::1:role/other" } },
    ],
    [AIRFLOW_WEB]: [
      { connectionId: "aws_default", conn_type: "aws", description: null, extra: { region_name: "us-west-2" } },
    ],
  };
  const found = discover(inventory({ deployments, connections, awsRoles: [{ arn: ROLE, policy }] }), {
    takeOver: true,
    defaultRegion: "us-east-1",
  });

  it("finds the Deployment role and the web identity trust, each with the connection that uses it", () => {
    expect(found.authorizations.map((a) => [a.name, a.grant, a.workloadIdentity, a.connection])).toEqual([
      [
        "team-a-data-lake",
        { targetRole: ROLE, region: "eu-west-1", trust: { kind: "deploymentRole" }, adoptExistingTrust: true },
        A,
        { connectionId: "aws_lake", adopted: true, description: "by hand", extra: { verify: false } },
      ],
      [
        "web-data-lake",
        {
          targetRole: ROLE,
          region: "us-west-2",
          trust: {
            kind: "webIdentity",
            issuerUrl: `https://${HOST}`,
            namespace: NS,
            serviceAccounts: ["worker", "kpo"],
          },
          adoptExistingTrust: true,
        },
        undefined,
        { connectionId: "aws_default", adopted: true },
      ],
    ]);
    expect(found.authorizations.map(validates)).toEqual(["ok", "ok"]);
    // Only the guide-shaped statement is taken over; the one with a condition is not.
    expect(found.authorizations[0]!.notes[0]).toContain("#2");
    expect(found.authorizations[0]!.notes[0]).not.toContain("#3");
  });

  it("reports what it leaves, each with its reason: a conditional statement, others', a second connection, one owned", () => {
    expect(found.unmatched).toEqual([
      {
        where: "IAM role data-lake",
        what: `statement #3 trusts ${A}: left out: has conditions (Bool aws:SecureTransport)`,
      },
      { where: "IAM role data-lake", what: "statement #1 trusts no Deployment given: left as it is" },
      { where: `connection aws_lake_2 at ${AIRFLOW_A}`, what: expect.stringContaining("aws_lake was taken") },
    ]);
    expect(found.alreadyManaged).toEqual(["IAM role data-lake, statement AirflowDAAssumeRole"]);
  });

  it("without --take-over, hand-made statements stay and the program says so", () => {
    const kept = discover(inventory({ deployments, connections, awsRoles: [{ arn: ROLE, policy }] }), {
      takeOver: false,
      defaultRegion: "us-east-1",
    });
    expect(kept.authorizations.every((a) => !("adoptExistingTrust" in a.grant))).toBe(true);
    expect(kept.authorizations[0]!.notes[0]).toMatch(/leaves hand-made statement/);
  });

  it("a namespace no Deployment was given for, and a Deployment with no grant, are reported", () => {
    const lonely = discover(
      inventory({
        deployments: [{ name: "nobody", identity: "arn:aws:iam::1:role/nobody", airflowUrl: AIRFLOW_A }],
        connections,
        awsRoles: [{ arn: ROLE, policy }],
      }),
      { takeOver: false, defaultRegion: "us-east-1" },
    );
    expect(lonely.authorizations).toEqual([]);
    expect(lonely.unmatched.map((u) => u.what)).toEqual([
      expect.stringContaining(`namespace ${NS}`),
      "statements #1, #2, #3 trust no Deployment given: left as they are",
      "no grant to it found on the targets given",
      expect.stringContaining("no grant it could use"),
      expect.stringContaining("no grant it could use"),
    ]);
  });

  it("renders a program with one resource per authorization and a shared Airflow auth", () => {
    const program = renderProgram(found, { kind: "password", username: "admin" });
    expect(program).toContain('import { DeploymentAuthorization } from "pulumi-deployment-authorization";');
    expect(program).toContain('const airflowAuth = { kind: "password", username: "admin" } as const;');
    expect(program.match(/new DeploymentAuthorization\(/g)).toHaveLength(2);
    expect(program).toContain('new DeploymentAuthorization("team-a-data-lake", {');
    expect(program).toContain(`airflow: { url: "${AIRFLOW_A}", auth: airflowAuth },`);
    expect(program).toContain('serviceAccounts: ["worker", "kpo"]');
    expect(renderReport(found)).toContain(
      "- team-a-data-lake (team-a, aws): connection aws_lake (existing, taken over)",
    );
  });
});

describe("discover on GCP and Azure", () => {
  const deployments: DeploymentRef[] = [
    { name: "g", identity: SA, airflowUrl: AIRFLOW_G },
    { name: "fed", namespace: NS, airflowUrl: AIRFLOW_WEB },
  ];
  const found: Discovery = discover(
    inventory({
      deployments,
      connections: {
        [AIRFLOW_G]: [
          {
            connectionId: "gcp_bq",
            conn_type: "google_cloud_platform",
            description: null,
            extra: { project: "my-data-project" },
          },
          {
            connectionId: "gcp_reader",
            conn_type: "google_cloud_platform",
            description: null,
            extra: { project: "my-data-project", impersonation_chain: CUSTOMER_SA },
          },
        ],
        [AIRFLOW_WEB]: [
          {
            connectionId: "azure_blob",
            conn_type: "azure",
            description: null,
            extra: { managed_identity_client_id: "client-1", workload_identity_tenant_id: "tenant-1" },
          },
        ],
      },
      gcpPolicies: [
        {
          resource: "projects/my-data-project",
          policy: {
            version: 3,
            bindings: [
              { role: "roles/bigquery.dataViewer", members: ["user:someone@example.com", `serviceAccount:${SA}`] },
              {
                role: "roles/storage.objectViewer",
                members: [`serviceAccount:${SA}`],
                condition: { expression: "true", title: "t" },
              },
            ],
          },
        },
        {
          resource: `projects/-/serviceAccounts/${CUSTOMER_SA}`,
          policy: { bindings: [{ role: "roles/iam.serviceAccountTokenCreator", members: [`serviceAccount:${SA}`] }] },
        },
      ],
      azureIdentities: [
        {
          id: IDENTITY,
          clientId: "client-1",
          tenantId: "tenant-1",
          credentials: [
            {
              name: "by-hand-worker",
              issuer: "https://westus2.oic.prod-aks.azure.com/t/g/",
              subject: `system:serviceaccount:${NS}:${NS}-worker-serviceaccount`,
              audiences: ["api://AzureADTokenExchange"],
            },
            {
              name: "someone-else",
              issuer: "https://token.actions.githubusercontent.com",
              subject: "repo:x/y:ref:refs/heads/main",
              audiences: ["api://AzureADTokenExchange"],
            },
          ],
        },
      ],
    }),
    { takeOver: true, defaultRegion: "us-east-1" },
  );

  it("finds a project role, an impersonation and federated credentials, each with its connection", () => {
    expect(found.authorizations.map((a) => [a.name, a.cloud, a.grant, a.connection.connectionId])).toEqual([
      [
        "g-my-data-project",
        "gcp",
        {
          project: "my-data-project",
          grant: { kind: "projectRole", role: "roles/bigquery.dataViewer" },
          adoptExistingMembers: true,
        },
        "gcp_bq",
      ],
      [
        "g-reader",
        "gcp",
        { grant: { kind: "impersonation", serviceAccount: CUSTOMER_SA }, adoptExistingMembers: true },
        "gcp_reader",
      ],
      [
        "fed-airflow-id",
        "azure",
        {
          identity: IDENTITY,
          issuerUrl: "https://westus2.oic.prod-aks.azure.com/t/g/",
          namespace: NS,
          serviceAccounts: ["worker"],
          adoptExistingCredentials: true,
        },
        "azure_blob",
      ],
    ]);
    expect(found.authorizations.map(validates)).toEqual(["ok", "ok", "ok"]);
  });

  it("reports the conditional binding it does not take, and a credential that federates no Deployment", () => {
    expect(found.unmatched).toEqual([
      {
        where: "project my-data-project",
        what: `conditional binding of roles/storage.objectViewer for ${SA}: left out: has conditions ("t"); this resource writes unconditional bindings only`,
      },
      {
        where: "managed identity airflow-id",
        what: "credential someone-else federates no Deployment given: left as it is",
      },
    ]);
  });
});

/** Every connection is reported once: taken over, managed by a stack, or left out with its reason. */
function expectEachConnectionOnce(d: Discovery) {
  const mentions = [
    ...d.authorizations.filter((a) => a.connection.adopted).map((a) => a.connection.connectionId),
    ...d.unmatched.flatMap((u) => u.where.match(/^connection (\S+) at /)?.[1] ?? []),
    ...d.alreadyManaged.flatMap((m) => m.match(/^connection (\S+) at /)?.[1] ?? []),
  ];
  expect(mentions.length).toBe(new Set(mentions).size);
}

describe("discover's bookkeeping", () => {
  const CLUSTER_ROLE = "arn:aws:iam::111122223333:role/AirflowS3Logs-clv1a2b3c000008l7abcd1234";
  const trustsA = { Effect: "Allow", Principal: { AWS: A }, Action: "sts:AssumeRole" };
  const policy: TrustPolicy = {
    Version: "2012-10-17",
    Statement: [trustsA, { Effect: "Allow", Principal: { AWS: CLUSTER_ROLE }, Action: "sts:AssumeRole" }],
  };
  const connection = (connectionId: string, description: string | null = null): LiveConnection => ({
    connectionId,
    conn_type: "aws",
    description,
    extra: { role_arn: ROLE, region_name: "eu-west-1" },
  });

  it("never offers a connection another stack manages, and says which stack manages it", () => {
    const managed =
      "Managed by Pulumi (DeploymentAuthorization data-platform/prod/team-a-lake); edits by hand are reverted on the next update.";
    const found = discover(
      inventory({
        deployments: [{ name: "team-a", identity: A, airflowUrl: AIRFLOW_A }],
        connections: { [AIRFLOW_A]: [connection("aws_lake", managed)] },
        awsRoles: [{ arn: ROLE, policy: { Version: "2012-10-17", Statement: [trustsA] } }],
      }),
      { takeOver: true, defaultRegion: "us-east-1" },
    );
    expect(found.authorizations).toHaveLength(1);
    expect(found.authorizations[0]!.connection).toEqual({ connectionId: "aws_data-lake", adopted: false });
    expect(found.authorizations[0]!.notes).toContain(
      `connection aws_lake at ${AIRFLOW_A} uses role data-lake, but is managed by stack data-platform/prod (DeploymentAuthorization team-a-lake): never taken over`,
    );
    expect(found.alreadyManaged).toEqual([
      `connection aws_lake at ${AIRFLOW_A}: managed by stack data-platform/prod (DeploymentAuthorization team-a-lake): never taken over`,
    ]);
    expect(found.unmatched).toEqual([]);
    expect(renderProgram(found, { kind: "token" })).not.toContain('connectionId: "aws_lake"');
    expectEachConnectionOnce(found);
  });

  it("never offers a connection whose description a program set, when it carries a resource's claim", () => {
    const claimed = "reads the lake\n[DeploymentAuthorization instance=0123456789ab grants=1a2b3c4d]";
    const found = discover(
      inventory({
        deployments: [{ name: "team-a", identity: A, airflowUrl: AIRFLOW_A }],
        connections: { [AIRFLOW_A]: [connection("aws_lake", claimed)] },
        awsRoles: [{ arn: ROLE, policy: { Version: "2012-10-17", Statement: [trustsA] } }],
      }),
      { takeOver: true, defaultRegion: "us-east-1" },
    );
    expect(found.authorizations[0]!.connection).toEqual({ connectionId: "aws_data-lake", adopted: false });
    expect(found.alreadyManaged).toEqual([
      `connection aws_lake at ${AIRFLOW_A}: managed by a DeploymentAuthorization (instance 0123456789ab; its description does not name the stack): never taken over`,
    ]);
    expectEachConnectionOnce(found);
  });

  it("reports a connection passed over for one grant and taken by another once, as taken over", () => {
    // The Deployment's own role and its cluster's role are both trusted: two grants, two connections.
    const found = discover(
      inventory({
        deployments: [{ name: "team-a", identity: A, airflowUrl: AIRFLOW_A }],
        connections: { [AIRFLOW_A]: [connection("aws_lake"), connection("aws_lake_2")] },
        awsRoles: [{ arn: ROLE, policy }],
      }),
      { takeOver: true, defaultRegion: "us-east-1" },
    );
    expect(found.authorizations.map((a) => [a.name, a.connection.connectionId, a.connection.adopted])).toEqual([
      ["team-a-data-lake", "aws_lake", true],
      ["team-a-data-lake-cluster", "aws_lake_2", true],
    ]);
    expect(found.unmatched).toEqual([]);
    expectEachConnectionOnce(found);
  });

  it("the same on GCP: one service account impersonated and acted as, two connections", () => {
    const NS_G = "astronomer-g-1234";
    const found = discover(
      inventory({
        deployments: [{ name: "g", identity: SA, namespace: NS_G, airflowUrl: AIRFLOW_G }],
        connections: {
          [AIRFLOW_G]: ["gcp_a", "gcp_b"].map((connectionId) => ({
            connectionId,
            conn_type: "google_cloud_platform",
            description: null,
            extra: { impersonation_chain: CUSTOMER_SA },
          })),
        },
        gcpPolicies: [
          {
            resource: `projects/-/serviceAccounts/${CUSTOMER_SA}`,
            policy: {
              bindings: [
                { role: "roles/iam.serviceAccountTokenCreator", members: [`serviceAccount:${SA}`] },
                {
                  role: "roles/iam.workloadIdentityUser",
                  members: [`serviceAccount:astronomer-prod.svc.id.goog[${NS_G}/${NS_G}-worker]`],
                },
              ],
            },
          },
        ],
      }),
      { takeOver: false, defaultRegion: "us-east-1" },
    );
    expect(found.authorizations.map((a) => a.connection.connectionId)).toEqual(["gcp_a", "gcp_b"]);
    expect(found.unmatched).toEqual([]);
    expectEachConnectionOnce(found);
  });

  it("reports every statement or binding it leaves out with the reason, not as 'no grant found'", () => {
    const found = discover(
      inventory({
        deployments: [
          { name: "team-a", identity: A, airflowUrl: AIRFLOW_A },
          { name: "g", identity: SA, airflowUrl: AIRFLOW_G },
          { name: "fed", namespace: NS, airflowUrl: AIRFLOW_WEB },
        ],
        awsRoles: [
          {
            arn: ROLE,
            policy: {
              Version: "2012-10-17",
              Statement: [
                {
                  Sid: "OnlyFromTheVpn",
                  Effect: "Allow",
                  Principal: { AWS: A },
                  Action: ["sts:AssumeRole", "sts:TagSession"],
                  Condition: { IpAddress: { "aws:SourceIp": "10.0.0.0/8" } },
                },
              ],
            },
          },
        ],
        gcpPolicies: [
          {
            resource: `projects/-/serviceAccounts/${CUSTOMER_SA}`,
            policy: {
              bindings: [
                {
                  role: "roles/iam.serviceAccountTokenCreator",
                  members: [`serviceAccount:${SA}`],
                  condition: { title: "office hours", expression: "request.time.getHours() < 18" },
                },
                { role: "roles/iam.serviceAccountUser", members: [`serviceAccount:${SA}`] },
              ],
            },
          },
        ],
        azureIdentities: [
          {
            id: IDENTITY,
            clientId: "client-1",
            tenantId: "tenant-1",
            credentials: [
              {
                name: "wrong-audience",
                issuer: "https://westus2.oic.prod-aks.azure.com/t/g/",
                subject: `system:serviceaccount:${NS}:${NS}-worker-serviceaccount`,
                audiences: ["api://something-else"],
              },
            ],
          },
        ],
      }),
      { takeOver: true, defaultRegion: "us-east-1" },
    );
    expect(found.authorizations).toEqual([]);
    expect(found.unmatched).toEqual([
      {
        where: "IAM role data-lake",
        what: `statement "OnlyFromTheVpn" trusts ${A}: left out: has other actions (sts:TagSession); has conditions (IpAddress aws:SourceIp)`,
      },
      {
        where: `service account ${CUSTOMER_SA}`,
        what: `conditional binding of roles/iam.serviceAccountTokenCreator for ${SA}: left out: has conditions ("office hours"); this resource writes unconditional bindings only`,
      },
      {
        where: `service account ${CUSTOMER_SA}`,
        what: expect.stringMatching(new RegExp(`^${SA} has roles/iam.serviceAccountUser on it: left out: `)),
      },
      {
        where: "managed identity airflow-id",
        what: `credential wrong-audience federates ${NS}/${NS}-worker-serviceaccount: left out: its audiences (api://something-else) are not api://AzureADTokenExchange`,
      },
      ...["team-a", "g", "fed"].map((name) => ({
        where: `Deployment ${name}`,
        what: expect.stringMatching(/^no grant to it that a resource can take over: the ones found are left out/),
      })),
    ]);
    expect(renderReport(found)).toContain("left out: has other actions (sts:TagSession); has conditions");
  });
});

describe("discover's command line", () => {
  it("takes targets and Deployments, and says which flag is wrong", () => {
    const parsed = parseDiscoverArgs(
      [
        "--aws-role",
        ROLE,
        "--deployment",
        `identity=${A},airflow=${AIRFLOW_A}/`,
        "--take-over",
        "--airflow-username",
        "admin",
      ],
      {},
    );
    expect(parsed).toMatchObject({
      takeOver: true,
      region: "us-east-1",
      targets: {
        clouds: { "aws-role": [ROLE] },
        deployments: [{ name: "astro-a", identity: A, airflowUrl: AIRFLOW_A }],
        airflowAuth: { kind: "password", username: "admin" },
      },
    });
    expect(parseDiscoverArgs(["--deployment", `identity=${A},airflow=x`], {})).toMatch(/at least one target/);
    expect(parseDiscoverArgs(["--aws-role", ROLE], {})).toMatch(/at least one Deployment/);
    expect(parseDiscoverArgs(["--aws-role", ROLE, "--deployment", "identity=x"], {})).toMatch(/give airflow=/);
    expect(parseDiscoverArgs(["--aws-role", ROLE, "--deployment", "role=x,airflow=y"], {})).toMatch(
      /"role=x" is not one of them/,
    );
    expect(parseDiscoverArgs(["--aws-role"], {})).toBe("--aws-role needs a value");
    expect(parseDiscoverArgs(["--astro-deployment", "org-only", "--aws-role", ROLE], {})).toMatch(
      /<organizationId>\/<deploymentId>/,
    );
  });
});
