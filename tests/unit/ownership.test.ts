import fc from "fast-check";
import { beforeEach, describe, expect, it, vi } from "vitest";
import {
  FreshListings,
  claimDigest,
  claimOf,
  claimedByOthers,
  ledgerRecord,
  readLedger,
  withClaim,
  withoutClaim,
} from "../../provider/core/claims";
import type { AuthorizationState } from "../../provider/core/types";
import type { AwsGrant } from "../../provider/grants/aws/types";
import type { ProviderMethods } from "../../provider/core/provider";
import { findStatement } from "../../provider/grants/aws/trustPolicy";
import { awsPlanner } from "../../provider/grants/aws/planner";
import { gcpPlanner } from "../../provider/grants/gcp/planner";
import { azurePlanner } from "../../provider/grants/azure/planner";
import type { AzureGrant } from "../../provider/grants/azure/plan";
import {
  MemoryAzure,
  MemoryConnections,
  MemoryTrust,
  memoryAwsProvider,
  memoryAzureProvider,
} from "../support/memoryDrivers";
import {
  AZURE_IDENTITY,
  AZURE_SUBSCRIPTION,
  PlannedAws,
  WORKLOAD_IDENTITY,
  azureInputs,
  gcpInputs,
  plannedAzure,
  plannedGcp,
  rawInputs,
} from "../support/fixtures";

const TARGET = { url: "http://127.0.0.1:8080", apiVersion: "v2", auth: { kind: "token" }, credentials: {} } as const;

let trust: MemoryTrust;
let connections: MemoryConnections;
let provider: ProviderMethods<AwsGrant>;

beforeEach(() => {
  ({ trust, connections, provider } = memoryAwsProvider({ AIRFLOW_API_TOKEN: "tok" }));
});

async function checked(overrides: Record<string, unknown> = {}) {
  const result = await provider.check({}, rawInputs(overrides));
  expect(result.failures).toBeUndefined();
  return result.inputs as unknown as PlannedAws;
}

function principals(): string[] {
  const statement = findStatement(trust.roles.get("data-reader")!.policy, "AirflowDAAssumeRole");
  const aws = (statement?.Principal as { AWS?: string | string[] } | undefined)?.AWS;
  return aws === undefined ? [] : ([] as string[]).concat(aws);
}

const legacy = (state: AuthorizationState<AwsGrant>) => {
  const { instance: _instance, ...resolved } = state.resolved;
  return { ...state, resolved } as AuthorizationState<AwsGrant>;
};

describe("a replacement deleted again after its successor exists (delete-before-replace, then a fixed create)", () => {
  it("leaves the successor's connection and trust entry in place", async () => {
    const planned = await checked();
    const first = await provider.create(planned);
    // The engine's replacement: the old one goes first, the create fails, the state keeps the old one.
    await provider.delete(first.id, first.outs);
    expect(principals()).toEqual([]);
    // The next `up`: the create succeeds, then an engine that retries the pending delete deletes the old one again.
    const second = await provider.create(planned);
    expect(second.outs.resolved.instance).not.toBe(first.outs.resolved.instance);
    await provider.delete(first.id, first.outs);
    expect(principals()).toEqual([WORKLOAD_IDENTITY]);
    expect(await connections.read(TARGET, "aws_data")).toBeDefined();
    // ... and the successor still deletes all of it.
    await provider.delete(second.id, second.outs);
    expect(principals()).toEqual([]);
    expect(connections.store.size).toBe(0);
  });

  it("does the same for state written by an earlier release, which holds no instance", async () => {
    const planned = await checked();
    const first = await provider.create(planned);
    await provider.delete(first.id, legacy(first.outs));
    await provider.create(planned);
    await provider.delete(first.id, legacy(first.outs));
    expect(principals()).toEqual([WORKLOAD_IDENTITY]);
    expect(await connections.read(TARGET, "aws_data")).toBeDefined();
  });

  it("keeps the entry when the successor's connection has another id in the same Airflow", async () => {
    const first = await provider.create(await checked());
    await provider.delete(first.id, first.outs);
    const moved = await checked({
      connection: { connectionId: "aws_data_2", airflow: { url: TARGET.url, auth: { kind: "token" } } },
    });
    await provider.create(moved);
    await provider.delete(first.id, first.outs);
    expect(principals()).toEqual([WORKLOAD_IDENTITY]);
    expect(await connections.read(TARGET, "aws_data_2")).toBeDefined();
  });
});

describe("two resources that trust the same identity on the same role", () => {
  const other = {
    owner: "other/prod/s3-reader",
    connection: { connectionId: "aws_other", airflow: { url: TARGET.url, auth: { kind: "token" } } },
  };

  it("share one entry: destroying either leaves it to the other, destroying both removes it", async () => {
    const a = await provider.create(await checked());
    const b = await provider.create(await checked(other));
    expect(principals()).toEqual([WORKLOAD_IDENTITY]);
    await provider.delete(a.id, a.outs);
    expect(principals()).toEqual([WORKLOAD_IDENTITY]);
    expect(await connections.read(TARGET, "aws_data")).toBeUndefined();
    const refreshed = await provider.read(b.id, b.outs);
    expect(refreshed.props.grant.statement).toEqual(b.outs.grant.statement);
    await provider.delete(b.id, b.outs);
    expect(principals()).toEqual([]);
  });

  it("deleted at the same moment, the later one sees neither claim: nothing is left behind", async () => {
    const a = await provider.create(await checked());
    const b = await provider.create(await checked(other));
    await Promise.all([provider.delete(a.id, a.outs), provider.delete(b.id, b.outs)]);
    expect(principals()).toEqual([]);
    expect(connections.store.size).toBe(0);
  });

  it("an update that stops trusting the identity leaves the entry another resource claims", async () => {
    const a = await provider.create(await checked());
    await provider.create(await checked(other));
    const elsewhere = "arn:aws:iam::111122223333:role/astro-other-galaxy-9876";
    const news = await checked({ workloadIdentity: elsewhere });
    await provider.update(a.id, a.outs, news);
    expect(principals().sort()).toEqual([elsewhere, WORKLOAD_IDENTITY].sort());
  });

  it("a resource of an earlier release (no claim yet) gets its claim on its first update", async () => {
    const a = await provider.create(await checked());
    const planned = await checked({ connection: { ...rawInputs().connection, description: "reads the lake" } });
    const updated = await provider.update(a.id, legacy(a.outs), planned);
    expect(updated.outs.resolved.instance).toMatch(/^[0-9a-f]{12}$/);
    const claim = claimOf((await connections.read(TARGET, "aws_data"))?.description);
    expect(claim?.instance).toBe(updated.outs.resolved.instance);
    expect((await connections.read(TARGET, "aws_data"))?.description).toMatch(
      /^reads the lake\n\[DeploymentAuthorization /,
    );
  });
});

describe("a cluster's role trusted for Deployments whose connections live in different Airflows", () => {
  const CLUSTER_ROLE = "arn:aws:iam::222233334444:role/AirflowS3Logs-clu1234567890";
  const OTHER_AIRFLOW = "http://127.0.0.1:9090";
  const forCluster = (airflowUrl: string, connectionId: string, owner: string) =>
    checked({
      owner,
      workloadIdentity: undefined,
      aws: { ...rawInputs().aws, trust: { kind: "clusterRole", clusterRoleArn: CLUSTER_ROLE } },
      connection: { connectionId, airflow: { url: airflowUrl, auth: { kind: "token" } } },
    });
  const trusted = () => {
    const statement = findStatement(trust.roles.get("data-reader")!.policy, "AirflowDAAssumeRole");
    const aws = (statement?.Principal as { AWS?: string | string[] } | undefined)?.AWS;
    return aws === undefined ? [] : ([] as string[]).concat(aws);
  };

  it("keeps each resource's claim on the role: destroying one leaves the trust to the other", async () => {
    const a = await provider.create(await forCluster(TARGET.url, "aws_logs", "team-a/prod/logs"));
    const b = await provider.create(await forCluster(OTHER_AIRFLOW, "aws_logs", "team-b/prod/logs"));
    expect(trusted()).toEqual([CLUSTER_ROLE]);
    expect([...trust.claims.get("data-reader")!.keys()].sort()).toEqual(
      [a.outs.resolved.instance, b.outs.resolved.instance].sort(),
    );
    await provider.delete(a.id, a.outs);
    expect(trusted()).toEqual([CLUSTER_ROLE]);
    expect([...trust.claims.get("data-reader")!.keys()]).toEqual([b.outs.resolved.instance]);
    await provider.delete(b.id, b.outs);
    expect(trusted()).toEqual([]);
    expect(trust.claims.get("data-reader")!.size).toBe(0);
  });

  it("deleted at the same moment, the later one sees neither claim: nothing is left behind", async () => {
    const a = await provider.create(await forCluster(TARGET.url, "aws_logs", "team-a/prod/logs"));
    const b = await provider.create(await forCluster(OTHER_AIRFLOW, "aws_logs", "team-b/prod/logs"));
    await Promise.all([provider.delete(a.id, a.outs), provider.delete(b.id, b.outs)]);
    expect(trusted()).toEqual([]);
  });

  it("an update away from the cluster's role takes the claim back and leaves the trust to the other", async () => {
    const a = await provider.create(await forCluster(TARGET.url, "aws_logs", "team-a/prod/logs"));
    const b = await provider.create(await forCluster(OTHER_AIRFLOW, "aws_logs", "team-b/prod/logs"));
    const updated = await provider.update(a.id, a.outs, await checked({ owner: "team-a/prod/logs" }));
    expect(trusted().sort()).toEqual([CLUSTER_ROLE, WORKLOAD_IDENTITY].sort());
    expect([...trust.claims.get("data-reader")!.keys()]).toEqual([b.outs.resolved.instance]);
    await provider.delete(b.id, b.outs);
    expect(trusted()).toEqual([WORKLOAD_IDENTITY]);
    await provider.delete(a.id, updated.outs);
  });

  it("a create that fails takes its claim back", async () => {
    connections.failNextCreate = new Error("Airflow is down");
    await expect(provider.create(await forCluster(TARGET.url, "aws_logs", "team-a/prod/logs"))).rejects.toThrow();
    expect(trust.claims.get("data-reader")?.size ?? 0).toBe(0);
    expect(trusted()).toEqual([]);
  });

  it("keeps no claim on the role for a Deployment's own role (its connection's place is the only one)", async () => {
    await provider.create(await checked());
    expect(trust.claims.get("data-reader")?.size ?? 0).toBe(0);
  });
});

/** The same Deployment's resource, with its connection in another Airflow. */
const elsewhere = {
  owner: "team-b/prod/s3-reader",
  connection: { connectionId: "aws_data", airflow: { url: "http://127.0.0.1:9090", auth: { kind: "token" } } },
};
const roleTags = () => new Map(trust.claims.get("data-reader") ?? []);

/** Created one here and one elsewhere, then deleted at the same moment, five times: nothing is left. */
async function expectConcurrentDeletesLeaveNothing() {
  for (let run = 0; run < 5; run++) {
    const a = await provider.create(await checked());
    const b = await provider.create(await checked(elsewhere));
    await Promise.all([provider.delete(a.id, a.outs), provider.delete(b.id, b.outs)]);
    expect(principals()).toEqual([]);
    expect(roleTags()).toEqual(new Map());
  }
}

describe("one Deployment trusted on one role by resources whose connections live in different places", () => {
  let digest: string;

  beforeEach(async () => {
    digest = claimDigest(awsPlanner.claims((await checked()).grant)[0]!);
  });

  it("the one that finds the entry claims it on the role: destroying the owner leaves it, the last one removes it", async () => {
    const a = await provider.create(await checked());
    expect(a.outs.resolved.sharesRecorded).toBeUndefined();
    const b = await provider.create(await checked(elsewhere));
    expect(b.outs.resolved.sharesRecorded).toEqual([digest]);
    expect(roleTags()).toEqual(new Map([[b.outs.resolved.instance, [digest]]]));
    await provider.delete(a.id, a.outs);
    expect(principals()).toEqual([WORKLOAD_IDENTITY]);
    expect(roleTags()).toEqual(new Map([[b.outs.resolved.instance, [digest]]]));
    await provider.delete(b.id, b.outs);
    expect(principals()).toEqual([]);
    expect(roleTags()).toEqual(new Map());
  });

  it("an entry nobody claims anywhere (an interrupted create's) is the finder's share: its destroy removes it", async () => {
    const interrupted = await provider.create(await checked());
    // The create was killed before the engine saved it: its connection is gone, its entry stays.
    connections.store.clear();
    const again = await provider.create(await checked());
    expect(again.outs.resolved.sharesRecorded).toEqual([digest]);
    await provider.delete(again.id, again.outs);
    expect(principals()).toEqual([]);
    expect(roleTags()).toEqual(new Map());
    expect(interrupted.outs.resolved.instance).not.toBe(again.outs.resolved.instance);
  });

  it("an owner of an earlier release (no instance, no claim) keeps the entry for the one that found it", async () => {
    const a = await provider.create(await checked());
    const b = await provider.create(await checked(elsewhere));
    await provider.delete(a.id, legacy(a.outs));
    expect(principals()).toEqual([WORKLOAD_IDENTITY]);
    await provider.delete(b.id, b.outs);
    expect(principals()).toEqual([]);
    expect(roleTags()).toEqual(new Map());
  });

  it("deleted at the same moment, nothing is left behind: no entry, no tag", expectConcurrentDeletesLeaveNothing);

  it("an update keeps the share it found and its claim", async () => {
    const a = await provider.create(await checked());
    const b = await provider.create(await checked(elsewhere));
    const updated = await provider.update(
      b.id,
      b.outs,
      await checked({ ...elsewhere, connection: { ...elsewhere.connection, description: "reads the lake" } }),
    );
    expect(updated.outs.resolved.sharesRecorded).toEqual([digest]);
    expect(roleTags().get(b.outs.resolved.instance!)).toEqual([digest]);
    await provider.delete(a.id, a.outs);
    expect(principals()).toEqual([WORKLOAD_IDENTITY]);
    await provider.delete(b.id, updated.outs);
    expect(principals()).toEqual([]);
    expect(roleTags()).toEqual(new Map());
  });

  it("a third that finds it where the second found it claims it on the role too: the owner's delete keeps it", async () => {
    const a = await provider.create(await checked());
    const x = await provider.create(await checked(elsewhere));
    const b = await provider.create(
      await checked({ owner: "team-b/prod/other", connection: { ...elsewhere.connection, connectionId: "aws_other" } }),
    );
    expect(b.outs.resolved.sharesRecorded).toEqual([digest]);
    await provider.delete(x.id, x.outs);
    await provider.delete(a.id, a.outs);
    expect(principals()).toEqual([WORKLOAD_IDENTITY]);
    await provider.delete(b.id, b.outs);
    expect(principals()).toEqual([]);
    expect(roleTags()).toEqual(new Map());
  });

  it("two in the same Airflow share it as owners, with no tag on the role", async () => {
    const a = await provider.create(await checked());
    const b = await provider.create(
      await checked({
        owner: "other/prod/s3-reader",
        connection: { connectionId: "aws_other", airflow: { url: TARGET.url, auth: { kind: "token" } } },
      }),
    );
    expect(b.outs.resolved.sharesRecorded).toBeUndefined();
    expect(roleTags()).toEqual(new Map());
    await provider.delete(a.id, a.outs);
    await provider.delete(b.id, b.outs);
    expect(principals()).toEqual([]);
  });
});

describe("a unit found granted that may be a stranger's (as a Google member), relied on by resources in different places", () => {
  let digest: string;

  beforeEach(async () => {
    ({ trust, connections, provider } = memoryAwsProvider({ AIRFLOW_API_TOKEN: "tok" }, { foundMayBeForeign: true }));
    digest = claimDigest(awsPlanner.claims((await checked()).grant)[0]!);
  });

  it("the one that finds it relies on it without owning it; destroying the owner hands it over", async () => {
    const a = await provider.create(await checked());
    const b = await provider.create(await checked(elsewhere));
    expect(b.outs.resolved.sharesFound).toEqual([digest]);
    expect(roleTags()).toEqual(new Map([[b.outs.resolved.instance, [`x${digest}`]]]));
    await provider.delete(a.id, a.outs);
    expect(principals()).toEqual([WORKLOAD_IDENTITY]);
    expect(roleTags()).toEqual(
      new Map([
        [b.outs.resolved.instance, [`x${digest}`]],
        [`handover-${digest}`, [digest]],
      ]),
    );
    await provider.delete(b.id, b.outs);
    expect(principals()).toEqual([]);
    expect(roleTags()).toEqual(new Map());
  });

  it("destroying the one that found it first leaves it to its owner, who removes it last", async () => {
    const a = await provider.create(await checked());
    const b = await provider.create(await checked(elsewhere));
    await provider.delete(b.id, b.outs);
    expect(principals()).toEqual([WORKLOAD_IDENTITY]);
    expect(roleTags()).toEqual(new Map());
    await provider.delete(a.id, a.outs);
    expect(principals()).toEqual([]);
  });

  it("nobody hands over what was granted by hand: it stays", async () => {
    const byHand = await provider.create(await checked());
    connections.store.clear();
    const b = await provider.create(await checked(elsewhere));
    expect(b.outs.resolved.sharesFound).toEqual([digest]);
    await provider.delete(b.id, b.outs);
    expect(principals()).toEqual([WORKLOAD_IDENTITY]);
    expect(roleTags()).toEqual(new Map());
    expect(byHand.outs.resolved.sharesFound).toBeUndefined();
  });

  it("the owner's handover lands after the other one looked: the owner removes the entry itself", async () => {
    const a = await provider.create(await checked());
    const b = await provider.create(await checked(elsewhere));
    const record = trust.recordClaim.bind(trust);
    let finderDeleted = false;
    vi.spyOn(trust, "recordClaim").mockImplementation(async (role, owner, digests) => {
      // The finder's delete runs whole between the owner's look at the ledger and its handover.
      if (owner.startsWith("handover-")) {
        await provider.delete(b.id, b.outs);
        finderDeleted = true;
      }
      return record(role, owner, digests);
    });
    await provider.delete(a.id, a.outs);
    expect(finderDeleted).toBe(true);
    expect(principals()).toEqual([]);
    expect(roleTags()).toEqual(new Map());
  });

  it("deleted at the same moment, nothing is left behind", expectConcurrentDeletesLeaveNothing);
});

describe("one Deployment federated with one identity by resources whose connections live in different places", () => {
  const OTHER_AIRFLOW = "http://127.0.0.1:9090";
  const SCOPE = `/subscriptions/${AZURE_SUBSCRIPTION}/resourceGroups/data`;
  let azure: MemoryAzure;
  let provider: ProviderMethods<AzureGrant>;

  beforeEach(() => {
    ({ azure, provider } = memoryAzureProvider({ AIRFLOW_API_TOKEN: "tok" }));
    azure.addIdentity(AZURE_IDENTITY, { team: "data" });
  });

  const at = async (airflowUrl: string, owner: string) => {
    const raw = azureInputs(
      { namespace: "galaxy-a", roleAssignment: { scope: SCOPE, role: "Storage Blob Data Reader" } },
      { owner, connection: { connectionId: "azure_lake", airflow: { url: airflowUrl, auth: { kind: "token" } } } },
    );
    const result = await provider.check({}, raw);
    expect(result.failures).toBeUndefined();
    return result.inputs as unknown as Parameters<typeof provider.create>[0];
  };
  const credentialNames = () => [...azure.identities.get(AZURE_IDENTITY.toLowerCase())!.credentials.keys()].sort();

  it("keeps the credentials and the assignment for the one that found them when their owner goes first", async () => {
    for (const run of [1, 2]) {
      const a = await provider.create(await at(TARGET.url, "team-a/prod/lake"));
      const b = await provider.create(await at(OTHER_AIRFLOW, "team-b/prod/lake"));
      // The credentials and the assignment are found made already: shared, and claimed on the identity.
      const units = azurePlanner.claims(b.outs.grant).map(claimDigest);
      expect([...(b.outs.resolved.sharesRecorded ?? [])].sort()).toEqual(units.sort());
      const [first, second] = [a, b];
      expect(run).toBeGreaterThan(0);
      await provider.delete(first.id, first.outs);
      expect(credentialNames()).toEqual(a.outs.grant.credentials.map((c) => c.name).sort());
      expect(azure.assignments.size).toBe(1);
      await provider.delete(second.id, second.outs);
      expect(credentialNames()).toEqual([]);
      expect(azure.assignments.size).toBe(0);
      expect(azure.identities.get(AZURE_IDENTITY.toLowerCase())!.tags).toEqual(new Map([["team", "data"]]));
    }
  });
});

describe("an Azure role assignment shared by Deployments whose connections live in different Airflows", () => {
  const OTHER_AIRFLOW = "http://127.0.0.1:9090";
  const SCOPE = `/subscriptions/${AZURE_SUBSCRIPTION}/resourceGroups/data`;
  let azure: MemoryAzure;
  let connections: MemoryConnections;
  let provider: ProviderMethods<AzureGrant>;

  beforeEach(() => {
    ({ azure, connections, provider } = memoryAzureProvider({ AIRFLOW_API_TOKEN: "tok" }));
    azure.addIdentity(AZURE_IDENTITY, { team: "data" });
  });

  const forDeployment = async (
    namespace: string,
    airflowUrl: string,
    azureExtra: Record<string, unknown> = {},
    roleAssignment: Record<string, string> | null = { scope: SCOPE, role: "Storage Blob Data Reader" },
  ) => {
    const raw = azureInputs(
      { namespace, ...(roleAssignment ? { roleAssignment } : {}), ...azureExtra },
      {
        owner: `${namespace}/prod/lake`,
        connection: { connectionId: "azure_lake", airflow: { url: airflowUrl, auth: { kind: "token" } } },
      },
    );
    const result = await provider.check({}, raw);
    expect(result.failures).toBeUndefined();
    return result.inputs as unknown as Parameters<typeof provider.create>[0];
  };
  const assignmentExists = () => azure.assignments.size === 1;
  const credentialNames = () => [...azure.identities.get(AZURE_IDENTITY.toLowerCase())!.credentials.keys()].sort();
  const namesOf = (state: { grant: AzureGrant }) => state.grant.credentials.map((c) => c.name).sort();

  it("keeps each resource's claim on the identity: destroying one leaves the assignment to the other", async () => {
    const a = await provider.create(await forDeployment("galaxy-a", TARGET.url));
    const b = await provider.create(await forDeployment("galaxy-b", OTHER_AIRFLOW));
    expect(assignmentExists()).toBe(true);
    expect([...azure.claimTags(AZURE_IDENTITY).keys()].sort()).toEqual(
      [a.outs.resolved.instance, b.outs.resolved.instance].sort(),
    );
    // One digest each, the assignment's: credentials are each Deployment's own.
    expect(azure.claimTags(AZURE_IDENTITY).get(a.outs.resolved.instance!)).toEqual([
      claimDigest(azurePlanner.sharedAcrossPlaces!(a.outs.grant)[0]!),
    ]);
    await provider.delete(a.id, a.outs);
    expect(assignmentExists()).toBe(true);
    expect(credentialNames()).toEqual(namesOf(b.outs));
    expect([...azure.claimTags(AZURE_IDENTITY).keys()]).toEqual([b.outs.resolved.instance]);
    await provider.delete(b.id, b.outs);
    expect(assignmentExists()).toBe(false);
    expect(credentialNames()).toEqual([]);
    expect(azure.claimTags(AZURE_IDENTITY).size).toBe(0);
    expect(azure.identities.get(AZURE_IDENTITY.toLowerCase())!.tags).toEqual(new Map([["team", "data"]]));
  });

  it("keeps the assignment for a Deployment whose credentials were made by hand and adopted", async () => {
    const adopter = await forDeployment("galaxy-b", OTHER_AIRFLOW, { adoptExistingCredentials: true });
    // The same issuer and subjects under names of someone's choosing: not recognisably ours by name.
    for (const [i, c] of adopter.grant.credentials.entries()) {
      azure.addCredential(AZURE_IDENTITY, { ...c, name: `by-hand-${i}` });
    }
    const a = await provider.create(await forDeployment("galaxy-a", TARGET.url));
    const b = await provider.create(adopter);
    expect(b.outs.resolved.adoptedCredentials).toHaveLength(adopter.grant.credentials.length);
    await provider.delete(a.id, a.outs);
    expect(assignmentExists()).toBe(true);
    expect(credentialNames()).toEqual(adopter.grant.credentials.map((_, i) => `by-hand-${i}`).sort());
    await provider.delete(b.id, b.outs);
    expect(assignmentExists()).toBe(false);
    expect(credentialNames()).toEqual([]);
  });

  it("deleted at the same moment (in one process): nothing is left behind, no claim stays", async () => {
    const a = await provider.create(await forDeployment("galaxy-a", TARGET.url));
    const b = await provider.create(await forDeployment("galaxy-b", OTHER_AIRFLOW));
    await Promise.all([provider.delete(a.id, a.outs), provider.delete(b.id, b.outs)]);
    expect(assignmentExists()).toBe(false);
    expect(credentialNames()).toEqual([]);
    expect(azure.claimTags(AZURE_IDENTITY).size).toBe(0);
    expect(connections.store.size).toBe(0);
  });

  it("a create that fails takes its claim back", async () => {
    const record = vi.spyOn(azure.ledger, "record");
    connections.failNextCreate = new Error("Airflow is down");
    await expect(provider.create(await forDeployment("galaxy-a", TARGET.url))).rejects.toThrow();
    expect(record).toHaveBeenCalledOnce();
    expect(azure.claimTags(AZURE_IDENTITY).size).toBe(0);
    expect(assignmentExists()).toBe(false);
  });

  it("an update that drops the role assignment takes the claim back and leaves the assignment to the other", async () => {
    const a = await provider.create(await forDeployment("galaxy-a", TARGET.url));
    const b = await provider.create(await forDeployment("galaxy-b", OTHER_AIRFLOW));
    await provider.update(a.id, a.outs, await forDeployment("galaxy-a", TARGET.url, {}, null));
    expect([...azure.claimTags(AZURE_IDENTITY).keys()]).toEqual([b.outs.resolved.instance]);
    expect(assignmentExists()).toBe(true);
  });

  it("keeps no claim on the identity for a resource without a role assignment", async () => {
    await provider.create(await forDeployment("galaxy-a", TARGET.url, {}, null));
    expect(azure.claimTags(AZURE_IDENTITY).size).toBe(0);
  });

  it("fails with QUOTA_EXCEEDED before writing anything when the identity holds 50 tags", async () => {
    for (let i = 1; i < 50; i++) azure.identities.get(AZURE_IDENTITY.toLowerCase())!.tags.set(`cost-${i}`, "x");
    const error = await provider.create(await forDeployment("galaxy-a", TARGET.url)).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "QUOTA_EXCEEDED" });
    expect(credentialNames()).toEqual([]);
    expect(assignmentExists()).toBe(false);
    expect(connections.store.size).toBe(0);
  });
});

describe("a description too long to take the claim", () => {
  it("is written as planned, and the resource deletes as before", async () => {
    const description = "d".repeat(4990);
    const planned = await checked({ connection: { ...rawInputs().connection, description } });
    const { id, outs } = await provider.create(planned);
    expect((await connections.read(TARGET, "aws_data"))?.description).toBe(description);
    await provider.delete(id, outs);
    expect(principals()).toEqual([]);
    expect(connections.store.size).toBe(0);
  });
});

describe("claims", () => {
  it("a ledger record keeps found digests apart from owned ones, whatever hex digit a digest starts with", () => {
    const record = ledgerRecord(["f4420527", "0badc0de"], ["fa11ed00", "0badc0de"]);
    expect(record).toEqual(["f4420527", "xfa11ed00", "x0badc0de"]);
    const read = readLedger(
      new Map([
        ["3f9a2c1b7d4e", record],
        ["5e6f7a8b9c0d", ["aaaaaaaa"]],
        ["handover-0badc0de", ["0badc0de"]],
      ]),
      "5e6f7a8b9c0d",
    );
    expect(read).toEqual({
      owned: new Set(["f4420527"]),
      found: new Set(["fa11ed00", "0badc0de"]),
      handovers: new Set(["0badc0de"]),
    });
  });

  it("a description round-trips through its claim, whatever its text", () => {
    fc.assert(
      fc.property(
        fc.option(fc.string(), { nil: null }),
        fc.stringMatching(/^[0-9a-f]{12}$/),
        fc.array(fc.string(), { maxLength: 6 }),
        (description, instance, keys) => {
          const written = withClaim(description, { instance, grants: keys.map(claimDigest) });
          expect(claimOf(written)).toEqual({ instance, grants: [...new Set(keys.map(claimDigest))].sort() });
          expect(withoutClaim(written, description)).toBe(description === "" ? "" : description);
        },
      ),
    );
  });

  it("a description without a claim is left as it is and claims nothing", () => {
    expect(withoutClaim("made by hand", "made by hand")).toBe("made by hand");
    expect(claimOf("[DeploymentAuthorization instance=xyz grants=]")).toBeUndefined();
    expect(
      claimedByOthers(
        ["made by hand", null, withClaim("x", { instance: "aaaaaaaaaaaa", grants: ["01234567"] })],
        "aaaaaaaaaaaa",
      ).size,
    ).toBe(0);
  });

  it("GCP members and Azure credentials and assignments are units another resource can claim", () => {
    const gcp = plannedGcp(gcpInputs()).grant;
    const [member] = gcpPlanner.claims(gcp);
    expect(gcpPlanner.withoutClaims(gcp, new Set([member!]))).toBeUndefined();
    expect(gcpPlanner.withoutClaims(gcp, new Set())).toBe(gcp);

    const azure = plannedAzure(
      azureInputs({
        roleAssignment: {
          role: "Storage Blob Data Reader",
          scope: `/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/data`,
        },
      }),
    ).grant;
    const keys = azurePlanner.claims(azure);
    expect(keys).toHaveLength(azure.credentials.length + 1);
    const assignment = keys.at(-1)!;
    const keptAssignment = azurePlanner.withoutClaims(azure, new Set([assignment]));
    expect(keptAssignment?.roleAssignment).toBeNull();
    expect(keptAssignment?.credentials).toEqual(azure.credentials);
    const keptFirst = azurePlanner.withoutClaims(azure, new Set([keys[0]!]));
    expect(keptFirst?.credentials).toEqual(azure.credentials.slice(1));
    expect(azurePlanner.withoutClaims(azure, new Set(keys))).toBeUndefined();
  });
});

describe("fresh listings", () => {
  it("callers that ask while a listing is in flight share the next one, started after it", async () => {
    const listings = new FreshListings<number>();
    let started = 0;
    let release: () => void = () => {};
    const list = () => {
      const n = ++started;
      return new Promise<number>((resolve) => (release = () => resolve(n)));
    };
    const first = listings.get("a", list);
    await Promise.resolve();
    await Promise.resolve();
    expect(started).toBe(1);
    const [second, third] = [listings.get("a", list), listings.get("a", list)];
    expect(started).toBe(1);
    release();
    expect(await first).toBe(1);
    await new Promise((r) => setTimeout(r, 0));
    expect(started).toBe(2);
    release();
    expect(await second).toBe(2);
    expect(await third).toBe(2);
  });
});
