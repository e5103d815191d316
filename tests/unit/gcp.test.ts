import fc from "fast-check";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { GcpIamPolicyDriver } from "../../provider/grants/gcp/driver";
import { UNKNOWN } from "../../provider/core/unknown";
import { TOKEN_CREATOR, WORKLOAD_IDENTITY_USER, preExisting, staleGcpGrant } from "../../provider/grants/gcp/plan";
import { IamPolicy, liveMembers, principalCount, withMembers, withoutMembers } from "../../provider/grants/gcp/policy";
import { parseInputs } from "../../provider/inputs";
import { GCP_WORKLOAD_IDENTITY, diff, foreignIamPolicy, gcpInputs, plannedGcp } from "../support/fixtures";

function failuresOf(raw: unknown): Record<string, string> {
  const result = parseInputs(raw);
  if (result.ok) throw new Error("expected failures");
  return Object.fromEntries(result.failures.map((f) => [f.property, f.reason]));
}

const CUSTOMER_SA = "airflow-reader@customer-data.iam.gserviceaccount.com";

describe("GCP planning, one table row per kind", () => {
  it("projectRole: the Deployment's identity gets the role on the project; the connection names the project", () => {
    const planned = plannedGcp(
      gcpInputs({ project: "customer-data", grant: { kind: "projectRole", role: "roles/bigquery.dataViewer" } }),
    );
    expect(planned.grant).toEqual({
      cloud: "gcp",
      mode: "projectRole",
      resource: "projects/customer-data",
      role: "roles/bigquery.dataViewer",
      members: [`serviceAccount:${GCP_WORKLOAD_IDENTITY}`],
      binding: { role: "roles/bigquery.dataViewer", members: [`serviceAccount:${GCP_WORKLOAD_IDENTITY}`] },
    });
    expect(planned.connection.payload).toMatchObject({
      conn_type: "google_cloud_platform",
      extra: { project: "customer-data" },
    });
  });

  it("impersonation: Token Creator on the customer service account; the connection impersonates it", () => {
    const planned = plannedGcp(gcpInputs({ grant: { kind: "impersonation", serviceAccount: CUSTOMER_SA } }));
    expect(planned.grant).toMatchObject({
      mode: "impersonation",
      resource: `projects/-/serviceAccounts/${CUSTOMER_SA}`,
      role: TOKEN_CREATOR,
      members: [`serviceAccount:${GCP_WORKLOAD_IDENTITY}`],
    });
    // The project defaults to the service account's own project.
    expect(planned.connection.payload.extra).toEqual({ project: "customer-data", impersonation_chain: CUSTOMER_SA });
  });

  it("customerManagedIdentity: Workload Identity User for each exact Kubernetes service account, no wildcard", () => {
    const raw = gcpInputs(
      {
        project: "other-project",
        grant: {
          kind: "customerManagedIdentity",
          serviceAccount: CUSTOMER_SA,
          workloadIdentityPool: "astronomer-prod.svc.id.goog",
          namespace: "celestial-galaxy-1234",
        },
      },
      { workloadIdentity: undefined },
    );
    const planned = plannedGcp(raw);
    expect(planned.grant.role).toBe(WORKLOAD_IDENTITY_USER);
    expect(planned.grant.members).toEqual(
      [
        "celestial-galaxy-1234-scheduler-serviceaccount",
        "celestial-galaxy-1234-worker-serviceaccount",
        "celestial-galaxy-1234-triggerer-serviceaccount",
        "celestial-galaxy-1234-dag-processor-serviceaccount",
        "celestial-galaxy-1234-kpo",
      ].map((ksa) => `serviceAccount:astronomer-prod.svc.id.goog[celestial-galaxy-1234/${ksa}]`),
    );
    expect(planned.connection.payload.extra).toEqual({ project: "other-project", impersonation_chain: CUSTOMER_SA });

    const chosen = plannedGcp({
      ...raw,
      gcp: { ...raw.gcp, grant: { ...raw.gcp.grant, serviceAccounts: ["worker", "api-server"] } },
    });
    expect(chosen.grant.members).toEqual([
      "serviceAccount:astronomer-prod.svc.id.goog[celestial-galaxy-1234/celestial-galaxy-1234-worker-serviceaccount]",
      "serviceAccount:astronomer-prod.svc.id.goog[celestial-galaxy-1234/celestial-galaxy-1234-api-server-serviceaccount]",
    ]);
    const unknownNamespace = plannedGcp({
      ...raw,
      gcp: { ...raw.gcp, grant: { ...raw.gcp.grant, namespace: UNKNOWN } },
    });
    expect(unknownNamespace.grant.members).toEqual([UNKNOWN]);
  });

  it("updates in place on another role or member, replaces on another project, deleting first", () => {
    const old = plannedGcp(gcpInputs());
    const state = { ...old, resolved: { preExistingMembers: [], apiVersion: "v2" as const } };
    expect(diff(state, plannedGcp(gcpInputs())).changes).toBe(false);
    expect(
      diff(
        state,
        plannedGcp(gcpInputs({ project: "customer-data", grant: { kind: "projectRole", role: "roles/viewer" } })),
      ),
    ).toEqual({
      changes: true,
      replaces: [],
      deleteBeforeReplace: false,
    });
    expect(
      diff(
        state,
        plannedGcp(gcpInputs({ project: "elsewhere-123", grant: { kind: "projectRole", role: "roles/viewer" } })),
      ),
    ).toEqual({
      changes: true,
      replaces: ["gcp.project"],
      deleteBeforeReplace: true,
    });
  });
});

describe("GCP validation: every bad field at its path, before any remote call", () => {
  it("needs the Deployment's identity as a service account e-mail for the kinds that trust it", () => {
    expect(failuresOf(gcpInputs({}, { workloadIdentity: undefined }))).toEqual({
      workloadIdentity: expect.stringMatching(/required for the projectRole grant: .* service account e-mail/),
    });
    expect(failuresOf(gcpInputs({}, { workloadIdentity: "arn:aws:iam::111122223333:role/astro-x" }))).toEqual({
      workloadIdentity: expect.stringMatching(/service account e-mail such as/),
    });
  });

  it("names the bad project, role, service account and pool", () => {
    expect(failuresOf(gcpInputs({ project: "Bad_Project", grant: { kind: "projectRole", role: "viewer" } }))).toEqual({
      "gcp.project": expect.stringMatching(/project id .* such as my-data-project/),
      "gcp.grant.role": expect.stringMatching(/roles\/bigquery.dataViewer/),
    });
    expect(
      failuresOf(
        gcpInputs(
          {
            grant: {
              kind: "customerManagedIdentity",
              serviceAccount: "not-an-email",
              workloadIdentityPool: "pool",
              namespace: "ns1",
            },
          },
          { workloadIdentity: undefined },
        ),
      ),
    ).toEqual({
      "gcp.grant.serviceAccount": expect.stringMatching(/service account e-mail, .* such as /),
      "gcp.grant.workloadIdentityPool": expect.stringMatching(/<cluster project id>.svc.id.goog, .*such as /),
    });
    expect(failuresOf(gcpInputs({ grant: { kind: "owner" } }))["gcp.grant.kind"]).toMatch(
      /\{kind: "projectRole", role\}.*impersonation.*customerManagedIdentity/,
    );
  });

  it("asks for the project when neither the grant nor the service account names it", () => {
    expect(failuresOf(gcpInputs({ project: undefined, grant: { kind: "projectRole", role: "roles/viewer" } }))).toEqual(
      {
        "gcp.project": expect.stringMatching(/required for the projectRole grant/),
      },
    );
    expect(
      failuresOf(
        gcpInputs({
          project: undefined,
          grant: { kind: "impersonation", serviceAccount: "123-compute@developer.gserviceaccount.com" },
        }),
      ),
    ).toEqual({ "gcp.project": expect.stringMatching(/cannot be read from this service account's e-mail/) });
  });

  it("refuses key material and the fields the resource sets in extra, at each key", () => {
    const raw = gcpInputs();
    const failures = failuresOf({
      ...raw,
      connection: {
        ...raw.connection,
        extra: { keyfile_dict: "{}", extra__google_cloud_platform__key_path: "/k.json", project: "x", num_retries: 5 },
      },
    });
    expect(failures).toEqual({
      "connection.extra.keyfile_dict": expect.stringMatching(/key material/),
      "connection.extra.extra__google_cloud_platform__key_path": expect.stringMatching(/key material/),
      "connection.extra.project": expect.stringMatching(/set by the resource itself \(from the gcp inputs\)/),
    });
  });

  it("wants exactly one cloud", () => {
    const raw = gcpInputs();
    expect(failuresOf({ ...raw, aws: { targetRole: "r", region: "us-east-1" } })).toEqual({
      gcp: expect.stringMatching(/give exactly one of aws, gcp, azure, not aws and gcp/),
    });
    const { gcp: _gcp, ...none } = raw;
    expect(failuresOf(none)).toEqual({ "(inputs)": expect.stringMatching(/give exactly one of aws, gcp, azure/) });
  });
});

describe("GCP policy edits keep what others own", () => {
  const ROLE = "roles/bigquery.dataViewer";
  const ours = ["serviceAccount:a@p.iam.gserviceaccount.com", "serviceAccount:b@p.iam.gserviceaccount.com"];

  it("adds to the role's unconditional binding, leaving conditional bindings, audit configs and order alone", () => {
    const before = foreignIamPolicy();
    const after = withMembers(before, ROLE, ours);
    expect(after.version).toBe(3);
    expect(after.auditConfigs).toBe(before.auditConfigs);
    const [b0, b1, b2, b3] = after.bindings!;
    expect([b0, b2, b3]).toEqual([before.bindings![0], before.bindings![2], before.bindings![3]]);
    expect(b1).toEqual({ role: ROLE, members: ["user:alice@example.com", ...ours] });
    expect(liveMembers(after, ROLE, ours)).toEqual(ours);

    const removed = withoutMembers(after, ROLE, ours);
    expect(removed).toEqual(before);
    expect(withMembers(after, ROLE, ours)).toBe(after); // nothing to add: same object, no write
  });

  it("appends a binding for a role that has none, and drops it again when it is left empty", () => {
    const before = foreignIamPolicy();
    const after = withMembers(before, "roles/storage.objectViewer", [ours[0]!]);
    expect(after.bindings).toHaveLength(before.bindings!.length + 1);
    expect(after.bindings!.at(-1)).toEqual({ role: "roles/storage.objectViewer", members: [ours[0]] });
    expect(withoutMembers(after, "roles/storage.objectViewer", [ours[0]!])).toEqual(before);
  });

  it("never counts a conditional binding of the same role as ours", () => {
    const conditionalOnly: IamPolicy = {
      version: 3,
      bindings: [
        {
          role: ROLE,
          members: [ours[0]!],
          condition: { expression: "request.time < timestamp('2030-01-01T00:00:00Z')", title: "until 2030" },
        },
      ],
    };
    expect(liveMembers(conditionalOnly, ROLE, ours)).toEqual([]);
    const after = withMembers(conditionalOnly, ROLE, [ours[0]!]);
    expect(after.bindings).toHaveLength(2);
    expect(withoutMembers(after, ROLE, [ours[0]!])).toEqual(conditionalOnly);
    expect(principalCount(after)).toBe(2);
  });

  it("records members that were there before it as pre-existing, and never its own from an earlier apply", () => {
    const planned = plannedGcp(gcpInputs()).grant;
    const member = planned.members[0]!;
    expect(preExisting(planned, [member])).toEqual([member]);
    expect(preExisting(planned, [])).toEqual([]);
    // After our own create, an update sees our member present: still ours.
    expect(preExisting(planned, [member], { grant: planned, resolved: { preExistingMembers: [] } })).toEqual([]);
    expect(preExisting(planned, [member], { grant: planned, resolved: { preExistingMembers: [member] } })).toEqual([
      member,
    ]);
  });

  it("takes as its own a pre-existing member that was gone and that it put back, so destroy leaves nothing behind", () => {
    const planned = plannedGcp(gcpInputs()).grant;
    const member = planned.members[0]!;
    // Another resource added the member first; this one found it there.
    const first = preExisting(planned, [member]);
    expect(first).toEqual([member]);
    // The other resource has gone, and the member with it: this apply adds it back.
    const policy = withMembers({ bindings: [] }, planned.role, planned.members);
    const again = preExisting(planned, [], { grant: planned, resolved: { preExistingMembers: first } });
    expect(again).toEqual([]);
    const ours = planned.members.filter((m) => !again.includes(m));
    expect(liveMembers(withoutMembers(policy, planned.role, ours), planned.role, planned.members)).toEqual([]);
  });

  it("with adoptExistingMembers, members made by hand become its own (removed on destroy), and plans without it do not change", () => {
    const plain = plannedGcp(gcpInputs()).grant;
    expect("adoptExistingMembers" in plain).toBe(false);
    const raw = gcpInputs();
    const adopting = plannedGcp({ ...raw, gcp: { ...(raw.gcp as object), adoptExistingMembers: true } }).grant;
    expect(adopting.adoptExistingMembers).toBe(true);
    const member = adopting.members[0]!;
    expect(preExisting(adopting, [member])).toEqual([]);
    // Turned on by an update: what was recorded as made by hand becomes ours.
    expect(preExisting(adopting, [member], { grant: plain, resolved: { preExistingMembers: [member] } })).toEqual([]);
  });

  it("takes back only the members an update dropped, or all of them on another role", () => {
    const raw = gcpInputs(
      {
        grant: {
          kind: "customerManagedIdentity",
          serviceAccount: CUSTOMER_SA,
          workloadIdentityPool: "astronomer-prod.svc.id.goog",
          namespace: "ns1",
          serviceAccounts: ["worker", "scheduler"],
        },
      },
      { workloadIdentity: undefined },
    );
    const old = plannedGcp(raw).grant;
    const next = plannedGcp({
      ...raw,
      gcp: { ...raw.gcp, grant: { ...raw.gcp.grant, serviceAccounts: ["worker"] } },
    }).grant;
    expect(staleGcpGrant(old, next)?.members).toEqual([
      "serviceAccount:astronomer-prod.svc.id.goog[ns1/ns1-scheduler-serviceaccount]",
    ]);
    expect(staleGcpGrant(next, next)).toBeUndefined();
    expect(staleGcpGrant(old, { ...next, role: "roles/iam.serviceAccountUser" })).toBe(old);
  });
});

describe("principalCount: Google's rule for the 1,500 principals of an allow policy", () => {
  const user = (i: number) => `user:u${i}@example.com`;
  const exempted = (members: string[]): IamPolicy["auditConfigs"] => [
    { service: "allServices", auditLogConfigs: [{ logType: "DATA_READ", exemptedMembers: members }] },
  ];

  it("counts every appearance in role bindings: one principal in 50 bindings leaves room for 1,450", () => {
    const policy: IamPolicy = {
      bindings: Array.from({ length: 50 }, (_, i) => ({ role: `roles/r${i}`, members: [user(0)] })),
    };
    expect(principalCount(policy)).toBe(50);
    const full = withMembers(
      policy,
      "roles/viewer",
      Array.from({ length: 1450 }, (_, i) => user(i + 1)),
    );
    expect(principalCount(full)).toBe(1500);
  });

  it("counts the members exempted from audit logging, on top of the bindings", () => {
    const policy: IamPolicy = {
      bindings: [{ role: "roles/viewer", members: [user(1), user(2)] }],
      auditConfigs: [
        ...exempted([user(1), user(3)])!,
        { service: "storage.googleapis.com", auditLogConfigs: [{ logType: "DATA_WRITE", exemptedMembers: [user(1)] }] },
        { service: "bigquery.googleapis.com", auditLogConfigs: [{ logType: "ADMIN_READ" }] },
      ],
    };
    expect(principalCount(policy)).toBe(2 + 3);
  });

  it("counts conditional bindings like the others, and a group or a domain as one principal", () => {
    const policy: IamPolicy = {
      bindings: [
        { role: "roles/viewer", members: ["group:everyone@example.com", "domain:example.com"] },
        { role: "roles/viewer", members: [user(1)], condition: { expression: "true", title: "always" } },
      ],
    };
    expect(principalCount(policy)).toBe(3);
  });

  it("counts a member repeated within one binding or one exemption list once, as Google stores it", () => {
    const policy: IamPolicy = {
      bindings: [{ role: "roles/viewer", members: [user(1), user(1)] }],
      auditConfigs: exempted([user(2), user(2)]),
    };
    expect(principalCount(policy)).toBe(2);
  });

  it("over random policies: each added appearance counts one, whatever the order; the count is the sum of its parts", () => {
    const member = fc.constantFrom(user(1), user(2), "group:g@example.com", "domain:example.com", "allUsers");
    const binding = fc.record({
      role: fc.constantFrom<string>("roles/viewer", "roles/editor", "projects/p-123456/roles/custom"),
      members: fc.uniqueArray(member, { minLength: 1, maxLength: 5 }),
      conditional: fc.boolean(),
    });
    const policy = fc.record({
      bindings: fc.array(binding, { maxLength: 6 }),
      exemptions: fc.array(fc.uniqueArray(member, { maxLength: 4 }), { maxLength: 3 }),
    });
    fc.assert(
      fc.property(policy, fc.nat(), ({ bindings, exemptions }, pick) => {
        const asPolicy = (bs: typeof bindings, ex: typeof exemptions): IamPolicy => ({
          bindings: bs.map((b) => ({
            role: b.role,
            members: b.members,
            ...(b.conditional ? { condition: { expression: "true", title: "c" } } : {}),
          })),
          auditConfigs: ex.map((members, i) => ({
            service: `s${i}.googleapis.com`,
            auditLogConfigs: [{ logType: "DATA_READ", exemptedMembers: members }],
          })),
        });
        const count = principalCount(asPolicy(bindings, exemptions));
        const expected =
          bindings.reduce((n, b) => n + b.members.length, 0) + exemptions.reduce((n, e) => n + e.length, 0);
        expect(count).toBe(expected);
        expect(principalCount(asPolicy([...bindings].reverse(), [...exemptions].reverse()))).toBe(count);
        // One more binding of a principal already counted elsewhere still counts one more.
        const again = { role: "roles/another", members: [user(1)], conditional: pick % 2 === 0 };
        expect(principalCount(asPolicy([...bindings, again], exemptions))).toBe(count + 1);
        expect(principalCount(asPolicy(bindings, [...exemptions, [user(1)]]))).toBe(count + 1);
      }),
    );
  });
});

describe("Google's own refusal of a policy over its size", () => {
  it("is QUOTA_EXCEEDED with the ways out, even below the predicted count (conditions, long identifiers)", async () => {
    // Google documents that it may allow fewer than 1,500 principals: it then answers as over the limit.
    const refusal = {
      error: {
        code: 400,
        status: "INVALID_ARGUMENT",
        message: "The number of members in the policy (1,501) is larger than the maximum allowed size 1,500.",
      },
    };
    const writes: string[] = [];
    const server = http.createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        const setting = req.url?.includes(":setIamPolicy") ?? false;
        if (setting) writes.push(req.url!);
        res.writeHead(setting ? 400 : 200, { "content-type": "application/json" });
        res.end(JSON.stringify(setting ? refusal : { version: 1, etag: "BwX=", bindings: [] }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const driver = new GcpIamPolicyDriver({ rootUrl: `http://127.0.0.1:${port}/`, accessToken: "t", attempts: 1 });
      const grant = plannedGcp(gcpInputs({ project: "customer-data" })).grant;
      const failure = await driver.ensure(grant).catch((e: unknown) => e);
      expect(failure).toMatchObject({
        code: "QUOTA_EXCEEDED",
        message: expect.stringMatching(
          /project customer-data .*size limit.*Ways out: grant the role to a Google group/,
        ),
      });
      expect(writes.length).toBeGreaterThan(0);
    } finally {
      server.close();
    }
  });
});
