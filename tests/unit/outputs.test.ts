import { beforeEach, describe, expect, it } from "vitest";
import { livePayloadInPlanTerms } from "../../provider/core/plan";
import type { ProviderMethods } from "../../provider/core/provider";
import type {
  AuthorizationState,
  ExtraValue,
  GrantBase,
  GrantOutput,
  PlannedAuthorization,
} from "../../provider/core/types";
import { z } from "zod";
import type { AwsGrant } from "../../provider/grants/aws/types";
import { azurePlanner } from "../../provider/grants/azure";
import type { AzureGrant, AzureResolved } from "../../provider/grants/azure/plan";
import { BUILT_IN_CLOUDS, cloudModule } from "../../provider/grants";
import {
  AZURE_IDENTITY,
  AZURE_SUBSCRIPTION,
  TARGET_ROLE_ARN,
  azureInputs,
  gcpInputs,
  plannedAzure,
  plannedGcp,
  rawInputs,
} from "../support/fixtures";
import { MemoryConnections, memoryAwsProvider } from "../support/memoryDrivers";

const CONNECTION = "http://127.0.0.1:8080|aws_data";

/** Every `grant` output the tests below made, checked at the end against its cloud's output schema. */
const shown: GrantOutput[] = [];

/** What the component shows of a state: its `grant` output and its `connection.extra`. */
function outputsOf(state: Pick<AuthorizationState, "grant" | "connection" | "resolved">) {
  const outputs = cloudModule(state.grant.cloud)!.outputs;
  const extra = state.connection.payload?.extra ?? {};
  const grant = outputs.grant(state.grant, state.resolved);
  shown.push(grant);
  return {
    grant,
    extra: outputs.connectionExtra(extra, state.grant, state.resolved),
  };
}

/** Every string in a value, however deep: where a word of the plan would hide. */
function stringsIn(value: unknown): string[] {
  if (typeof value === "string") return [value];
  if (value === null || typeof value !== "object") return [];
  return Object.values(value).flatMap(stringsIn);
}

describe("AWS outputs: a role given by name", () => {
  let connections: MemoryConnections;
  let provider: ProviderMethods<AwsGrant>;

  beforeEach(() => {
    ({ connections, provider } = memoryAwsProvider());
  });

  async function createdByName() {
    const raw = rawInputs({ aws: { targetRole: "data-reader", region: "us-east-1" }, credentials: { token: "t0ken" } });
    const checked = await provider.check({}, raw);
    const planned = checked.inputs as unknown as PlannedAuthorization<AwsGrant>;
    return { planned, ...(await provider.create(planned)) };
  }

  it("state keeps the plan's words; the outputs show the ARN, after create and after a refresh", async () => {
    const { planned, id, outs } = await createdByName();
    const words = "(ARN of role data-reader, resolved at apply)";
    expect(planned.connection.payload.extra.role_arn).toBe(words);
    expect(connections.store.get(CONNECTION)?.extra.role_arn).toBe(TARGET_ROLE_ARN);

    expect(outs.connection.payload?.extra.role_arn).toBe(words);
    expect(outputsOf(outs).extra).toEqual({ role_arn: TARGET_ROLE_ARN, region_name: "us-east-1" });
    expect(outputsOf(outs).grant).toMatchObject({ cloud: "aws", roleArn: TARGET_ROLE_ARN });

    const refreshed = await provider.read(id, outs);
    expect(refreshed.props.connection.payload?.extra.role_arn).toBe(words);
    expect(outputsOf(refreshed.props).extra).toEqual({ role_arn: TARGET_ROLE_ARN, region_name: "us-east-1" });
    expect(stringsIn(outputsOf(refreshed.props))).not.toContainEqual(expect.stringMatching(/resolved at apply/));
  });

  it("shows a role_arn edited by hand as a refresh found it, not the ARN it should be", async () => {
    const { id, outs } = await createdByName();
    connections.store.get(CONNECTION)!.extra.role_arn = "arn:aws:iam::999999999999:role/someone-else";
    const refreshed = await provider.read(id, outs);
    expect(outputsOf(refreshed.props).extra.role_arn).toBe("arn:aws:iam::999999999999:role/someone-else");
  });

  it("keeps the words while the ARN is not known (a preview's plan)", async () => {
    const { planned } = await createdByName();
    const extra = cloudModule("aws")!.outputs.connectionExtra(planned.connection.payload.extra, planned.grant, {});
    expect(extra.role_arn).toBe("(ARN of role data-reader, resolved at apply)");
  });

  it("shows the ARN of a role given by ARN as IAM reports it", async () => {
    const checked = await provider.check({}, rawInputs({ credentials: { token: "t0ken" } }));
    const { outs } = await provider.create(checked.inputs as unknown as PlannedAuthorization<AwsGrant>);
    const reported = { ...outs, resolved: { ...outs.resolved, roleArn: TARGET_ROLE_ARN.replace("data", "Data") } };
    expect(outputsOf(reported).extra.role_arn).toBe(TARGET_ROLE_ARN.replace("data", "Data"));
  });
});

describe("Azure outputs: the identity's client id, tenant and principal", () => {
  const scope = `/subscriptions/${AZURE_SUBSCRIPTION}/resourceGroups/data`;
  const resolved: AzureResolved = {
    principalId: "99999999-0000-0000-0000-000000000001",
    clientId: "99999999-0000-0000-0000-000000000002",
    tenantId: "99999999-0000-0000-0000-000000000003",
    roleDefinitionId: "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
  };
  const planned = plannedAzure(azureInputs({ roleAssignment: { scope, role: "Storage Blob Data Reader" } }));
  // What create stores: the plan, and what apply learned beside it.
  const created: AuthorizationState<AzureGrant, AzureResolved> = { ...planned, resolved };
  // What Airflow holds (apply's extra), and what a refresh stores of it: the plan's terms.
  const written = {
    ...planned.connection.payload,
    extra: azurePlanner.extraForApply(planned.connection.payload.extra, resolved),
  };
  const refreshed: AuthorizationState<AzureGrant, AzureResolved> = {
    ...created,
    connection: {
      ...created.connection,
      payload: livePayloadInPlanTerms(azurePlanner, written, planned.connection.payload, resolved),
    },
  };

  it("state keeps the plan's words for all three", () => {
    expect(refreshed.connection.payload).toEqual(planned.connection.payload);
    expect(planned.connection.payload.extra).toMatchObject({
      managed_identity_client_id: "(client id of airflow-reader, resolved at apply)",
      workload_identity_tenant_id: "(tenant of airflow-reader, resolved at apply)",
    });
    expect(planned.grant.roleAssignment?.principal).toBe("(principal of airflow-reader, resolved at apply)");
  });

  it.each([
    ["after create", created],
    ["after a refresh", refreshed],
  ])("the outputs show the ids %s", (_when, state) => {
    const { grant, extra } = outputsOf(state as AuthorizationState);
    expect(extra).toEqual({
      managed_identity_client_id: resolved.clientId,
      workload_identity_tenant_id: resolved.tenantId,
      subscriptionId: AZURE_SUBSCRIPTION,
    });
    expect(extra).toEqual(written.extra);
    expect(grant).toMatchObject({
      cloud: "azure",
      identity: AZURE_IDENTITY,
      clientId: resolved.clientId,
      tenantId: resolved.tenantId,
      principalId: resolved.principalId,
      roleAssignment: { scope, principal: resolved.principalId, roleDefinitionId: resolved.roleDefinitionId },
    });
    expect(stringsIn({ grant, extra })).not.toContainEqual(expect.stringMatching(/resolved at apply/));
  });

  it("shows a client id edited by hand as a refresh found it", () => {
    const edited = { ...written, extra: { ...written.extra, managed_identity_client_id: "someone-elses" } };
    const payload = livePayloadInPlanTerms(azurePlanner, edited, planned.connection.payload, resolved);
    const { extra } = outputsOf({
      ...refreshed,
      connection: { ...refreshed.connection, payload },
    } as AuthorizationState);
    expect(extra.managed_identity_client_id).toBe("someone-elses");
    expect(extra.workload_identity_tenant_id).toBe(resolved.tenantId);
  });

  it("keeps the words while the ids are not known (a preview's plan)", () => {
    const extra = cloudModule("azure")!.outputs.connectionExtra(planned.connection.payload.extra, planned.grant, {});
    expect(extra).toEqual(planned.connection.payload.extra);
  });
});

describe("GCP outputs", () => {
  it.each([
    { grant: { kind: "projectRole", role: "roles/bigquery.dataViewer" } },
    { grant: { kind: "impersonation", serviceAccount: "reader@customer-data.iam.gserviceaccount.com" } },
    {
      grant: {
        kind: "customerManagedIdentity",
        serviceAccount: "reader@customer-data.iam.gserviceaccount.com",
        workloadIdentityPool: "customer-data.svc.id.goog",
        namespace: "celestial-galaxy-1234",
      },
    },
  ])("a plan knows every value the outputs show: nothing is resolved at apply (%j)", (gcp) => {
    const identity = gcp.grant.kind === "customerManagedIdentity" ? { workloadIdentity: undefined } : {};
    const planned = plannedGcp(gcpInputs(gcp, identity));
    const state = { ...planned, resolved: { preExistingMembers: [] } } as unknown as AuthorizationState<GrantBase>;
    const { grant, extra } = outputsOf(state);
    expect(extra).toEqual(planned.connection.payload.extra as Record<string, ExtraValue>);
    expect(grant).toMatchObject({ cloud: "gcp", resource: planned.grant.resource, members: planned.grant.members });
    expect(stringsIn({ planned, grant, extra })).not.toContainEqual(expect.stringMatching(/resolved at apply/));
  });
});

describe("each cloud's grant output is defined by its module's output schema", () => {
  /** Every field of an object schema, nested ones included, with its path. */
  function fields(schema: z.ZodType, at: string): Array<{ path: string; schema: z.ZodType }> {
    const inner = schema instanceof z.ZodNullable || schema instanceof z.ZodOptional ? schema.unwrap() : schema;
    const element = inner instanceof z.ZodArray ? inner.element : inner;
    if (!(element instanceof z.ZodObject)) return [];
    return Object.entries(element.shape as Record<string, z.ZodType>).flatMap(([key, field]) => [
      { path: `${at}.${key}`, schema: field },
      ...fields(field, `${at}.${key}`),
    ]);
  }

  it("describes every output field, so the description can document it", async () => {
    for (const cloud of BUILT_IN_CLOUDS) {
      const schema = (await cloud.loadOutputSchema()) as z.ZodType;
      const undocumented = fields(schema, cloud.cloud).filter((f) => !f.schema.description);
      expect(undocumented.map((f) => f.path)).toEqual([]);
    }
  });

  it("matches what the outputs above showed, field for field (no field left out, none extra)", async () => {
    expect(new Set(shown.map((g) => g.cloud))).toEqual(new Set(BUILT_IN_CLOUDS.map((c) => c.cloud)));
    for (const grant of shown) {
      const schema = await cloudModule(grant.cloud)!.loadOutputSchema();
      const parsed = schema.safeParse(grant);
      expect(parsed.success ? [] : parsed.error.issues, `${grant.cloud} output`).toEqual([]);
    }
  });
});
