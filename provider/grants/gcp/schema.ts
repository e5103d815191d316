import { z } from "zod";
import { namespaceSchema, serviceAccountNamesSchema, serviceAccountsSchema } from "../../astro/namingSchema";
import type { CommonInputs, IssueSink } from "../../core/types";
import { mustBe, orUnknown, strictObject } from "../../core/schema";
import { UNKNOWN } from "../../core/unknown";
import {
  PROJECT_ID,
  USER_MANAGED_SERVICE_ACCOUNT,
  ROLE_NAME,
  WORKLOAD_IDENTITY_POOL,
  isServiceAccountEmail,
} from "./names";

/**
 * The `extra` keys apache-airflow-providers-google reads as key material or a secret
 * (GoogleBaseHook.get_credentials_and_project_id, for every Google hook; each also as
 * `extra__google_cloud_platform__<key>`).
 */
export const SECRET_GCP_EXTRA_KEYS: Readonly<Record<string, string>> = {
  keyfile_dict: "a service account key (its JSON)",
  key_path: "the path of a service account key file",
  key_secret_name: "the Secret Manager secret that holds a service account key",
  key_secret_project_id: "the project of the Secret Manager secret that holds a service account key",
  client_secret: "the client secret of the client credentials flow (with idp_issuer_url and client_id)",
};

const projectId = z.string({ error: "must be a Google Cloud project id as a string" }).regex(PROJECT_ID, {
  error: mustBe(
    "a project id (6-30 lower-case letters, digits and hyphens, starting with a letter and not ending in a hyphen), such as my-data-project",
  ),
});

const SERVICE_ACCOUNT_RULE =
  "a service account e-mail, <account id>@<project>.iam.gserviceaccount.com with an account id of 6-30 lower-case letters, digits and hyphens (starting with a letter, not ending in a hyphen), such as airflow-reader@my-data-project.iam.gserviceaccount.com";

const serviceAccount = z
  .string({ error: "must be a service account e-mail as a string" })
  .refine(isServiceAccountEmail, { error: mustBe(SERVICE_ACCOUNT_RULE) });

const grant = z.discriminatedUnion(
  "kind",
  [
    strictObject({
      /**
       * "projectRole": the Deployment's own workload identity gets a role on the project (`gcloud projects
       * add-iam-policy-binding`). Needs `workloadIdentity`.
       */
      kind: z
        .literal("projectRole")
        .describe(
          '"projectRole": the Deployment\'s own workload identity gets a role on the project (`gcloud projects add-iam-policy-binding`). Needs `workloadIdentity`.',
        ),
      /**
       * The role to grant, roles/<name> or a custom role, such as roles/bigquery.dataViewer or
       * projects/my-project/roles/custom.
       */
      role: orUnknown(
        z.string({ error: "must be a role name as a string" }).regex(ROLE_NAME, {
          error: mustBe(
            "a role: roles/<name> (such as roles/bigquery.dataViewer), or a custom role projects/<project id>/roles/<role id> or organizations/<numeric id>/roles/<role id>, the role id 1-64 letters, digits, _ and .",
          ),
        }),
      ).describe(
        "The role to grant, roles/<name> or a custom role, such as roles/bigquery.dataViewer or projects/my-project/roles/custom.",
      ),
    }),
    strictObject({
      /**
       * "impersonation": the Deployment's workload identity may impersonate a customer service account
       * (Token Creator on it). Needs `workloadIdentity`.
       */
      kind: z
        .literal("impersonation")
        .describe(
          '"impersonation": the Deployment\'s workload identity may impersonate a customer service account (Token Creator on it). Needs `workloadIdentity`.',
        ),
      /**
       * The customer service account to impersonate, such as
       * airflow-reader@my-data-project.iam.gserviceaccount.com.
       */
      serviceAccount: orUnknown(serviceAccount).describe(
        "The customer service account to impersonate, such as airflow-reader@my-data-project.iam.gserviceaccount.com.",
      ),
    }),
    strictObject({
      /**
       * "customerManagedIdentity": the customer service account becomes the Deployment's identity: the
       * Deployment's Kubernetes service accounts may act as it (Workload Identity User on it).
       */
      kind: z
        .literal("customerManagedIdentity")
        .describe(
          "\"customerManagedIdentity\": the customer service account becomes the Deployment's identity: the Deployment's Kubernetes service accounts may act as it (Workload Identity User on it).",
        ),
      /**
       * The customer service account the Deployment runs as, such as
       * airflow-reader@my-data-project.iam.gserviceaccount.com.
       */
      serviceAccount: orUnknown(serviceAccount).describe(
        "The customer service account the Deployment runs as, such as airflow-reader@my-data-project.iam.gserviceaccount.com.",
      ),
      /**
       * The cluster's workload identity pool, <cluster project>.svc.id.goog, such as
       * astronomer-prod-123.svc.id.goog.
       */
      workloadIdentityPool: orUnknown(
        z.string({ error: "must be a workload identity pool as a string" }).regex(WORKLOAD_IDENTITY_POOL, {
          error: mustBe(
            "the cluster's workload identity pool, <cluster project id>.svc.id.goog, such as astronomer-prod-123.svc.id.goog",
          ),
        }),
      ).describe(
        "The cluster's workload identity pool, <cluster project>.svc.id.goog, such as astronomer-prod-123.svc.id.goog.",
      ),
      /**
       * The Deployment's Kubernetes namespace, such as astronomer-celestial-galaxy-1234; may be an output
       * of the resource that creates the Deployment. With `deployment`, read from the Deployment.
       */
      namespace: namespaceSchema.describe(
        "The Deployment's Kubernetes namespace, such as astronomer-celestial-galaxy-1234; may be an output of the resource that creates the Deployment. With `deployment`, read from the Deployment.",
      ),
      /**
       * The Deployment's components whose service accounts may act as the service account, of scheduler,
       * worker, triggerer, dag-processor, webserver, api-server and kpo, such as ["worker"]; not with
       * serviceAccountNames. Default: scheduler, worker, triggerer, dag-processor, kpo.
       */
      serviceAccounts: serviceAccountsSchema.describe(
        'The Deployment\'s components whose service accounts may act as the service account, of scheduler, worker, triggerer, dag-processor, webserver, api-server and kpo, such as ["worker"]; not with serviceAccountNames. Default: scheduler, worker, triggerer, dag-processor, kpo.',
      ),
      /**
       * Full Kubernetes service account names, instead of the components' Astro names, such as
       * ["astronomer-celestial-galaxy-1234-worker-serviceaccount"]; not with serviceAccounts.
       */
      serviceAccountNames: serviceAccountNamesSchema.describe(
        'Full Kubernetes service account names, instead of the components\' Astro names, such as ["astronomer-celestial-galaxy-1234-worker-serviceaccount"]; not with serviceAccounts.',
      ),
    }).refine((g) => !(g.serviceAccounts && g.serviceAccountNames), {
      error: "give serviceAccounts (components) or serviceAccountNames, not both",
    }),
  ],
  {
    error:
      'must be {kind: "projectRole", role}, {kind: "impersonation", serviceAccount} or {kind: "customerManagedIdentity", serviceAccount, workloadIdentityPool, namespace}',
  },
);

/** `inputs.gcp`: the customer's project and what to grant in it. */
export const gcpInputSchema = strictObject({
  /**
   * The customer's project: where a project role is granted, and the connection's `project`, such as
   * my-data-project. Default: for `projectRole`, the stack config `gcp:project`; for the service account
   * kinds, the service account's project (from `name@<project>.iam.gserviceaccount.com`).
   */
  project: orUnknown(projectId)
    .optional()
    .describe(
      "The customer's project: where a project role is granted, and the connection's `project`, such as my-data-project. Default: for `projectRole`, the stack config `gcp:project`; for the service account kinds, the service account's project (from `name@<project>.iam.gserviceaccount.com`).",
    ),
  /**
   * What to grant: { kind: "projectRole", role }, { kind: "impersonation", serviceAccount } or { kind:
   * "customerManagedIdentity", serviceAccount, workloadIdentityPool, namespace, serviceAccounts?,
   * serviceAccountNames? }.
   */
  grant: grant.describe(
    'What to grant: { kind: "projectRole", role }, { kind: "impersonation", serviceAccount } or { kind: "customerManagedIdentity", serviceAccount, workloadIdentityPool, namespace, serviceAccounts?, serviceAccountNames? }.',
  ),
  /**
   * Members that were in the binding before this resource (a manual setup) become its own: kept while it
   * exists, removed when it goes. Without it they are left in place on destroy. Default: false.
   */
  adoptExistingMembers: z
    .boolean({ error: "must be true or false" })
    .optional()
    .describe(
      "Members that were in the binding before this resource (a manual setup) become its own: kept while it exists, removed when it goes. Without it they are left in place on destroy. Default: false.",
    ),
}).describe(
  "Grant in Google Cloud: the Deployment's members in one role's binding, on the project or on a service account, and the connection's project. { project?, grant, adoptExistingMembers? }.",
);

export type GcpInput = z.infer<typeof gcpInputSchema>;

/** Which kinds need the Deployment's own identity (a service account e-mail), and where the project comes from. */
export function refineGcpInput(input: GcpInput, common: CommonInputs, issue: IssueSink): void {
  const kind = input.grant?.kind;
  if (!["projectRole", "impersonation", "customerManagedIdentity"].includes(kind)) return;
  const identity = common.workloadIdentity;
  const needsIdentity = kind !== "customerManagedIdentity";
  if (needsIdentity && identity === undefined) {
    issue(
      ["workloadIdentity"],
      `is required for the ${kind} grant: the Deployment's workload identity, a service account e-mail such as astro-celestial-galaxy-1234@astronomer-prod.iam.gserviceaccount.com`,
    );
  }
  if (needsIdentity && identity !== undefined && identity !== UNKNOWN && !isServiceAccountEmail(identity)) {
    issue(
      ["workloadIdentity"],
      mustBe(
        "the Deployment's workload identity on GCP, a service account e-mail such as astro-celestial-galaxy-1234@astronomer-prod.iam.gserviceaccount.com",
      )(),
    );
  }
  if (!needsIdentity && identity !== undefined) {
    issue(
      ["workloadIdentity"],
      "is not used by the customerManagedIdentity grant: the Deployment's Kubernetes service accounts act as gcp.grant.serviceAccount",
    );
  }
  if (kind === "projectRole" && input.project === undefined) {
    issue(
      ["gcp", "project"],
      "is required for the projectRole grant: the project to grant the role on, such as my-data-project",
    );
  }
  if (
    kind !== "projectRole" &&
    input.project === undefined &&
    typeof input.grant.serviceAccount === "string" &&
    input.grant.serviceAccount !== UNKNOWN &&
    !USER_MANAGED_SERVICE_ACCOUNT.test(input.grant.serviceAccount)
  ) {
    issue(
      ["gcp", "project"],
      "is required: the connection's project cannot be read from this service account's e-mail (only name@<project>.iam.gserviceaccount.com names its project)",
    );
  }
}
