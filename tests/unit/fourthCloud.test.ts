import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { airflowSink } from "../../provider/connections/airflow";
import { createProvider } from "../../provider/core/provider";
import { reviewAuthorization } from "../../provider/core/review";
import type { AuthorizationState, PlannedAuthorization } from "../../provider/core/types";
import { BUILT_IN_CLOUDS, cloudModule, cloudModules, registerCloud } from "../../provider/grants";
import { loadInputParser } from "../../provider/inputs";
import { realDrivers } from "../../provider/runtime";
import { LabRealms, labCloud, labEndpoints, type LabGrant } from "../support/fakeCloud";
import { MemoryConnections } from "../support/memoryDrivers";
import { parseDiscoverArgs } from "../../cli/main";
import { readInventory } from "../../cli/discover/inventory";
import { discover, loadDiscoverers } from "../../cli/discover/match";
import { renderProgram } from "../../cli/discover/program";
import type { DeploymentAuthorizationArgs } from "../../sdk";

const AIRFLOW = "http://127.0.0.1:8080";
const IDENTITY = "deployment-7@lab";
const FOREIGN = "someone-else@lab";

registerCloud(labCloud);

/** The real provider over the registered clouds: the runtime's drivers for grants, an in-memory Airflow. */
function labProvider(endpoint: string) {
  const realms = new LabRealms();
  realms.addRealm("north", [FOREIGN]);
  realms.addRealm("south");
  labEndpoints.set(endpoint, realms);
  const connections = new MemoryConnections();
  const provider = createProvider({
    planners: () => cloudModules().map((c) => c.planner),
    loadParser: () => loadInputParser(cloudModules()),
    makeDrivers: (settings) => {
      const { grants, prepare } = realDrivers(settings, { LAB_ENDPOINT: endpoint });
      return { grants, prepare, connections: { airflow: airflowSink(connections) } };
    },
    env: {},
  });
  return { realms, connections, provider };
}

function raw(lab: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return {
    owner: "demo/dev/lab-reader",
    workloadIdentity: IDENTITY,
    lab,
    connection: { connectionId: "lab_north", airflow: { url: AIRFLOW, auth: { kind: "token" } }, ...extra },
    credentials: { token: "t0ken" },
  };
}

async function planned(provider: ReturnType<typeof labProvider>["provider"], inputs: Record<string, unknown>) {
  const { inputs: plan, failures } = await provider.check({}, inputs);
  expect(failures ?? []).toEqual([]);
  return plan as unknown as PlannedAuthorization<LabGrant>;
}

describe("a fourth cloud, registered from the tests", () => {
  it("joins the list after the built-in clouds, which stay as they were", () => {
    expect(cloudModules().map((c) => c.cloud)).toEqual([...BUILT_IN_CLOUDS.map((c) => c.cloud), "lab"]);
    expect(cloudModule("lab")).toBe(labCloud);
    expect(() => registerCloud(labCloud)).toThrow(/registered already/);
  });

  it("is checked with its own schema, refinements and extra rules, and named among the clouds", async () => {
    const { provider } = labProvider("check");
    const bad = await provider.check({}, raw({ realm: "North!" }));
    expect(bad.failures?.map((f) => f.reason)).toEqual([
      expect.stringMatching(/^lab\.realm = "North!": must be a realm name of lower-case letters/),
    ]);
    const noIdentity = await provider.check({}, { ...raw({ realm: "north" }), workloadIdentity: undefined });
    expect(noIdentity.failures?.map((f) => f.reason)).toEqual([
      expect.stringMatching(/^workloadIdentity.*is required when lab\.members is not given/),
    ]);
    const reserved = await provider.check({}, raw({ realm: "north" }, { extra: { realm: "south" } }));
    expect(reserved.failures?.map((f) => f.reason)).toEqual([
      expect.stringMatching(/connection\.extra\.realm.*set by the resource itself \(from the lab inputs\)/),
    ]);
    const two = await provider.check({}, { ...raw({ realm: "north" }), aws: { targetRole: "r", region: "eu-west-1" } });
    expect(two.failures?.map((f) => f.reason).join("\n")).toMatch(/give exactly one of aws, gcp, azure, lab/);
  });

  it("is planned, applied, refreshed, updated and deleted through the real lifecycle, leaving others' members", async () => {
    const { realms, connections, provider } = labProvider("lifecycle");
    const plan = await planned(provider, raw({ realm: "north" }));
    expect(plan.grant).toEqual({ cloud: "lab", realm: "north", members: [IDENTITY], live: [IDENTITY] });
    expect(plan.connection.payload).toMatchObject({ conn_type: "lab", extra: { realm: "north" } });

    const { id, outs } = await provider.create(plan);
    expect(id).toBe("lab/north/lab_north");
    expect(realms.members("north")).toEqual([IDENTITY, FOREIGN].sort());
    expect(outs.resolved.realmId).toBe("realm-1");
    expect(connections.store.get(`${AIRFLOW}|lab_north`)).toMatchObject({
      conn_type: "lab",
      extra: { realm: "north" },
    });

    const refreshed = await provider.read(id, outs);
    expect(refreshed.props.grant).toEqual(outs.grant);
    expect((await provider.diff(id, refreshed.props, plan)).changes).toBe(false);

    // Another member: an update; the old one goes once the new one is in.
    const wider = await planned(provider, raw({ realm: "north", members: ["team@lab"] }));
    const diff = await provider.diff(id, outs, wider);
    expect(diff).toMatchObject({ changes: true });
    expect(diff.replaces ?? []).toEqual([]);
    const updated = await provider.update(id, outs, wider);
    expect(realms.members("north")).toEqual([FOREIGN, "team@lab"].sort());

    // Another realm: the planner's replace rule, in the user's words.
    const moved = await planned(provider, raw({ realm: "south", members: ["team@lab"] }));
    expect((await provider.diff(id, updated.outs, moved)).replaces).toEqual(["lab.realm"]);

    await provider.delete(id, updated.outs as AuthorizationState<LabGrant>);
    expect(realms.members("north")).toEqual([FOREIGN]);
    expect(connections.store.has(`${AIRFLOW}|lab_north`)).toBe(false);
  });

  it("is reviewed in its own words, and its outputs match its described output schema", async () => {
    const { provider } = labProvider("outputs");
    const plan = await planned(provider, raw({ realm: "north" }));
    const { outs } = await provider.create(plan);
    const review = reviewAuthorization(new Map(cloudModules().map((c) => [c.cloud, c.planner])), undefined, plan);
    expect(review.grant).toMatchObject({ to: "lab realm north", added: [`${IDENTITY} may enter`], removed: [] });

    const outputs = cloudModule("lab")!.outputs;
    const grant = outputs.grant(outs.grant, outs.resolved);
    expect((await labCloud.loadOutputSchema()).parse(grant)).toEqual({
      cloud: "lab",
      realm: "north",
      realmId: "realm-1",
      members: [IDENTITY],
      live: [IDENTITY],
    });
    expect(outputs.connectionExtra(outs.connection.payload!.extra, outs.grant, outs.resolved)).toEqual({
      realm: "north",
      realm_id: "realm-1",
    });
  });
});

describe("a fourth cloud in the component", () => {
  const created = new Map<string, PlannedAuthorization>();
  const { provider } = labProvider("component");

  beforeAll(async () => {
    await pulumi.runtime.setMocks(
      {
        newResource: async (args) => {
          if (!args.type.includes("dynamic")) return { id: `${args.name}-id`, state: args.inputs };
          const { __provider: _p, grant: _g, resolved: _r, credentials, ...inputs } = args.inputs;
          const secret = (credentials as { value?: unknown } | undefined)?.value ?? credentials;
          const checked = await provider.check({}, { ...inputs, ...(secret ? { credentials: secret } : {}) });
          if (checked.failures) throw new Error(JSON.stringify(checked.failures));
          created.set(args.name, checked.inputs as unknown as PlannedAuthorization);
          const { id, outs } = await provider.create(checked.inputs as unknown as PlannedAuthorization);
          return { id, state: outs };
        },
        call: () => ({}),
      },
      "demo",
      "dev",
    );
    pulumi.runtime.setConfig("lab:realm", "south");
  }, 120_000);

  it("fills in the cloud's defaults and shows the cloud's outputs", async () => {
    const { DeploymentAuthorization } = await import("../../sdk");
    const auth = new DeploymentAuthorization("south-reader", {
      workloadIdentity: IDENTITY,
      lab: {},
      connection: { connectionId: "lab_south", airflow: { url: AIRFLOW, auth: { kind: "token", token: "t0ken" } } },
    } as unknown as DeploymentAuthorizationArgs);
    const grant = await new Promise((resolve) => auth.grant.apply(resolve));
    expect(created.get("south-reader")?.grant).toMatchObject({ cloud: "lab", realm: "south" });
    expect(grant).toEqual({ cloud: "lab", realm: "south", realmId: "realm-2", members: [IDENTITY], live: [IDENTITY] });
  }, 120_000);
});

describe("a fourth cloud in discover", () => {
  it("offers its targets on the command line, reads them and matches them through its own discovery", async () => {
    const realms = new LabRealms();
    realms.addRealm("west", [IDENTITY, FOREIGN]);
    labEndpoints.set("discover", realms);

    const parsed = parseDiscoverArgs(["--lab-realm", "west", "--deployment", `identity=${IDENTITY},airflow=x`], {});
    expect(parsed).toMatchObject({ targets: { clouds: { "lab-realm": ["west"] } } });
    expect(parseDiscoverArgs(["--deployment", `identity=${IDENTITY},airflow=x`], {})).toMatch(
      /give at least one target: .*--azure-identity or --lab-realm$/,
    );

    const discoverers = await loadDiscoverers(cloudModules());
    expect([...discoverers.keys()]).toEqual(["aws", "gcp", "azure", "lab"]);
    const deployment = { name: "deployment-7", identity: IDENTITY };
    const inventory = await readInventory(
      {
        clouds: { "lab-realm": ["west"] },
        deployments: [deployment],
        astroDeployments: [],
        airflowAuth: { kind: "token" },
      },
      discoverers,
      { LAB_ENDPOINT: "discover" },
    );
    expect(inventory.clouds).toEqual({
      aws: [],
      gcp: [],
      azure: [],
      lab: [{ realm: "west", members: [IDENTITY, FOREIGN].sort() }],
    });

    const found = discover(inventory, { takeOver: false, defaultRegion: "us-east-1" }, discoverers);
    expect(found.authorizations).toEqual([
      expect.objectContaining({
        name: "deployment-7-west",
        cloud: "lab",
        grant: { realm: "west" },
        workloadIdentity: IDENTITY,
        connection: { connectionId: "lab_west", adopted: false },
      }),
    ]);
    expect(found.unmatched).toEqual([{ where: "lab realm west", what: `${FOREIGN} is no Deployment given` }]);
    expect(renderProgram(found, { kind: "token" })).toMatch(/lab: \{\s*realm: "west",?\s*\}/);
  });
});
