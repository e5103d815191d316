import {
  type CloudDiscoverer,
  ConnectionPool,
  type Discovery,
  type Findings,
  type Inventory,
  type MatchOptions,
  managerOf,
} from "../../provider/core/discovery";
import type { CloudModule } from "../../provider/core/cloud";

/**
 * Pure matching of what a manual setup left (trust statements, bindings, federated credentials and
 * the connections that use them) to the Deployments they serve: each cloud's discovery matches its
 * own targets, in the order of the cloud list; what is left is reported here. I/O is in ./inventory.
 */

export type {
  DeploymentRef,
  Discovery,
  FoundAuthorization,
  Inventory,
  LiveConnection,
  MatchOptions,
  Unmatched,
} from "../../provider/core/discovery";

/** The discoverers of the clouds that have one, by cloud key, in the list's order. */
export async function loadDiscoverers(clouds: readonly CloudModule[]): Promise<Map<string, CloudDiscoverer>> {
  const withDiscovery = clouds.filter((c) => c.discovery !== undefined);
  return new Map(await Promise.all(withDiscovery.map(async (c) => [c.cloud, await c.discovery!.load()] as const)));
}

export function discover(
  inventory: Inventory,
  options: MatchOptions,
  discoverers: ReadonlyMap<string, CloudDiscoverer>,
): Discovery {
  const out: Findings = { authorizations: [], unmatched: [], alreadyManaged: [], leftOutFor: new Set() };
  const connections = new ConnectionPool(inventory.connections);
  for (const [cloud, discoverer] of discoverers) {
    for (const live of inventory.clouds[cloud] ?? []) {
      discoverer.match(live, inventory.deployments, connections, options, out);
    }
  }
  const granted = new Set(out.authorizations.map((a) => a.deployment.name));
  for (const d of inventory.deployments) {
    if (granted.has(d.name)) continue;
    out.unmatched.push({
      where: `Deployment ${d.name}`,
      what: out.leftOutFor.has(d.name)
        ? "no grant to it that a resource can take over: the ones found are left out, each for its reason (see them here)"
        : "no grant to it found on the targets given",
    });
  }
  // Each connection is reported once, by what became of it: taken over (in the program), managed
  // by a stack, passed over for another, or left with no grant to go with.
  for (const { url, connection: c, passedOver } of connections.leftOver()) {
    const where = `connection ${c.connectionId} at ${url}`;
    const manager = managerOf(c.description);
    if (manager) out.alreadyManaged.push(`${where}: ${manager}`);
    else if (passedOver) out.unmatched.push({ where, what: passedOver });
    else {
      out.unmatched.push({
        where,
        what: `a ${c.conn_type} connection that refers to a target given, but no grant it could use was matched to this Airflow's Deployment`,
      });
    }
  }
  const { leftOutFor: _leftOutFor, ...discovery } = out;
  return discovery;
}
