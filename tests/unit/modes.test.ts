import { describe, expect, it } from "vitest";
import { parseInputs } from "../../provider/inputs";
import { UNKNOWN } from "../../provider/core/unknown";
import { TARGET_ROLE_ARN, planned, trustInputs } from "../support/fixtures";

const ISSUER = "https://oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B71";
const HOST = "oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B71";

const plan = planned;

function webIdentity(trust: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return {
    ...trustInputs(TARGET_ROLE_ARN, { kind: "webIdentity", issuerUrl: ISSUER, ...trust }, "us-west-2"),
    ...extra,
  };
}

describe("web identity trust (customer-managed identity, Astronomer Software IRSA)", () => {
  it("trusts the exact service accounts of the namespace through the cluster's OIDC provider", () => {
    const planned = plan(webIdentity({ namespace: "astronomer-celestial-galaxy-1234" }));
    const ns = "astronomer-celestial-galaxy-1234";
    expect(planned.grant.statement).toEqual({
      Sid: planned.grant.sid,
      Effect: "Allow",
      Principal: { Federated: `arn:aws:iam::123456789012:oidc-provider/${HOST}` },
      Action: "sts:AssumeRoleWithWebIdentity",
      Condition: {
        StringEquals: {
          [`${HOST}:aud`]: "sts.amazonaws.com",
          [`${HOST}:sub`]: [
            `system:serviceaccount:${ns}:${ns}-scheduler-serviceaccount`,
            `system:serviceaccount:${ns}:${ns}-worker-serviceaccount`,
            `system:serviceaccount:${ns}:${ns}-triggerer-serviceaccount`,
            `system:serviceaccount:${ns}:${ns}-dag-processor-serviceaccount`,
            `system:serviceaccount:${ns}:${ns}-kpo`,
          ],
        },
      },
    });
    expect(planned.grant.entryPath).toEqual(["Condition", "StringEquals", `${HOST}:sub`]);
    expect(planned.grant.oidcProvider).toEqual({ arn: `arn:aws:iam::123456789012:oidc-provider/${HOST}`, url: ISSUER });
    // pod-level credentials: the connection carries the region only
    expect(planned.connection.payload.extra).toEqual({ region_name: "us-west-2" });
  });

  it("lets the service accounts be chosen, by component or by name", () => {
    const byComponent = plan(webIdentity({ namespace: "ns1", serviceAccounts: ["worker"] }));
    expect(byComponent.grant.entries).toEqual(["system:serviceaccount:ns1:ns1-worker-serviceaccount"]);
    const byName = plan(
      webIdentity({ namespace: "ns1", serviceAccountNames: ["airflow-worker", "airflow-scheduler"] }),
    );
    expect(byName.grant.entries).toEqual([
      "system:serviceaccount:ns1:airflow-worker",
      "system:serviceaccount:ns1:airflow-scheduler",
    ]);
  });

  it("trusts the whole namespace only when asked, in a statement of its own", () => {
    const wide = plan(webIdentity({ namespace: "ns1", namespaceWide: true }));
    expect(wide.grant.statement.Condition).toEqual({
      StringEquals: { [`${HOST}:aud`]: "sts.amazonaws.com" },
      StringLike: { [`${HOST}:sub`]: "system:serviceaccount:ns1:*" },
    });
    expect(wide.grant.sid).not.toBe(plan(webIdentity({ namespace: "ns1" })).grant.sid);
  });

  it("names the web identity settings when the connection itself assumes the role", () => {
    const planned = plan(webIdentity({ namespace: "ns1", connectionAssumesRole: true }));
    expect(planned.connection.payload.extra).toEqual({
      assume_role_method: "assume_role_with_web_identity",
      role_arn: TARGET_ROLE_ARN,
      region_name: "us-west-2",
    });
  });

  it("plans with a namespace that another resource has not created yet", () => {
    const planned = plan(webIdentity({ namespace: UNKNOWN }));
    expect(
      (planned.grant.statement.Condition as Record<string, Record<string, unknown>>).StringEquals![`${HOST}:sub`],
    ).toBe(UNKNOWN);
    expect(planned.grant.sid).toMatch(/^AirflowDAWebId/);
  });

  it("refuses what cannot work, naming the field", () => {
    const failures = (raw: unknown) => {
      const r = parseInputs(raw);
      return r.ok ? [] : r.failures.map((f) => `${f.property}: ${f.reason}`);
    };
    expect(
      failures(
        webIdentity(
          { namespace: "ns1" },
          {
            aws: {
              targetRole: "by-name",
              region: "us-east-1",
              trust: { kind: "webIdentity", issuerUrl: ISSUER, namespace: "ns1" },
            },
          },
        ),
      ),
    ).toEqual([expect.stringMatching(/^aws.targetRole: must be a role ARN for the webIdentity trust/)]);
    expect(failures(webIdentity({ namespace: "Bad_NS" }))).toEqual([
      expect.stringMatching(/^aws.trust.namespace: must be a Kubernetes namespace/),
    ]);
    expect(failures(webIdentity({ namespace: "ns1", issuerUrl: "http://insecure" }))).toEqual([
      expect.stringMatching(/^aws.trust.issuerUrl: must be an https URL/),
    ]);
    expect(failures(webIdentity({ namespace: "ns1", namespaceWide: true, serviceAccounts: ["worker"] }))).toEqual([
      expect.stringMatching(/namespaceWide trusts every service account/),
    ]);
    expect(
      failures(webIdentity({ namespace: "ns1" }, { workloadIdentity: "arn:aws:iam::111122223333:role/x" })),
    ).toEqual([expect.stringMatching(/^workloadIdentity: is only for the deploymentRole trust/)]);
  });
});

describe("cluster role trust (Astro cluster authorized to AWS)", () => {
  it("trusts AirflowS3Logs-<clusterId> in the data plane account, in the shared AssumeRole statement", () => {
    const cluster = plan(
      trustInputs(TARGET_ROLE_ARN, { kind: "clusterRole", dataPlaneAccountId: "444455556666", clusterId: "clv1abc" }),
    );
    expect(cluster.grant.statement).toEqual({
      Sid: "AirflowDAAssumeRole",
      Effect: "Allow",
      Principal: { AWS: "arn:aws:iam::444455556666:role/AirflowS3Logs-clv1abc" },
      Action: "sts:AssumeRole",
    });
    expect(cluster.connection.payload.extra).toEqual({ role_arn: TARGET_ROLE_ARN, region_name: "us-east-1" });
  });

  it("needs either the role ARN or the account and cluster id", () => {
    const r = parseInputs(trustInputs(TARGET_ROLE_ARN, { kind: "clusterRole", clusterId: "c1" }));
    expect(r.ok ? [] : r.failures).toEqual([
      {
        property: "aws.trust",
        reason: expect.stringMatching(/clusterRoleArn, or dataPlaneAccountId and clusterId/),
        given: '{"kind":"clusterRole","clusterId":"c1"}',
      },
    ]);
  });
});
