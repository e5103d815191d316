import { describe, expect, it } from "vitest";
import { UNKNOWN } from "../../provider/core/unknown";
import { azurePlanner } from "../../provider/grants/azure";
import {
  AUDIENCE,
  credentialName,
  guidOf,
  isOtherDeploymentsCredential,
  staleAzureGrant,
} from "../../provider/grants/azure/plan";
import { parseInputs } from "../../provider/inputs";
import {
  AKS_ISSUER,
  AZURE_IDENTITY,
  AZURE_SUBSCRIPTION,
  azureInputs,
  diff,
  livePayload,
  plannedAzure,
} from "../support/fixtures";

function failuresOf(raw: unknown): Record<string, string> {
  const result = parseInputs(raw);
  if (result.ok) throw new Error("expected failures");
  return Object.fromEntries(result.failures.map((f) => [f.property, f.reason]));
}

const STORAGE = `/subscriptions/${AZURE_SUBSCRIPTION}/resourceGroups/data/providers/Microsoft.Storage/storageAccounts/lake`;

describe("Azure planning", () => {
  it("one credential per service account, four by default, named so people can tell they are ours", () => {
    const planned = plannedAzure(azureInputs());
    const ns = "celestial-galaxy-1234";
    expect(planned.grant.credentials.map((c) => c.subject)).toEqual(
      ["scheduler", "worker", "triggerer", "dag-processor"].map(
        (c) => `system:serviceaccount:${ns}:${ns}-${c}-serviceaccount`,
      ),
    );
    for (const c of planned.grant.credentials) {
      expect(c).toMatchObject({ issuer: AKS_ISSUER, audiences: [AUDIENCE] });
      expect(c.name).toMatch(/^airflowda-[0-9a-f]{8}-celestial-galaxy-1234-/);
      expect(c.name).toMatch(/^[a-zA-Z0-9][a-zA-Z0-9-_]{2,119}$/);
    }
    expect(planned.grant.roleAssignment).toBeNull();
    expect(planned.connection.payload).toMatchObject({
      conn_type: "azure",
      extra: {
        managed_identity_client_id: "(client id of airflow-reader, resolved at apply)",
        workload_identity_tenant_id: "(tenant of airflow-reader, resolved at apply)",
        subscriptionId: AZURE_SUBSCRIPTION,
      },
    });
  });

  it("keeps credential names within Entra's rules for the longest namespaces", () => {
    const name = credentialName(AKS_ISSUER, `${"n".repeat(63)}-dag-processor-serviceaccount.x`);
    expect(name.length).toBeLessThanOrEqual(120);
    expect(name).toMatch(/^[a-zA-Z0-9][a-zA-Z0-9-_]{2,119}$/);
  });

  it("names the role assignment by a GUID of scope, identity and role: the same for every Deployment that needs it", () => {
    const withRole = (role: string) =>
      plannedAzure(azureInputs({ roleAssignment: { scope: STORAGE, role } })).grant.roleAssignment!;
    const a = withRole("Storage Blob Data Reader");
    expect(a).toMatchObject({
      scope: STORAGE,
      role: "Storage Blob Data Reader",
      principal: "(principal of airflow-reader, resolved at apply)",
    });
    expect(a.name).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const other = plannedAzure(
      azureInputs({ namespace: "other-ns", roleAssignment: { scope: STORAGE, role: "Storage Blob Data Reader" } }),
    );
    expect(other.grant.roleAssignment!.name).toBe(a.name);
    expect(withRole("Storage Blob Data Contributor").name).not.toBe(a.name);
    expect(guidOf("x")).toBe(guidOf("x"));
  });

  it("accepts the identity as {subscriptionId, resourceGroup, name} and plans the same grant", () => {
    const byParts = plannedAzure(
      azureInputs({
        identity: { subscriptionId: AZURE_SUBSCRIPTION, resourceGroup: "airflow-rg", name: "airflow-reader" },
      }),
    );
    expect(byParts.grant.identity).toBe(AZURE_IDENTITY);
    expect(diff({ ...plannedAzure(azureInputs()), resolved: { apiVersion: "v2" } }, byParts).changes).toBe(false);
  });

  it("carries unknown namespaces and issuers to the preview", () => {
    const planned = plannedAzure(azureInputs({ namespace: UNKNOWN }));
    expect(planned.grant.credentials).toEqual([
      { name: UNKNOWN, issuer: AKS_ISSUER, subject: UNKNOWN, audiences: [AUDIENCE] },
    ]);
  });

  it("reads the resolved client and tenant ids back as the plan's words", () => {
    const planned = plannedAzure(azureInputs()).connection.payload;
    const resolved = { principalId: "p", clientId: "c-1", tenantId: "t-1" };
    const live = { ...planned, extra: { ...azurePlanner.extraForApply(planned.extra, resolved) } };
    expect(live.extra.managed_identity_client_id).toBe("c-1");
    const back = {
      ...live,
      extra: Object.fromEntries(
        Object.entries(live.extra).map(([k, v]) => [k, azurePlanner.extraInPlanTerms(k, v, planned.extra, resolved)]),
      ),
    };
    expect(back.extra).toEqual(planned.extra);
    expect(livePayload).toBeTypeOf("function");
  });

  it("takes back only dropped credentials, and the assignment when it moved", () => {
    const old = plannedAzure(
      azureInputs({ serviceAccounts: ["worker", "scheduler"], roleAssignment: { scope: STORAGE, role: "Reader" } }),
    ).grant;
    const fewer = plannedAzure(
      azureInputs({ serviceAccounts: ["worker"], roleAssignment: { scope: STORAGE, role: "Reader" } }),
    ).grant;
    const stale = staleAzureGrant(old, fewer)!;
    expect(stale.credentials.map((c) => c.subject)).toEqual([
      "system:serviceaccount:celestial-galaxy-1234:celestial-galaxy-1234-scheduler-serviceaccount",
    ]);
    expect(stale.roleAssignment).toBeNull();
    expect(staleAzureGrant(old, old)).toBeUndefined();
    const moved = plannedAzure(
      azureInputs({
        serviceAccounts: ["worker", "scheduler"],
        roleAssignment: { scope: STORAGE, role: "Contributor" },
      }),
    ).grant;
    expect(staleAzureGrant(old, moved)).toMatchObject({ credentials: [], roleAssignment: old.roleAssignment });
  });

  it("tells another Deployment's credentials from this one's and from foreign ones", () => {
    const grant = plannedAzure(azureInputs()).grant;
    const [ours] = grant.credentials;
    expect(isOtherDeploymentsCredential(ours!, grant)).toBe(false);
    expect(
      isOtherDeploymentsCredential(
        { ...ours!, subject: "system:serviceaccount:other:other-worker-serviceaccount" },
        grant,
      ),
    ).toBe(true);
    expect(isOtherDeploymentsCredential({ ...ours!, issuer: "https://other.example/" }, grant)).toBe(true);
    expect(isOtherDeploymentsCredential({ name: "by-hand", issuer: "https://x/", subject: "y" }, grant)).toBe(false);
  });
});

describe("Azure validation", () => {
  it("refuses service account names that would share one federated credential name", () => {
    // Kubernetes takes both names; Entra's credential names hold no dots, so both map to one.
    expect(failuresOf(azureInputs({ serviceAccountNames: ["etl.worker", "etl-worker"] }))).toEqual({
      "azure.serviceAccountNames": expect.stringMatching(
        /^name "etl.worker" and "etl-worker", which map to one federated credential name \(etl-worker after/,
      ),
    });
    expect(plannedAzure(azureInputs({ serviceAccountNames: ["etl.worker", "etl-reader"] })).grant.credentials).toEqual([
      expect.objectContaining({ subject: "system:serviceaccount:celestial-galaxy-1234:etl.worker" }),
      expect.objectContaining({ subject: "system:serviceaccount:celestial-galaxy-1234:etl-reader" }),
    ]);
  });

  it("names a bad identity, issuer, namespace and scope", () => {
    expect(
      failuresOf(
        azureInputs({
          identity: "/subscriptions/x/resourceGroups/y",
          issuerUrl: "http://insecure",
          namespace: "Bad_NS",
          roleAssignment: { scope: "storage-account", role: "Reader" },
        }),
      ),
    ).toEqual({
      "azure.identity": expect.stringMatching(/user-assigned managed identity: its resource id/),
      "azure.issuerUrl": expect.stringMatching(/https URL/),
      "azure.namespace": expect.stringMatching(/Kubernetes namespace/),
      "azure.roleAssignment.scope": expect.stringMatching(
        /resource id to assign the role at: .*such as \/subscriptions\//,
      ),
    });
    expect(
      failuresOf(azureInputs({ identity: { subscriptionId: "nope", resourceGroup: "rg", name: "airflow-reader" } })),
    ).toEqual({
      "azure.identity.subscriptionId": expect.stringMatching(/GUID/),
    });
  });

  it("refuses a workload identity (the service accounts federate), client secrets and the fields it sets in extra", () => {
    expect(failuresOf(azureInputs({}, { workloadIdentity: "x@y.iam.gserviceaccount.com" }))).toEqual({
      workloadIdentity: expect.stringMatching(/not used on Azure/),
    });
    const raw = azureInputs();
    const failures = failuresOf({
      ...raw,
      connection: {
        ...raw.connection,
        extra: { client_secret: "s", tenantId: "t", managed_identity_client_id: "c", retries: 3 },
      },
    });
    expect(failures).toEqual({
      "connection.extra.client_secret": expect.stringMatching(/key material/),
      "connection.extra.tenantId": expect.stringMatching(/client-secret authentication/),
      "connection.extra.managed_identity_client_id": expect.stringMatching(/set by the resource itself/),
    });
  });
});
