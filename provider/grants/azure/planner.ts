import type { GrantPlanner } from "../../core/types";
import { assignmentKey, credentialKey } from "./claimKeys";
import { identityName } from "./names";
import { AzureGrant, AzureResolved, staleAzureGrant } from "./plan";
import { azureExtraForApply, azureExtraInPlanTerms } from "./resolved";

const BROAD_ROLES = new Set(["Owner", "Contributor", "User Access Administrator"]);

/** Azure once planned: the identity's id and review, and what apply fills into the connection. */
export const azurePlanner: GrantPlanner<AzureGrant, AzureResolved> = {
  cloud: "azure",
  // The credentials live on the identity the program names: another identity is another set of them.
  replaces: (old, next) => (old.identity.toLowerCase() === next.identity.toLowerCase() ? [] : ["azure.identity"]),
  stale: staleAzureGrant,
  claims: (grant) => [
    ...grant.credentials.map((c) => credentialKey(grant, c)),
    ...(grant.roleAssignment ? [assignmentKey(grant)] : []),
  ],
  // One identity federated for Deployments in different Airflows shares their role assignment, and
  // their connections live in as many places: claims on it are kept on the identity too. Credentials
  // are one Deployment's (its issuer and namespace), so their claims stay with its connection.
  sharedAcrossPlaces: (grant) => (grant.roleAssignment ? [assignmentKey(grant)] : []),
  withoutClaims(grant, kept) {
    const credentials = grant.credentials.filter((c) => !kept.has(credentialKey(grant, c)));
    const roleAssignment = grant.roleAssignment && !kept.has(assignmentKey(grant)) ? grant.roleAssignment : null;
    if (credentials.length === 0 && !roleAssignment) return undefined;
    return { ...grant, credentials, roleAssignment };
  },
  // Credentials and the assignment found under our names are reported by the driver; an equal
  // assignment under another name (preExistingAssignment) is a stranger's, never removed.
  foundGranted: () => [],
  shareClaimed: (_grant, resolved) => resolved,
  idOf: (grant) => identityName(grant.identity),
  extraForApply: azureExtraForApply,
  extraInPlanTerms: azureExtraInPlanTerms,
  summarize(grant) {
    const assignment = grant.roleAssignment;
    const risks: string[] = [];
    if (assignment && BROAD_ROLES.has(assignment.role)) {
      risks.push(`${assignment.role} is a broad role: it grants writes (or more) at ${assignment.scope}`);
    }
    if (assignment && /^\/subscriptions\/[^/]+\/?$/.test(assignment.scope)) {
      risks.push(`the role assignment covers a whole subscription (${assignment.scope})`);
    }
    return {
      target: `managed identity ${grant.identity}`,
      entries: [
        ...grant.credentials.map((c) => `federated credential ${c.name}: ${c.subject} from ${c.issuer}`),
        ...(assignment ? [`role ${assignment.role} at ${assignment.scope}`] : []),
      ],
      risks,
    };
  },
  deploymentSettings: {
    customerManagedIdentity: () => ({
      ok: false,
      reason:
        "cannot be set on Azure: Astro's API refuses a workload identity on Azure Deployments (UpdateDeployment answers 400). " +
        "On Azure the Deployment's pods already act as your managed identity through the federated credentials this resource " +
        "creates; remove customerManagedIdentity",
    }),
    secretsBackend: () => ({
      ok: false,
      reason:
        "is offered for AWS (Secrets Manager) and GCP (Secret Manager); on Azure, set AIRFLOW__SECRETS__BACKEND to Key Vault's " +
        "backend with the managed identity's client id yourself, or remove secretsBackend",
    }),
    reservedKwargs: [],
  },
};
