import type { CloudDiscoverer, ConnectionPool, DeploymentRef, Findings } from "../../core/discovery";
import { SUBJECT, connectionFor, connectionIdFrom, resourceName, serviceAccountsArg } from "../../core/discovery";
import type { AzureRemote } from ".";
import { AzureFederationDriver } from "./driver";
import { AUDIENCE, AZURE_DEFAULT_SERVICE_ACCOUNTS, CREDENTIAL_PREFIX, FederatedCredential } from "./plan";

/** A managed identity as read: its ids and its federated credentials. */
interface LiveIdentity {
  id: string;
  clientId: string;
  tenantId: string;
  credentials: FederatedCredential[];
}

/** Discovery in Azure: hand-made federated credentials on the managed identities given that admit a Deployment. */
export const azureDiscoverer: CloudDiscoverer<AzureRemote, LiveIdentity> = {
  async read(targets, remote) {
    const identities = targets["azure-identity"] ?? [];
    const driver = identities.length > 0 ? new AzureFederationDriver(remote) : undefined;
    return Promise.all(identities.map(async (id) => ({ id, ...(await driver!.inspect(id)) })));
  },
  match: (identity, deployments, pool, _options, out) => matchAzureIdentity(identity, deployments, pool, out),
};

function matchAzureIdentity(identity: LiveIdentity, deployments: DeploymentRef[], pool: ConnectionPool, out: Findings) {
  const name = identity.id.split("/").pop()!;
  const where = `managed identity ${name}`;
  pool.markRelevant((x) => x.conn_type === "azure" && x.extra.managed_identity_client_id === identity.clientId);
  const groups = new Map<string, { issuer: string; namespace: string; names: string[]; credentials: string[] }>();
  /** Credentials that federate no Kubernetes service account (a CI system's, say). */
  const others: string[] = [];
  for (const c of identity.credentials) {
    if (c.name.startsWith(CREDENTIAL_PREFIX)) {
      out.alreadyManaged.push(`${where}, credential ${c.name}`);
      continue;
    }
    const m = c.subject.match(SUBJECT);
    if (!m) {
      others.push(c.name);
      continue;
    }
    const [, namespace, , serviceAccount] = m as unknown as [string, string, string, string];
    if (!c.audiences.includes(AUDIENCE)) {
      const d = deployments.find((x) => x.namespace === namespace);
      if (!d) others.push(c.name);
      else {
        out.unmatched.push({
          where,
          what: `credential ${c.name} federates ${namespace}/${serviceAccount}: left out: its audiences (${c.audiences.join(", ")}) are not ${AUDIENCE}`,
        });
        out.leftOutFor.add(d.name);
      }
      continue;
    }
    const k = `${c.issuer} ${namespace}`;
    const entry = groups.get(k) ?? { issuer: c.issuer, namespace, names: [], credentials: [] };
    entry.names.push(serviceAccount);
    entry.credentials.push(c.name);
    groups.set(k, entry);
  }
  for (const g of groups.values()) {
    const d = deployments.find((x) => x.namespace === g.namespace);
    if (!d) {
      out.unmatched.push({
        where,
        what: `credentials ${g.credentials.join(", ")} federate namespace ${g.namespace}; no Deployment given with that namespace`,
      });
      continue;
    }
    const found = connectionFor(
      pool,
      d,
      (x) => x.conn_type === "azure" && x.extra.managed_identity_client_id === identity.clientId,
      connectionIdFrom("azure", name),
      ["managed_identity_client_id", "workload_identity_tenant_id"],
      `managed identity ${name}`,
    );
    out.authorizations.push({
      name: resourceName(d.name, name),
      deployment: d,
      cloud: "azure",
      grant: {
        identity: identity.id,
        ...(d.astro ? {} : { issuerUrl: g.issuer, namespace: g.namespace }),
        ...serviceAccountsArg(g.namespace, g.names, AZURE_DEFAULT_SERVICE_ACCOUNTS),
        adoptExistingCredentials: true,
      },
      connection: found.connection,
      notes: [
        `takes over credentials ${g.credentials.join(", ")} (Entra allows one per issuer and subject, so they become the resource's and go on destroy)`,
        "role assignments are not looked for: add azure.roleAssignment if the identity needs one managed here",
        ...found.notes,
      ],
    });
  }
  if (others.length > 0) {
    out.unmatched.push({
      where,
      what: `credential${others.length > 1 ? "s" : ""} ${others.join(", ")} federate${others.length > 1 ? "" : "s"} no Deployment given: left as ${others.length > 1 ? "they are" : "it is"}`,
    });
  }
}
