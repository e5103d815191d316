import { describe, expect, it } from "vitest";
import type { AuthorizationState } from "../../provider/core/types";
import type { AwsGrant } from "../../provider/grants/aws/types";
import { UNKNOWN } from "../../provider/core/unknown";
import { webIdentitySid } from "../../provider/grants/aws/plan";
import { TARGET_ROLE_ARN, WORKLOAD_IDENTITY, diff, livePayload, planned, rawInputs } from "../support/fixtures";

const plan = (raw: unknown = rawInputs()) => planned(raw);

function stateOf(planned: ReturnType<typeof plan>): AuthorizationState<AwsGrant> {
  return { ...planned, resolved: { roleArn: TARGET_ROLE_ARN, apiVersion: "v2" } };
}

describe("planning", () => {
  it("plans the exact statement and connection payload, without secrets", () => {
    const planned = plan(rawInputs({ credentials: { token: "s3cr3t-token" } }));
    expect(planned.grant.statement).toEqual({
      Sid: planned.grant.sid,
      Effect: "Allow",
      Principal: { AWS: WORKLOAD_IDENTITY },
      Action: "sts:AssumeRole",
    });
    expect(planned.grant.sid).toBe("AirflowDAAssumeRole");
    expect(planned.grant.entries).toEqual([WORKLOAD_IDENTITY]);
    expect(planned.connection.payload).toEqual({
      conn_type: "aws",
      description: expect.stringContaining("demo/dev/s3-reader"),
      extra: { role_arn: TARGET_ROLE_ARN, region_name: "us-east-1" },
    });
    expect(JSON.stringify({ ...planned, credentials: undefined })).not.toContain("s3cr3t");
  });

  it("keys web identity statements by issuer and operator", () => {
    expect(webIdentitySid("oidc.example.com/id/A", "StringEquals")).toMatch(/^AirflowDAWebId[0-9a-f]{12}$/);
    expect(webIdentitySid("oidc.example.com/id/A", "StringEquals")).not.toBe(
      webIdentitySid("oidc.example.com/id/A", "StringLike"),
    );
    expect(webIdentitySid(UNKNOWN, "StringEquals")).toBe(UNKNOWN);
  });

  it("normalizes the URL and sorts user extra before the fields it sets", () => {
    const planned = plan(
      rawInputs({
        connection: {
          connectionId: "c",
          extra: { zeta: 1, alpha: "a" },
          airflow: { url: "http://host:8080///", auth: { kind: "password", username: "admin" } },
        },
      }),
    );
    expect(planned.connection.airflow!.url).toBe("http://host:8080");
    expect(Object.keys(planned.connection.payload.extra)).toEqual(["alpha", "zeta", "role_arn", "region_name"]);
  });

  it("says where a role given by name gets its ARN, and reads the resolved ARN back as the plan", () => {
    const planned = plan(rawInputs({ aws: { targetRole: "data-reader", region: "us-east-1" } }));
    expect(planned.connection.payload.extra.role_arn).toBe("(ARN of role data-reader, resolved at apply)");
    const live = {
      ...planned.connection.payload,
      extra: { ...planned.connection.payload.extra, role_arn: TARGET_ROLE_ARN },
    };
    expect(livePayload(live, planned.connection.payload, TARGET_ROLE_ARN)).toEqual(planned.connection.payload);
  });

  it("treats masked extra values as unreadable, and anything else read as live", () => {
    const planned = plan().connection.payload;
    const live = { ...planned, extra: { ...planned.extra, region_name: "***", added_by_hand: "x" } };
    const seen = livePayload(live, planned, TARGET_ROLE_ARN);
    expect(seen.extra.region_name).toBe("us-east-1");
    expect(seen.extra.added_by_hand).toBe("x");
  });
});

describe("diff", () => {
  it("reports no change for the same plan", () => {
    const planned = plan();
    expect(diff(stateOf(planned), plan())).toEqual({
      changes: false,
      replaces: [],
      deleteBeforeReplace: false,
    });
  });

  it("updates in place when the identity, region, extra or description change", () => {
    const old = stateOf(plan());
    for (const raw of [
      rawInputs({ workloadIdentity: "arn:aws:iam::111122223333:role/other" }),
      rawInputs({ aws: { targetRole: TARGET_ROLE_ARN, region: "eu-west-1" } }),
    ]) {
      expect(diff(old, plan(raw))).toEqual({ changes: true, replaces: [], deleteBeforeReplace: false });
    }
  });

  it("shows drift found by a refresh as a change", () => {
    const old = stateOf(plan());
    expect(diff({ ...old, grant: { ...old.grant, statement: null } }, plan()).changes).toBe(true);
    expect(diff({ ...old, connection: { ...old.connection, payload: null } }, plan()).changes).toBe(true);
  });

  it("replaces on another role, deleting first", () => {
    const old = stateOf(plan());
    const news = plan(rawInputs({ aws: { targetRole: "arn:aws:iam::123456789012:role/other", region: "us-east-1" } }));
    expect(diff(old, news)).toEqual({
      changes: true,
      replaces: ["aws.targetRole"],
      deleteBeforeReplace: true,
    });
  });

  it("a role name and the ARN of that name are the same role", () => {
    const old = stateOf(plan());
    const news = plan(rawInputs({ aws: { targetRole: "data-reader", region: "us-east-1" } }));
    expect(diff(old, news).replaces).toEqual([]);
  });

  it("replaces on another connection id or Airflow, deleting first: the trust entry is shared", () => {
    const old = stateOf(plan());
    const news = plan(
      rawInputs({
        connection: { connectionId: "aws_other", airflow: { url: "http://127.0.0.1:8080", auth: { kind: "token" } } },
      }),
    );
    expect(diff(old, news)).toEqual({
      changes: true,
      replaces: ["connection.connectionId"],
      deleteBeforeReplace: true,
    });
  });
});
