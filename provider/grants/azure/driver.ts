import { AuthorizationManagementClient } from "@azure/arm-authorization";
import { FederatedIdentityCredential as SdkCredential, ManagedServiceIdentityClient } from "@azure/arm-msi";
import { type OperationSpec, createSerializer } from "@azure/core-client";
import { DefaultAzureCredential } from "@azure/identity";
import { summarizeBody } from "../../core/diagnosis";
import { AuthorizationError, RemoteError, TargetMissingError } from "../../core/errors";
import { withLock } from "../../core/lock";
import { REMOTE_DEFAULTS, Remote, RemoteTuning, mayHaveLandedByStatus, refused } from "../../core/remoteCall";
import type { ClaimLedger, EnsureProgress, GrantDriver } from "../../core/types";
import {
  AUDIENCE,
  AzureGrant,
  AzureResolved,
  CREDENTIAL_PREFIX,
  FederatedCredential,
  MAX_CREDENTIALS_PER_IDENTITY,
  isOtherDeploymentsCredential,
  roleDefinitionGuid,
} from "./plan";
import { assignmentKey, credentialKey } from "./claimKeys";
import { IDENTITY_ID, identityName } from "./names";

type TokenCredential = ConstructorParameters<typeof ManagedServiceIdentityClient>[0];
type PipelinePolicy = NonNullable<
  NonNullable<ConstructorParameters<typeof ManagedServiceIdentityClient>[1]>["additionalPolicies"]
>[number];

/**
 * `attempts` (default 5), `baseDelayMs` (default 1 s), `maxDelayMs` (default 30 s), `timeoutMs`
 * (default 30 s) and `sleep` as for every remote (`core/remoteCall.ts`). The Azure SDKs make the
 * tries of one call (throttling, honouring `Retry-After`, 5xx, dropped connections), with these
 * bounds.
 */
export interface AzureArmOptions extends RemoteTuning {
  /** Azure Resource Manager; default Azure's public cloud. Tests point it at a local server. */
  endpoint?: string;
  /** A ready ARM access token (DEPLOYMENT_AUTHORIZATION_AZURE_ACCESS_TOKEN); default DefaultAzureCredential. */
  accessToken?: string;
  credential?: TokenCredential;
  /**
   * Tries for one credential write that Azure refuses because another write to the identity is
   * running (409), default 8; the pauses start at `baseDelayMs` (default 300 ms here) and stay under 8 s.
   */
  convergeAttempts?: number;
  /** @deprecated `attempts`. */
  callAttempts?: number;
  /** @deprecated `baseDelayMs`. */
  callRetryDelayMs?: number;
}

/** Pauses between the tries of a credential write that another writer's write refused. */
const CONVERGE_DEFAULTS = { attempts: 8, baseDelayMs: 300, maxDelayMs: 8000 };

interface ArmError {
  statusCode?: number;
  code?: string;
  message: string;
  response?: { bodyAsText?: string | null; headers?: { get(name: string): string | undefined } };
}

/**
 * What Azure said: an ARM error's code and message; a body that is not one (a proxy's page) in a
 * line, since the SDK makes such a body the whole message.
 */
function armDetail(e: ArmError): string {
  if (e.code) return `${e.code}: ${e.message}`;
  const body = e.response?.bodyAsText;
  return summarizeBody(body || e.message, e.response?.headers?.get("content-type") ?? "");
}

const armError = (error: unknown): ArmError =>
  error instanceof Error ? (error as Error & ArmError) : { message: String(error) };

/** What the SDKs' retry policy retries, and so what remains an outage once its tries are over. */
function isRetryableArmError(error: unknown): boolean {
  const { statusCode: status, code } = armError(error);
  return status === 429 || (status !== undefined && status >= 500) || (status === undefined && code !== undefined);
}
/**
 * Tags on the identity that hold claims on its role assignment: one per instance, its digests
 * separated by spaces. ARM allows a colon in a tag name (not `<>%&\\?/`).
 */
export const CLAIM_TAG_PREFIX = "DeploymentAuthorization:";
/** ARM's limit of tags on one resource. */
export const TAG_LIMIT = 50;

/**
 * Microsoft.Resources Tags at scope, 2021-04-01 (resources.json): PATCH with `Merge` adds or
 * replaces the given names, with `Delete` removes them (the identity's own GET reads them). Sent through the
 * identity client's pipeline (its credential, retries and timeout), as `@azure/arm-resources` does.
 */
function tagsPatch(): OperationSpec {
  const text = { name: "String" } as const;
  const tags = {
    serializedName: "properties",
    type: {
      name: "Composite",
      modelProperties: { tags: { serializedName: "tags", type: { name: "Dictionary", value: { type: text } } } },
    },
  } as const;
  const tagsResource = {
    type: { name: "Composite", modelProperties: { properties: tags } },
  } as const;
  const constant = (serializedName: string, defaultValue: string) => ({
    parameterPath: serializedName,
    mapper: { serializedName, defaultValue, isConstant: true, type: text },
  });
  const urlParameter = (name: string) => ({
    parameterPath: name,
    mapper: { serializedName: name, required: true, type: text },
    skipEncoding: true,
  });
  return {
    path: "/{scope}/providers/Microsoft.Resources/tags/default",
    httpMethod: "PATCH",
    responses: { 200: { bodyMapper: tagsResource }, default: {} },
    queryParameters: [constant("api-version", "2021-04-01")],
    urlParameters: [urlParameter("$host"), urlParameter("scope")],
    headerParameters: [constant("Accept", "application/json"), constant("Content-Type", "application/json")],
    requestBody: {
      parameterPath: "parameters",
      mapper: {
        serializedName: "parameters",
        required: true,
        type: {
          name: "Composite",
          modelProperties: {
            operation: { serializedName: "operation", type: text },
            properties: tags,
          },
        },
      },
    },
    mediaType: "json" as const,
    serializer: createSerializer({}, false),
  };
}
const PATCH_TAGS = tagsPatch();

function missingIdentity(id: string, cause: unknown): TargetMissingError {
  return new TargetMissingError(
    {
      what: `managed identity ${identityName(id)} (${id})`,
      kind: "managed identity",
      input: "azure.identity",
      check: `az identity show --ids ${id}`,
    },
    { cause },
  );
}

/** Azure refuses overlapping writes to one identity's credentials: wait and write again. */
const CONCURRENT_WRITES = "ConcurrentFederatedIdentityCredentialsWritesForSingleManagedIdentity";

/**
 * Keeps grants as federated identity credentials on a user-assigned managed identity (ARM,
 * Microsoft.ManagedIdentity) and a role assignment of its principal (Microsoft.Authorization).
 * Writes to one identity's credentials are serialized in this process; a 409 from another writer is
 * retried with jittered backoff. Throttling (429, honouring Retry-After) and 5xx are retried by the
 * SDKs' own bounded policy.
 */
export class AzureFederationDriver implements GrantDriver<AzureGrant, AzureResolved> {
  private readonly credential: TokenCredential;
  private readonly identities = new Map<string, ManagedServiceIdentityClient>();
  private readonly authorization = new Map<string, AuthorizationManagementClient>();
  private readonly remote: Remote;
  /** Claims on the role assignment, kept as the identity's tags: read wherever the identity is. */
  readonly ledger: ClaimLedger<AzureGrant> = {
    record: (grant, instance, digests) => this.recordClaim(grant.identity, instance, digests),
    release: (grant, instance) => this.releaseClaim(grant.identity, instance),
    records: (grant) => this.listClaims(grant.identity),
  };

  constructor(private readonly options: AzureArmOptions = {}) {
    const token = options.accessToken;
    this.credential =
      options.credential ??
      (token
        ? { getToken: async () => ({ token, expiresOnTimestamp: Date.now() + 3_600_000 }) }
        : new DefaultAzureCredential());
    const endpoint = options.endpoint ?? "https://management.azure.com";
    this.remote = new Remote({
      defaults: REMOTE_DEFAULTS.azureArm,
      tuning: {
        ...options,
        attempts: options.attempts ?? options.callAttempts,
        baseDelayMs: options.baseDelayMs ?? options.callRetryDelayMs,
      },
      clientRetries: true,
      url: endpoint,
      classify: {
        retryable: isRetryableArmError,
        mayHaveLanded: (error) => mayHaveLandedByStatus(armError(error).statusCode, armError(error).code),
      },
      explain: ({ error, what }) => this.explain(error, what),
    });
  }

  /** Calls made, by SDK operation (the SDKs' own tries of one call count once). */
  get calls(): Record<string, number> {
    return this.remote.calls;
  }

  /** The identity's ids and every federated credential on it: for finding what a manual setup made. */
  async inspect(id: string): Promise<{ clientId: string; tenantId: string; credentials: FederatedCredential[] }> {
    const [identity, credentials] = await Promise.all([this.getIdentity(id), this.listCredentials(id)]);
    return { clientId: identity.clientId, tenantId: identity.tenantId, credentials };
  }

  async read(grant: AzureGrant, resolved: AzureResolved) {
    const identity = await this.getIdentity(grant.identity);
    const live = await this.listCredentials(grant.identity);
    const adopted = resolved.adoptedCredentials ?? [];
    // Each planned credential as live, under our name or the adopted one, reported in the plan's terms.
    const credentials = grant.credentials.flatMap((c) => {
      const found =
        live.find((l) => l.name === c.name) ?? live.find((l) => adopted.includes(l.name) && l.subject === c.subject);
      return found ? [{ ...found, name: c.name }] : [];
    });
    let roleAssignment = grant.roleAssignment;
    if (roleAssignment && !resolved.preExistingAssignment) {
      const found = await this.getAssignment(roleAssignment.scope, roleAssignment.name);
      if (!found) roleAssignment = null;
    }
    return { grant: { ...grant, credentials, roleAssignment }, resolved: { ...resolved, ...identity } };
  }

  async ensure(
    grant: AzureGrant,
    previous?: { grant: AzureGrant; resolved: AzureResolved },
    progress?: EnsureProgress<AzureResolved>,
  ) {
    const identity = await this.getIdentity(grant.identity);
    // The connection needs the identity's client and tenant ids, not its credentials.
    progress?.factsKnown(identity);
    // Credentials and the shared assignment change under one lock per identity, so a delete that
    // decides an assignment is unused cannot interleave with a create that relies on it.
    return withLock(lockKey(grant.identity), async () => {
      // Credentials this call made where there were none: taken back if the call fails after all,
      // so that a create reported as failed leaves no credential without its connection.
      const made: string[] = [];
      try {
        const { changed, adopted, found } = await this.ensureCredentials(
          grant,
          previous?.resolved.adoptedCredentials ?? [],
          made,
        );
        const resolved: AzureResolved = { ...identity, ...(adopted.length > 0 ? { adoptedCredentials: adopted } : {}) };
        if (!grant.roleAssignment) return { changed, resolved, found };
        const assignment = await this.ensureAssignment(grant, identity.principalId);
        // Found under our name: made by a resource of this package (one whose connection may live elsewhere).
        const assignmentFound = !assignment.created && !assignment.resolved.preExistingAssignment;
        return {
          changed: changed || assignment.created,
          resolved: { ...resolved, ...assignment.resolved },
          found: assignmentFound ? [...found, assignmentKey(grant)] : found,
        };
      } catch (error) {
        await this.takeBackCredentials(grant.identity, made);
        throw error;
      }
    });
  }

  async remove(grant: AzureGrant, resolved: AzureResolved) {
    const { resourceGroup, name } = parseIdentity(grant.identity);
    const adopted = resolved.adoptedCredentials ?? [];
    return withLock(lockKey(grant.identity), async () => {
      let removed = false;
      const live = await this.listCredentials(grant.identity);
      const mine = live.filter((l) =>
        grant.credentials.some((c) => c.name === l.name || (adopted.includes(l.name) && c.subject === l.subject)),
      );
      for (const credential of mine) {
        await this.write(
          grant.identity,
          `delete credential ${credential.name}`,
          "federatedIdentityCredentials.delete",
          (c) => c.federatedIdentityCredentials.delete(resourceGroup, name, credential.name),
        );
        removed = true;
      }
      const remaining = live.filter((l) => !mine.includes(l));
      const assignment = grant.roleAssignment;
      // A shared assignment stays while another Deployment of ours still federates with the identity:
      // the claims on the identity's tags keep it for resources of this release, this for those of
      // earlier ones, which have no tag until their next update.
      if (
        assignment &&
        !resolved.preExistingAssignment &&
        !remaining.some((c) => isOtherDeploymentsCredential(c, grant))
      ) {
        await this.deleteAssignment(assignment);
        removed = true;
      }
      return { removed };
    });
  }

  /** The claims kept on the identity (its tags): the digests each instance claims. */
  async listClaims(id: string): Promise<Map<string, string[]>> {
    const claims = new Map<string, string[]>();
    for (const [key, value] of Object.entries(await this.identityTags(id))) {
      if (!key.startsWith(CLAIM_TAG_PREFIX)) continue;
      claims.set(key.slice(CLAIM_TAG_PREFIX.length), value.split(" ").filter(Boolean));
    }
    return claims;
  }

  /** Keeps an instance's claim as one tag of its own (a Merge of that name alone), replacing its earlier one. */
  async recordClaim(id: string, instance: string, digests: string[]): Promise<void> {
    const name = identityName(id);
    const key = `${CLAIM_TAG_PREFIX}${instance}`;
    const tags = await this.identityTags(id);
    const count = Object.keys(tags).length;
    // ARM's limit, checked first so that the error says what the tag is for.
    if (!(key in tags) && count >= TAG_LIMIT) {
      throw new AuthorizationError(
        "QUOTA_EXCEEDED",
        `managed identity ${name} has ${count} tags, Azure's limit per resource: this resource keeps its claim on the ` +
          `identity's role assignment as a tag (${key}), so that a resource for another Deployment federated with the ` +
          `same identity does not take the role assignment away when it is deleted. Remove a tag the identity does ` +
          `not need (az tag list --resource-id ${id}), then run pulumi up again.`,
      );
    }
    await this.patchTags(id, "Merge", { [key]: digests.join(" ") });
  }

  /** Takes an instance's claim off the identity; absent (and a missing identity) is success. */
  async releaseClaim(id: string, instance: string): Promise<void> {
    const key = `${CLAIM_TAG_PREFIX}${instance}`;
    let tags: Record<string, string>;
    try {
      tags = await this.identityTags(id);
    } catch (error) {
      if (error instanceof TargetMissingError) return;
      throw error;
    }
    if (!(key in tags)) return;
    // The name with the value it has: a Delete removes that pair, whichever way ARM matches it.
    await this.patchTags(id, "Delete", { [key]: tags[key]! }).catch((error: unknown) => {
      if (!(error instanceof TargetMissingError)) throw error;
    });
  }

  /**
   * The identity's tags, as its own GET answers them: reading them needs only the identity's read
   * permission, which every operation needs already (writing them needs the Tags API's).
   */
  private async identityTags(id: string): Promise<Record<string, string>> {
    return (await this.fetchIdentity(id)).tags ?? {};
  }

  private async patchTags(id: string, operation: "Merge" | "Delete", tags: Record<string, string>): Promise<void> {
    await this.tagsCall(id, `${operation.toLowerCase()} tags`, "tags.updateAtScope", PATCH_TAGS, {
      parameters: { operation, properties: { tags } },
    });
  }

  private async tagsCall(
    id: string,
    what: string,
    operation: string,
    spec: OperationSpec,
    args: Record<string, unknown>,
  ): Promise<{ properties?: { tags?: Record<string, string> } }> {
    const name = identityName(id);
    try {
      return (await this.call(`${what} of managed identity ${name}`, operation, () =>
        this.identityClient(id).sendOperationRequest({ scope: id.replace(/^\//, ""), ...args }, spec),
      )) as { properties?: { tags?: Record<string, string> } };
    } catch (error) {
      if (error instanceof RemoteError && error.status === 404) {
        throw missingIdentity(id, error);
      }
      if (error instanceof RemoteError && error.status === 403) {
        throw new AuthorizationError(
          "PERMISSION_DENIED",
          `${error.message.replace(/\.$/, "")}. This resource keeps its claim on the identity's role assignment as a tag on the identity ` +
            `(${CLAIM_TAG_PREFIX}<instance>): give the Azure credentials Microsoft.Resources/tags/read and ` +
            `Microsoft.Resources/tags/write on managed identity ${name} (the built-in Tag Contributor role at ${id} ` +
            `has both), then run pulumi up again.`,
          { cause: error },
        );
      }
      throw error;
    }
  }

  /** Best effort: the failure being reported matters more than one of its clean-up calls failing too. */
  private async takeBackCredentials(id: string, names: string[]): Promise<void> {
    const { resourceGroup, name } = parseIdentity(id);
    for (const credential of names) {
      await this.write(id, `delete credential ${credential}`, "federatedIdentityCredentials.delete", (c) =>
        c.federatedIdentityCredentials.delete(resourceGroup, name, credential),
      ).catch(() => undefined);
    }
  }

  /** Our credentials in place: predicted against the limit first, then written one at a time (under the identity lock). */
  private async ensureCredentials(grant: AzureGrant, adoptedBefore: string[], made: string[] = []) {
    const { resourceGroup, name } = parseIdentity(grant.identity);
    const live = await this.listCredentials(grant.identity);
    const adopted: string[] = [];
    const todo: FederatedCredential[] = [];
    for (const wanted of grant.credentials) {
      const same = live.find((l) => l.name === wanted.name);
      const twin = live.find(
        (l) => l.name !== wanted.name && l.issuer === wanted.issuer && l.subject === wanted.subject,
      );
      if (twin && (grant.adoptExistingCredentials || adoptedBefore.includes(twin.name))) {
        // Taken over: ours from now on, kept in the planned shape under its own name.
        adopted.push(twin.name);
        if (!sameCredential(twin, wanted)) todo.push({ ...wanted, name: twin.name });
        continue;
      }
      if (twin) {
        throw new AuthorizationError(
          "CONFLICT",
          `managed identity ${name} already has credential ${twin.name} for issuer ${wanted.issuer} and subject ` +
            `${wanted.subject} (Entra allows one per issuer and subject). Set azure.adoptExistingCredentials: true to ` +
            `manage it with this resource, or delete it.`,
        );
      }
      if (!same || !sameCredential(same, wanted)) todo.push(wanted);
    }
    const added = todo.filter((c) => !live.some((l) => l.name === c.name)).length;
    if (live.length + added > MAX_CREDENTIALS_PER_IDENTITY) {
      const foreign = live.filter((l) => !l.name.startsWith(CREDENTIAL_PREFIX)).length;
      throw new AuthorizationError(
        "QUOTA_EXCEEDED",
        `managed identity ${name} would hold ${live.length + added} federated identity credentials (now ${live.length}, ` +
          `${foreign} of them not made by this package; this Deployment needs ${added} more), over Entra's limit of ` +
          `${MAX_CREDENTIALS_PER_IDENTITY} per identity. Ways out: federate this Deployment with another managed ` +
          `identity, or fewer service accounts per Deployment (azure.serviceAccounts).`,
      );
    }
    for (const credential of todo) {
      // Recorded before the call: a write whose answer is lost may still have made it.
      if (!live.some((l) => l.name === credential.name)) made.push(credential.name);
      await this.write(
        grant.identity,
        `write credential ${credential.name}`,
        "federatedIdentityCredentials.createOrUpdate",
        (c) =>
          c.federatedIdentityCredentials.createOrUpdate(resourceGroup, name, credential.name, {
            issuer: credential.issuer,
            subject: credential.subject,
            audiences: credential.audiences,
          }),
      );
    }
    // Our credentials already there as planned, under our names: made by a resource of this package.
    // One this call had to write (absent, or drifted) is its own.
    const found = grant.credentials
      .filter((wanted) => live.some((l) => l.name === wanted.name) && !todo.some((c) => c.name === wanted.name))
      .map((wanted) => credentialKey(grant, wanted));
    return { changed: todo.length > 0, adopted, found };
  }

  /**
   * After a create of the assignment that failed, perhaps with its answers lost: it was absent
   * before the create, so one there now is that create's, unless another Deployment of ours
   * federating with the identity relies on it (as in `remove`). Best effort, like the credentials'.
   */
  private async takeBackAssignment(grant: AzureGrant): Promise<void> {
    const assignment = grant.roleAssignment!;
    try {
      const live = await this.listCredentials(grant.identity);
      if (live.some((c) => isOtherDeploymentsCredential(c, grant))) return;
      if (await this.getAssignment(assignment.scope, assignment.name)) await this.deleteAssignment(assignment);
    } catch {
      // The failure being reported matters more than its clean-up failing too.
    }
  }

  private async deleteAssignment(assignment: NonNullable<AzureGrant["roleAssignment"]>): Promise<void> {
    const client = this.authorizationClient(assignment.scope);
    await this.call(`delete role assignment ${assignment.name} at ${assignment.scope}`, "roleAssignments.delete", () =>
      client.roleAssignments.delete(assignment.scope, assignment.name),
    );
  }

  /** Our assignment, or an equal one someone made under another name (recorded, never deleted by us). */
  private async ensureAssignment(grant: AzureGrant, principalId: string) {
    const assignment = grant.roleAssignment!;
    const client = this.authorizationClient(assignment.scope);
    const roleDefinitionId = await this.roleDefinitionId(assignment.scope, assignment.role);
    if (await this.getAssignment(assignment.scope, assignment.name)) {
      return { created: false, resolved: { roleDefinitionId } };
    }
    try {
      await this.call(
        `create role assignment ${assignment.name} at ${assignment.scope}`,
        "roleAssignments.create",
        () =>
          client.roleAssignments.create(assignment.scope, assignment.name, {
            roleDefinitionId,
            principalId,
            // Set, so a just-created identity's principal is not looked up in a directory that lags.
            principalType: "ServicePrincipal",
          }),
      );
      return { created: true, resolved: { roleDefinitionId } };
    } catch (error) {
      if (!(error instanceof RemoteError && error.status === 409 && /RoleAssignmentExists/.test(error.message))) {
        await this.takeBackAssignment(grant);
        throw error;
      }
      const existing = await this.findEqualAssignment(assignment.scope, principalId, roleDefinitionId);
      return { created: false, resolved: { roleDefinitionId, preExistingAssignment: existing ?? "(another name)" } };
    }
  }

  private async findEqualAssignment(scope: string, principalId: string, roleDefinitionId: string) {
    const client = this.authorizationClient(scope);
    return this.call(`list role assignments at ${scope}`, "roleAssignments.listForScope", async () => {
      const filter = `principalId eq '${principalId}'`;
      for await (const a of client.roleAssignments.listForScope(scope, { filter })) {
        if (
          a.scope?.toLowerCase() === scope.toLowerCase() &&
          sameRoleDefinition(a.roleDefinitionId, roleDefinitionId)
        ) {
          return a.id;
        }
      }
      return undefined;
    });
  }

  private async getAssignment(scope: string, name: string) {
    const client = this.authorizationClient(scope);
    try {
      return await this.call(`get role assignment ${name} at ${scope}`, "roleAssignments.get", () =>
        client.roleAssignments.get(scope, name),
      );
    } catch (error) {
      if (error instanceof RemoteError && error.status === 404) return undefined;
      throw error;
    }
  }

  /** A role given by id is used as is (under the scope's subscription); one given by name is looked up. */
  private async roleDefinitionId(scope: string, role: string): Promise<string> {
    const subscription = scope.match(/^\/subscriptions\/([^/]+)/i)?.[1];
    const guid = roleDefinitionGuid(role);
    if (guid) return `/subscriptions/${subscription}/providers/Microsoft.Authorization/roleDefinitions/${guid}`;
    const client = this.authorizationClient(scope);
    const escaped = role.replace(/'/g, "''");
    const found = await this.call(`list role definitions at ${scope}`, "roleDefinitions.list", async () => {
      for await (const definition of client.roleDefinitions.list(scope, { filter: `roleName eq '${escaped}'` })) {
        if (definition.id) return definition.id;
      }
      return undefined;
    });
    if (found) return found;
    throw new AuthorizationError(
      "INVALID_INPUT",
      `no role named "${role}" at ${scope}: give azure.roleAssignment.role as a built-in role's exact name (such as ` +
        `Storage Blob Data Reader) or a role definition id`,
    );
  }

  private async getIdentity(id: string) {
    const identity = await this.fetchIdentity(id);
    return {
      principalId: identity.principalId ?? "",
      clientId: identity.clientId ?? "",
      tenantId: identity.tenantId ?? "",
    };
  }

  private async fetchIdentity(id: string) {
    const { resourceGroup, name } = parseIdentity(id);
    try {
      return await this.call(`get managed identity ${name}`, "userAssignedIdentities.get", () =>
        this.identityClient(id).userAssignedIdentities.get(resourceGroup, name),
      );
    } catch (error) {
      if (error instanceof RemoteError && error.status === 404) {
        throw missingIdentity(id, error);
      }
      throw error;
    }
  }

  private async listCredentials(id: string): Promise<FederatedCredential[]> {
    const { resourceGroup, name } = parseIdentity(id);
    const out: FederatedCredential[] = [];
    await this.call(`list credentials of ${name}`, "federatedIdentityCredentials.list", async () => {
      out.length = 0;
      for await (const c of this.identityClient(id).federatedIdentityCredentials.list(resourceGroup, name)) {
        out.push(credentialOf(c));
      }
    });
    return out;
  }

  /** A credential write, retried while another writer holds the identity (Azure's 409). */
  private write(
    id: string,
    what: string,
    operation: string,
    send: (c: ManagedServiceIdentityClient) => Promise<unknown>,
  ): Promise<unknown> {
    return this.remote.call(
      {
        what: `Azure ${what} on managed identity ${identityName(id)}`,
        count: operation,
        retry: {
          attempts: this.options.convergeAttempts ?? CONVERGE_DEFAULTS.attempts,
          baseDelayMs: this.options.baseDelayMs ?? CONVERGE_DEFAULTS.baseDelayMs,
          maxDelayMs: CONVERGE_DEFAULTS.maxDelayMs,
          retryable: (e) => armError(e).statusCode === 409 && armDetail(armError(e)).includes(CONCURRENT_WRITES),
          exhausted: (error) =>
            new AuthorizationError(
              "CONFLICT",
              `${error.message}. Another writer kept changing this identity's credentials; run pulumi up again.`,
              { cause: error.lastError },
            ),
        },
      },
      () => send(this.identityClient(id)),
    );
  }

  private call<T>(what: string, operation: string, send: () => Promise<T>): Promise<T> {
    return this.remote.call({ what: `Azure ${what}`, count: operation }, send);
  }

  /** An ARM failure in our terms, once the SDK's tries are over. */
  private explain(error: unknown, what: string): unknown {
    const e = armError(error);
    const status = e.statusCode;
    const detail = armDetail(e);
    if (isRetryableArmError(error)) {
      return new RemoteError(
        `${what} failed after ${this.remote.settings.attempts} tries (${status ?? "no answer"}: ${detail}). Azure is throttling or failing, or did not answer; run pulumi up again later.`,
        status,
        true,
        { cause: error },
      );
    }
    const denied = status === 401 || status === 403;
    return refused(
      `${what} failed (${status ?? "no answer"}: ${detail})${denied ? ". Check the Azure credentials (DefaultAzureCredential) and their roles." : ""}`,
      status,
      { cause: error },
    );
  }

  private clientOptions() {
    const { attempts, baseDelayMs, maxDelayMs, timeoutMs } = this.remote.settings;
    // The SDKs set no timeout on a try: one that hangs must fail, and be retried. Their own
    // timeout ends in an AbortError, which their retry policy gives up on; a network error's code
    // (ETIMEDOUT) is what it retries.
    const timedByUs = new WeakSet<object>();
    const timeout: PipelinePolicy = {
      position: "perRetry",
      policy: {
        name: "deploymentAuthorizationTimeout",
        sendRequest: async (request, next) => {
          if (!request.timeout || timedByUs.has(request)) {
            request.timeout = timeoutMs;
            timedByUs.add(request);
          }
          try {
            return await next(request);
          } catch (error) {
            if (!(error instanceof Error && error.name === "AbortError" && timedByUs.has(request))) throw error;
            if (request.abortSignal?.aborted) throw error;
            throw Object.assign(new Error(`no answer within ${timeoutMs} ms`), {
              name: "RestError",
              code: "ETIMEDOUT",
              request,
              cause: error,
            });
          }
        },
      },
    };
    return {
      ...(this.options.endpoint ? { endpoint: this.options.endpoint } : {}),
      retryOptions: { maxRetries: attempts - 1, retryDelayInMs: baseDelayMs, maxRetryDelayInMs: maxDelayMs },
      additionalPolicies: [timeout],
    };
  }

  private identityClient(id: string): ManagedServiceIdentityClient {
    const { subscriptionId } = parseIdentity(id);
    let client = this.identities.get(subscriptionId);
    if (!client)
      this.identities.set(
        subscriptionId,
        (client = new ManagedServiceIdentityClient(this.credential, subscriptionId, this.clientOptions())),
      );
    return client;
  }

  private authorizationClient(scope: string): AuthorizationManagementClient {
    const subscriptionId = scope.match(/^\/subscriptions\/([^/]+)/i)?.[1] ?? "";
    let client = this.authorization.get(subscriptionId);
    if (!client) {
      this.authorization.set(
        subscriptionId,
        (client = new AuthorizationManagementClient(this.credential, subscriptionId, this.clientOptions())),
      );
    }
    return client;
  }
}

function parseIdentity(id: string) {
  const m = IDENTITY_ID.exec(id);
  if (!m) throw new AuthorizationError("INVALID_INPUT", `not a user-assigned managed identity id: ${id}`);
  return { subscriptionId: m[1]!, resourceGroup: m[2]!, name: m[3]! };
}

function lockKey(id: string): string {
  return `azure-identity:${id.toLowerCase()}`;
}

function credentialOf(c: SdkCredential): FederatedCredential {
  return { name: c.name ?? "", issuer: c.issuer ?? "", subject: c.subject ?? "", audiences: c.audiences ?? [AUDIENCE] };
}

function sameCredential(a: FederatedCredential, b: FederatedCredential): boolean {
  return a.issuer === b.issuer && a.subject === b.subject && a.audiences.join(",") === b.audiences.join(",");
}

function sameRoleDefinition(a: string | undefined, b: string): boolean {
  return (a ?? "").toLowerCase().split("/").at(-1) === b.toLowerCase().split("/").at(-1);
}
