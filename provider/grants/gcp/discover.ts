import type {
  CloudDiscoverer,
  ConnectionPool,
  DeploymentRef,
  Findings,
  LiveConnection,
  MatchOptions,
} from "../../core/discovery";
import { connectionFor, connectionIdFrom, resourceName, serviceAccountsArg } from "../../core/discovery";
import type { GcpRemote } from ".";
import { GcpIamPolicyDriver } from "./driver";
import { USER_MANAGED_SERVICE_ACCOUNT } from "./names";
import { TOKEN_CREATOR, WORKLOAD_IDENTITY_USER, projectResource, serviceAccountResource } from "./plan";
import type { IamBinding, IamPolicy } from "./policy";

/** Discovery in GCP: hand-made bindings on the projects and service accounts given that grant a Deployment. */
export const gcpDiscoverer: CloudDiscoverer<GcpRemote, { resource: string; policy: IamPolicy }> = {
  async read(targets, remote) {
    const resources = [
      ...(targets["gcp-project"] ?? []).map(projectResource),
      ...(targets["gcp-service-account"] ?? []).map(serviceAccountResource),
    ];
    const driver = resources.length > 0 ? new GcpIamPolicyDriver(remote) : undefined;
    return Promise.all(resources.map(async (resource) => ({ resource, policy: await driver!.policy(resource) })));
  },
  match: (target, deployments, pool, options, out) => matchGcpPolicy(target, deployments, pool, options, out),
};

function matchGcpPolicy(
  target: { resource: string; policy: IamPolicy },
  deployments: DeploymentRef[],
  pool: ConnectionPool,
  options: MatchOptions,
  out: Findings,
) {
  const email = target.resource.match(/serviceAccounts\/(.+)$/)?.[1];
  const project = email ? undefined : target.resource.replace(/^projects\//, "");
  const where = email ? `service account ${email}` : `project ${project}`;
  const bindings = target.policy.bindings ?? [];
  const adopt = options.takeOver ? { adoptExistingMembers: true } : {};
  const gcpConnection = (x: LiveConnection) => x.conn_type === "google_cloud_platform";
  pool.markRelevant(
    (x) =>
      gcpConnection(x) &&
      (email ? x.extra.impersonation_chain === email : x.extra.project === project && !x.extra.impersonation_chain),
  );
  // Both service account kinds reach it by impersonation: the connection names it in impersonation_chain.
  const impersonating = (d: DeploymentRef) =>
    connectionFor(
      pool,
      d,
      (x) => gcpConnection(x) && x.extra.impersonation_chain === email,
      connectionIdFrom("google_cloud", (email ?? "").split("@")[0]!),
      ["project", "impersonation_chain"],
      `service account ${email}`,
    );
  const note = (members: string) =>
    options.takeOver
      ? `takes over the hand-made member ${members}: it goes on destroy (adoptExistingMembers)`
      : `the member ${members} exists already: the resource keeps it, and leaves it on destroy`;

  const leftOut = (d: DeploymentRef, what: string) => {
    out.unmatched.push({ where, what });
    out.leftOutFor.add(d.name);
  };

  for (const d of deployments) {
    const member = d.identity ? `serviceAccount:${d.identity}` : undefined;
    if (!member) continue;
    for (const b of bindings.filter((b) => b.condition && (b.members ?? []).includes(member))) {
      leftOut(
        d,
        `conditional binding of ${b.role} for ${d.identity}: left out: has conditions (${conditionOf(b)}); this resource writes unconditional bindings only`,
      );
    }
    const roles = bindings.filter((b) => !b.condition && (b.members ?? []).includes(member)).map((b) => b.role ?? "");
    if (email) {
      for (const other of roles.filter((r) => r !== TOKEN_CREATOR)) {
        leftOut(
          d,
          `${d.identity} has ${other} on it: left out: on a service account this resource grants ${TOKEN_CREATOR} (impersonation), or ${WORKLOAD_IDENTITY_USER} to Kubernetes service accounts`,
        );
      }
      if (!roles.includes(TOKEN_CREATOR)) continue;
      const found = impersonating(d);
      const projectFromEmail = email.match(USER_MANAGED_SERVICE_ACCOUNT)?.[1];
      const connectionProject = typeof found.live?.extra.project === "string" ? found.live.extra.project : undefined;
      out.authorizations.push({
        name: resourceName(d.name, email.split("@")[0]!),
        deployment: d,
        cloud: "gcp",
        grant: {
          ...(connectionProject && connectionProject !== projectFromEmail ? { project: connectionProject } : {}),
          grant: { kind: "impersonation", serviceAccount: email },
          ...adopt,
        },
        ...(d.astro ? {} : { workloadIdentity: d.identity }),
        connection: found.connection,
        notes: [note(`${member} in ${TOKEN_CREATOR}`), ...found.notes],
      });
      continue;
    }
    const [role, ...more] = roles;
    if (!role) continue;
    for (const other of more) {
      leftOut(d, `${d.identity} also has ${other}: left out: a resource grants one role, and ${role} is taken`);
    }
    const found = connectionFor(
      pool,
      d,
      (x) => gcpConnection(x) && x.extra.project === project && !x.extra.impersonation_chain,
      connectionIdFrom("google_cloud", project!),
      ["project", "impersonation_chain"],
      `project ${project}`,
    );
    out.authorizations.push({
      name: resourceName(d.name, project!),
      deployment: d,
      cloud: "gcp",
      grant: { project, grant: { kind: "projectRole", role }, ...adopt },
      ...(d.astro ? {} : { workloadIdentity: d.identity }),
      connection: found.connection,
      notes: [note(`${member} in ${role}`), ...found.notes],
    });
  }

  reportUnrelatedBindings(where, bindings, deployments, email !== undefined, out);
  if (!email) return;
  // Customer-managed identity: the namespace's Kubernetes service accounts act as the service account.
  const byNamespace = new Map<string, { pool: string; names: string[] }>();
  for (const b of bindings.filter((b) => b.role === WORKLOAD_IDENTITY_USER)) {
    for (const m of b.members ?? []) {
      const parsed = m.match(KUBERNETES_MEMBER);
      if (!parsed) continue;
      const [, workloadPool, namespace, ksa] = parsed as unknown as [string, string, string, string];
      if (b.condition) {
        const d = deployments.find((x) => x.namespace === namespace);
        if (d) {
          leftOut(
            d,
            `conditional binding of ${WORKLOAD_IDENTITY_USER} for ${namespace}/${ksa}: left out: has conditions (${conditionOf(b)}); this resource writes unconditional bindings only`,
          );
        }
        continue;
      }
      const entry = byNamespace.get(namespace) ?? { pool: workloadPool, names: [] };
      entry.names.push(ksa);
      byNamespace.set(namespace, entry);
    }
  }
  for (const [namespace, found] of byNamespace) {
    const d = deployments.find((x) => x.namespace === namespace);
    if (!d) {
      out.unmatched.push({
        where,
        what: `Kubernetes service accounts of namespace ${namespace} may act as it; no Deployment given with that namespace`,
      });
      continue;
    }
    const connection = impersonating(d);
    out.authorizations.push({
      name: resourceName(d.name, email.split("@")[0]!, "identity"),
      deployment: d,
      cloud: "gcp",
      grant: {
        grant: {
          kind: "customerManagedIdentity",
          serviceAccount: email,
          workloadIdentityPool: found.pool,
          ...(d.astro ? {} : { namespace }),
          ...serviceAccountsArg(namespace, found.names),
        },
        ...adopt,
      },
      connection: connection.connection,
      notes: [
        note(`${found.names.length} Kubernetes service account(s) in ${WORKLOAD_IDENTITY_USER}`),
        ...connection.notes,
      ],
    });
  }
}

const KUBERNETES_MEMBER = /^serviceAccount:([a-z0-9-]+\.svc\.id\.goog)\[([a-z0-9-]+)\/([a-z0-9.-]+)\]$/;

function conditionOf(b: IamBinding): string {
  return b.condition?.title ? `"${b.condition.title}"` : (b.condition?.expression ?? "a condition");
}

/**
 * Bindings that grant nothing to a Deployment given (their members are people, other service
 * accounts, other namespaces' Kubernetes service accounts) are left as they are, and said so once.
 */
function reportUnrelatedBindings(
  where: string,
  bindings: IamBinding[],
  deployments: DeploymentRef[],
  serviceAccount: boolean,
  out: Findings,
) {
  // Kubernetes service accounts in Workload Identity User on a service account are reported by namespace.
  const ours = (b: IamBinding, member: string) =>
    deployments.some((d) => d.identity !== undefined && member === `serviceAccount:${d.identity}`) ||
    (serviceAccount && b.role === WORKLOAD_IDENTITY_USER && KUBERNETES_MEMBER.test(member));
  const unrelated = bindings.filter((b) => !(b.members ?? []).some((m) => ours(b, m)));
  if (unrelated.length === 0) return;
  const roles = unrelated.map((b) => `${b.role}${b.condition ? " (conditional)" : ""}`);
  const shown = roles.length > 5 ? `${roles.slice(0, 5).join(", ")} and ${roles.length - 5} more` : roles.join(", ");
  out.unmatched.push({
    where,
    what: `${unrelated.length} binding${unrelated.length > 1 ? "s" : ""} (${shown}) grant${unrelated.length > 1 ? "" : "s"} nothing to a Deployment given: left as ${unrelated.length > 1 ? "they are" : "it is"}`,
  });
}
