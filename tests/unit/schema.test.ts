import { describe, expect, it } from "vitest";
import { parseInputs } from "../../provider/inputs";
import { UNKNOWN } from "../../provider/core/unknown";
import { diff, planned, rawInputs } from "../support/fixtures";

function failuresOf(raw: unknown) {
  const result = parseInputs(raw);
  if (result.ok) throw new Error("expected failures");
  return Object.fromEntries(result.failures.map((f) => [f.property, f.reason]));
}

describe("input schema", () => {
  it("accepts valid inputs, with a role name or a role ARN", () => {
    expect(parseInputs(rawInputs()).ok).toBe(true);
    expect(parseInputs(rawInputs({ aws: { targetRole: "data-reader", region: "eu-central-1" } })).ok).toBe(true);
  });

  it("names every bad field with its path and what a valid value looks like", () => {
    const failures = failuresOf(
      rawInputs({
        workloadIdentity: "astro-deployment",
        aws: { targetRole: "arn:aws:s3:::bucket", region: "Mars" },
        connection: {
          connectionId: "bad id!",
          airflow: { url: "ftp://x", auth: { kind: "token" } },
        },
      }),
    );
    expect(failures["workloadIdentity"]).toMatch(
      /IAM role ARN, .* such as arn:aws:iam::123456789012:role\/astro-my-namespace$/,
    );
    expect(failures["aws.targetRole"]).toMatch(/role ARN .* or a role name/);
    expect(failures["aws.region"]).toMatch(/such as us-east-1/);
    expect(failures["connection.connectionId"]).toMatch(/\^\[\\w\.-\]\+\$/);
    expect(failures["connection.airflow.url"]).toMatch(/http\(s\) URL/);
    expect(Object.keys(failures)).toHaveLength(5);
  });

  it("takes the adoption flags as booleans only, named at their path", () => {
    const { aws } = rawInputs() as { aws: Record<string, unknown> };
    expect(failuresOf(rawInputs({ aws: { ...aws, adoptExistingTrust: "yes" } }))).toEqual({
      "aws.adoptExistingTrust": "must be true or false",
    });
    expect(parseInputs(rawInputs({ aws: { ...aws, adoptExistingTrust: true } })).ok).toBe(true);
  });

  it("limits connection ids to 200 characters", () => {
    expect(
      failuresOf(
        rawInputs({
          connection: { connectionId: "a".repeat(201), airflow: { url: "http://x", auth: { kind: "token" } } },
        }),
      ),
    ).toEqual({
      "connection.connectionId": "must be at most 200 characters, such as aws_default",
    });
    expect(
      parseInputs(
        rawInputs({
          connection: { connectionId: "a".repeat(200), airflow: { url: "http://x", auth: { kind: "token" } } },
        }),
      ).ok,
    ).toBe(true);
  });

  it("explains a missing region with both ways to set it", () => {
    const failures = failuresOf(rawInputs({ aws: { targetRole: "r" } }));
    expect(failures["aws.region"]).toMatch(/pass aws.region or set the stack config aws:region/);
  });

  it("refuses secrets and reserved keys in extra, and credentials in the URL", () => {
    const failures = failuresOf(
      rawInputs({
        connection: {
          connectionId: "c",
          extra: { aws_secret_access_key: "x", role_arn: "y", endpoint_url: "http://moto" },
          airflow: { url: "http://admin:hunter22@airflow:8080", auth: { kind: "token" } },
        },
      }),
    );
    expect(failures["connection.extra.aws_secret_access_key"]).toMatch(
      /key material: Airflow's aws hooks read it as the secret of an access key\..*needs no key or secret: remove it/,
    );
    expect(failures["connection.extra.role_arn"]).toMatch(/set by the resource itself/);
    expect(failures["connection.airflow.url"]).toMatch(/without credentials/);
    expect(JSON.stringify(failures)).not.toContain("hunter22");
  });

  it("describes the two auth kinds and unknown properties", () => {
    const failures = failuresOf(
      rawInputs({
        extraThing: 1,
        connection: { connectionId: "c", airflow: { url: "http://x", auth: { kind: "oauth" } } },
      }),
    );
    expect(failures["connection.airflow.auth.kind"]).toMatch(/\{kind: "token"\}.*\{kind: "password", username\}/);
    expect(failures["(inputs)"]).toMatch(/unknown properties extraThing/);
  });

  it('takes apiVersion "detect" as the default it is, and says what else it takes', () => {
    const withVersion = (apiVersion?: string) =>
      rawInputs({
        connection: {
          connectionId: "c",
          airflow: { url: "http://x", auth: { kind: "token" }, ...(apiVersion ? { apiVersion } : {}) },
        },
      });
    expect(planned(withVersion("detect"))).toEqual(planned(withVersion()));
    expect(planned(withVersion("detect")).connection.airflow?.apiVersion).toBe("detect");
    expect(failuresOf(withVersion("v3"))["connection.airflow.apiVersion"]).toBe(
      'must be "v1" (Airflow 2), "v2" (Airflow 3) or "detect" (the default: found at apply)',
    );
  });

  it("lets values that are not known yet through", () => {
    const result = parseInputs(
      rawInputs({ workloadIdentity: UNKNOWN, aws: { targetRole: UNKNOWN, region: "us-east-1" } }),
    );
    expect(result.ok).toBe(true);
  });
});

describe("input gaps found by trying it as a new user", () => {
  it("refuses an Airflow URL that already names the API, before any grant is written", () => {
    for (const url of ["http://airflow:8080/api/v2", "https://myorg.astronomer.run/d123/api/v1/"]) {
      const failures = failuresOf(
        rawInputs({ connection: { connectionId: "c", airflow: { url, auth: { kind: "token" } } } }),
      );
      expect(failures).toEqual({ "connection.airflow.url": expect.stringMatching(/without \/api\/v1 or \/api\/v2/) });
    }
  });

  it("reports a non-scalar extra value at its own key", () => {
    const failures = failuresOf(
      rawInputs({
        connection: {
          connectionId: "c",
          extra: { ok: 1, nested: { a: 1 }, list: [1] },
          airflow: { url: "http://x", auth: { kind: "token" } },
        },
      }),
    );
    expect(failures).toEqual({
      "connection.extra.nested": expect.stringMatching(/a string, a number, a boolean or null/),
      "connection.extra.list": expect.stringMatching(/a string, a number, a boolean or null/),
    });
  });

  it("names an unknown auth kind at its path", () => {
    const failures = failuresOf(
      rawInputs({ connection: { connectionId: "c", airflow: { url: "http://x", auth: { kind: "oauth" } } } }),
    );
    expect(Object.keys(failures)).toEqual(["connection.airflow.auth.kind"]);
  });
});

describe("connection target: the Airflow API or Astro's Environment Manager, one of them", () => {
  const ORG = "clorg0000000000000000000a";
  const DEPLOYMENT = "cldep0000000000000000000a";
  const WORKSPACE = "clwsp0000000000000000000a";
  const astroInputs = (connection: Record<string, unknown>) =>
    rawInputs({ connection: { connectionId: "aws_lake", ...connection } });

  it("plans a Deployment-scoped or a Workspace-scoped environment object", () => {
    const byDeployment = planned(
      astroInputs({ target: "astro", astro: { organizationId: ORG, deploymentId: DEPLOYMENT } }),
    );
    expect(byDeployment.connection.astro).toEqual({
      organizationId: ORG,
      scope: "DEPLOYMENT",
      scopeEntityId: DEPLOYMENT,
      links: [],
    });
    expect(byDeployment.connection.airflow).toBeUndefined();
    const byWorkspace = planned(
      astroInputs({
        target: "astro",
        astro: { organizationId: ORG, workspaceId: WORKSPACE, linkedDeploymentIds: [DEPLOYMENT] },
      }),
    );
    expect(byWorkspace.connection.astro).toMatchObject({
      scope: "WORKSPACE",
      scopeEntityId: WORKSPACE,
      links: [DEPLOYMENT],
    });
    expect(diff({ ...byDeployment, resolved: { roleArn: "x" } }, byWorkspace).replaces).toEqual([
      "connection.astro.deploymentId",
      "connection.astro.workspaceId",
    ]);
  });

  it("names what is missing or doubled at its path", () => {
    expect(failuresOf(astroInputs({ target: "astro" }))).toEqual({
      "connection.astro": expect.stringMatching(/required for target astro/),
    });
    expect(
      failuresOf(
        astroInputs({
          target: "astro",
          astro: { organizationId: ORG, deploymentId: DEPLOYMENT },
          airflow: { url: "http://x", auth: { kind: "token" } },
        }),
      ),
    ).toEqual({ "connection.airflow": expect.stringMatching(/one resource writes its connection to one place/) });
    expect(
      failuresOf(
        astroInputs({
          target: "astro",
          astro: { organizationId: ORG, deploymentId: DEPLOYMENT, workspaceId: WORKSPACE },
        }),
      ),
    ).toEqual({ "connection.astro": expect.stringMatching(/give deploymentId .* or workspaceId/) });
    expect(failuresOf(astroInputs({}))).toEqual({ "connection.airflow": expect.stringMatching(/is required/) });
    expect(
      failuresOf(astroInputs({ target: "astro", astro: { organizationId: "Org 1", deploymentId: DEPLOYMENT } })),
    ).toEqual({
      "connection.astro.organizationId": expect.stringMatching(/Astro organization id .* such as /),
    });
  });
});

describe("a Deployment read from Astro", () => {
  it("is checked against the cloud granted in, and a failed read is reported first, at deployment", () => {
    const deployment = { organizationId: "clorg0000000000000000000a", deploymentId: "cldep0000000000000000000a" };
    expect(parseInputs(rawInputs({ deployment: { ...deployment, cloudProvider: "AWS" } })).ok).toBe(true);
    expect(failuresOf(rawInputs({ deployment: { ...deployment, cloudProvider: "GCP" } }))).toEqual({
      deployment: expect.stringMatching(/runs on GCP, but this authorization grants in aws: give gcp instead/),
    });
    expect(failuresOf(rawInputs({ deployment: { ...deployment, lookupError: "GET … answered 401" } }))).toEqual({
      deployment: "could not be read from Astro: GET … answered 401",
    });
  });

  it("answers failures, not a TypeError, for fields that have no string form", () => {
    const deployment = { organizationId: "clorg0000000000000000000a", deploymentId: "cldep0000000000000000000a" };
    // Valid JSON all of them, which String() and template literals cannot turn into text.
    expect(Object.keys(failuresOf(rawInputs({ owner: { toString: "x" } })))).toEqual(["owner"]);
    expect(Object.keys(failuresOf(rawInputs({ deployment: { ...deployment, cloudProvider: 5 } })))).toEqual([
      "deployment.cloudProvider",
    ]);
    expect(
      Object.keys(failuresOf(rawInputs({ deployment: { ...deployment, lookupError: { toString: "x" } } }))),
    ).toEqual(["deployment.lookupError"]);
    expect(
      failuresOf(rawInputs({ deployment: { ...deployment, deploymentId: { toString: "x" }, cloudProvider: "GCP" } })),
    ).toEqual({
      "deployment.deploymentId": expect.any(String),
      deployment: expect.stringMatching(/runs on GCP, but this authorization grants in aws/),
    });
  });
});
