import { readFileSync } from "node:fs";
import path from "node:path";
import MarkdownIt from "markdown-it";
import { describe, expect, it } from "vitest";
import { reviewAuthorization, type AuthorizationReview } from "../../provider/core/review";
import type { AuthorizationState, PlannedAuthorization } from "../../provider/core/types";
import { GRANT_PLUGINS } from "../../provider/inputs";
import { renderMarkdown, reviewPreview, type NamedReview } from "../../cli/review";
import { installedIn, providerModuleId, serializedProvider } from "../../sdk/providerStub";
import * as dynamicProvider from "../../sdk/dynamicProvider";
import {
  AZURE_IDENTITY,
  AZURE_SUBSCRIPTION,
  GCP_WORKLOAD_IDENTITY,
  TARGET_ROLE_ARN,
  WORKLOAD_IDENTITY,
  azureInputs,
  diff,
  gcpInputs,
  planned,
  plannedAzure,
  plannedFor,
  plannedGcp,
  rawInputs,
  trustInputs,
} from "../support/fixtures";

const PLUGINS = new Map(GRANT_PLUGINS.map((p) => [p.cloud, p]));
const ISSUER = "https://oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B71";
const review = (olds: unknown, news: unknown) =>
  reviewAuthorization(PLUGINS, olds as AuthorizationState | undefined, news as PlannedAuthorization | undefined);
/** State as after a create: the plan plus what apply learned. */
const stateOf = (plan: PlannedAuthorization): AuthorizationState => ({
  ...plan,
  resolved: { roleArn: TARGET_ROLE_ARN },
});

describe("the review of one authorization (shared with the provider's diff)", () => {
  it("an update says which principal comes and which goes, and agrees with diff", () => {
    const olds = stateOf(planned(rawInputs()));
    const news = planned(rawInputs({ workloadIdentity: "arn:aws:iam::111122223333:role/astro-other" }));
    const r = review(olds, news);
    expect(r).toMatchObject({
      operation: "update",
      cloud: "aws",
      grant: {
        added: ["arn:aws:iam::111122223333:role/astro-other may assume it"],
        removed: [`${WORKLOAD_IDENTITY} may assume it`],
        unchanged: 0,
      },
      replaces: [],
      risks: [],
    });
    expect(diff(olds, news)).toEqual({
      changes: r.changed,
      replaces: r.replaces,
      deleteBeforeReplace: r.deleteBeforeReplace,
    });
    expect(review(olds, planned(rawInputs())).operation).toBe("same");
  });

  it("connection fields as before and after; a replacement that deletes first is a risk", () => {
    const olds = stateOf(planned(rawInputs()));
    const moved = planned({
      ...rawInputs(),
      aws: { targetRole: "arn:aws:iam::123456789012:role/other", region: "eu-west-1" },
    });
    const r = review(olds, moved);
    expect(r.operation).toBe("replace");
    expect(r.connection.changes).toContainEqual({
      field: "extra.region_name",
      before: "us-east-1",
      after: "eu-west-1",
    });
    expect(r.risks).toEqual([expect.stringMatching(/^replacement deletes first \(aws.targetRole changed\)/)]);
    expect(r.grant.removed).toHaveLength(1);
    expect(r.grant.added).toHaveLength(1);
  });

  it("flags wildcard subjects, cluster-wide trust, basic GCP roles and broad Azure assignments", () => {
    const wide = planned(
      trustInputs(TARGET_ROLE_ARN, { kind: "webIdentity", issuerUrl: ISSUER, namespace: "ns1", namespaceWide: true }),
    );
    expect(review(undefined, wide).risks).toEqual([
      expect.stringMatching(/^wildcard subject \(system:serviceaccount:ns1:\*\)/),
    ]);
    const cluster = planned(
      trustInputs(TARGET_ROLE_ARN, {
        kind: "clusterRole",
        clusterRoleArn: "arn:aws:iam::111122223333:role/AirflowS3Logs-c1",
      }),
    );
    expect(review(undefined, cluster).risks).toEqual([expect.stringMatching(/every Deployment on that cluster/)]);
    const owner = plannedGcp(gcpInputs({ grant: { kind: "projectRole", role: "roles/owner" } }));
    expect(review(undefined, owner).risks).toEqual([expect.stringMatching(/roles\/owner is a basic role/)]);
    const contributor = plannedAzure(
      azureInputs({ roleAssignment: { scope: `/subscriptions/${AZURE_SUBSCRIPTION}`, role: "Contributor" } }),
    );
    expect(review(undefined, contributor).risks).toEqual([
      expect.stringMatching(/Contributor is a broad role/),
      expect.stringMatching(/covers a whole subscription/),
    ]);
    expect(review(undefined, contributor).grant.added).toContainEqual(
      `role Contributor at /subscriptions/${AZURE_SUBSCRIPTION}`,
    );
  });

  it("reads pulumi preview --json: only authorizations, named by the program, no internal fields", () => {
    const olds = stateOf(planned(rawInputs()));
    const news = planned(rawInputs({ workloadIdentity: "arn:aws:iam::111122223333:role/astro-other" }));
    const preview = {
      steps: [
        { op: "same", urn: "urn:pulumi:dev::p::pulumi:pulumi:Stack::p-dev" },
        { op: "create", urn: "urn:pulumi:dev::p::aws:s3/bucket:Bucket::logs", newState: { inputs: { bucket: "x" } } },
        {
          op: "update",
          urn: "urn:pulumi:dev::p::deployment-authorization:index:DeploymentAuthorization$pulumi-nodejs:dynamic:Resource::s3-reader",
          oldState: { inputs: olds, outputs: olds },
          newState: { inputs: news },
        },
      ],
    };
    const reviews = reviewPreview(preview);
    expect(reviews.map((r) => [r.name, r.operation])).toEqual([["s3-reader", "update"]]);
    const markdown = renderMarkdown(reviews);
    expect(markdown).toContain("#### `s3-reader`: update (aws)");
    expect(markdown).toContain("- added: arn:aws:iam::111122223333:role/astro-other may assume it");
    expect(markdown).toContain("- removed: arn:aws:iam::111122223333:role/astro-celestial-galaxy-1234 may assume it");
    expect(markdown).not.toMatch(/entryPath|entries|adoptExisting|apiVersion/);
    expect(renderMarkdown([])).toContain("No authorization changes.");
    expect(() => reviewPreview({})).toThrow(/not the output of pulumi preview --json/);
  });
});

const ORG = "clorg0000000000000000000a";
const DEPLOYMENT = "cldep0000000000000000000a";
const OTHER_DEPLOYMENT = "cldep0000000000000000000b";
const WORKSPACE = "clwsp0000000000000000000a";
const OTHER_IDENTITY = AZURE_IDENTITY.replace(/airflow-reader$/, "airflow-writer");
const OTHER_ROLE = "arn:aws:iam::123456789012:role/data-writer";
const CUSTOMER_SA = "data-reader@customer-data.iam.gserviceaccount.com";

const airflowAt = (url: string, connectionId = "aws_data") => ({
  connectionId,
  airflow: { url, auth: { kind: "token" } },
});
const astroIn = (astro: Record<string, unknown>) => ({
  connectionId: "aws_data",
  target: "astro",
  astro: { organizationId: ORG, ...astro },
});
/** AWS inputs that own the Deployment's secrets backend (`deploymentSettings` in the plan). */
const withSettings = (deploymentId: string) =>
  rawInputs({ deployment: { organizationId: ORG, deploymentId, cloudProvider: "AWS", secretsBackend: true } });

/** Review and diff of one change, from state as after a create of `before` to the plan of `after`. */
function change(before: unknown, after: unknown) {
  const olds = stateOf(plannedFor(before));
  const news = plannedFor(after);
  const r = review(olds, news);
  expect(diff(olds, news)).toEqual({
    changes: r.changed,
    replaces: r.replaces,
    deleteBeforeReplace: r.deleteBeforeReplace,
  });
  return r;
}

describe("a replacement says where the grant goes from and to, and what happens to the connection", () => {
  it("another managed identity: the same credentials are removed from the old identity and added to the new one", () => {
    const r = change(azureInputs(), azureInputs({ identity: OTHER_IDENTITY }));
    expect(r).toMatchObject({
      operation: "replace",
      replaces: ["azure.identity"],
      target: `managed identity ${OTHER_IDENTITY}`,
      grant: { from: `managed identity ${AZURE_IDENTITY}`, to: `managed identity ${OTHER_IDENTITY}`, unchanged: 0 },
      connection: {
        action: "replace",
        connectionId: "azure_data",
        previous: { connectionId: "azure_data", location: "the Airflow API at http://127.0.0.1:8080" },
      },
    });
    // The credentials read the same on both identities: what tells them apart is where they are.
    expect(r.grant.added).toHaveLength(4);
    expect(r.grant.removed).toEqual(r.grant.added);
    const markdown = renderMarkdown([{ name: "lake", urn: "urn:x", ...r }]);
    const [credential] = r.grant.added;
    expect(markdown).toContain(
      `**Grant**: moves from managed identity ${AZURE_IDENTITY} to managed identity ${OTHER_IDENTITY}`,
    );
    expect(markdown).toContain(`- removed from managed identity ${AZURE_IDENTITY}:\n  - ${credential}\n`);
    expect(markdown).toContain(`- added to managed identity ${OTHER_IDENTITY}:\n  - ${credential}\n`);
    // Deleted first: the removal is listed before the addition.
    expect(markdown.indexOf("- removed from")).toBeLessThan(markdown.indexOf("- added to"));
    expect(markdown).toContain("Replaced because `azure.identity` changed: the old resource is deleted first");
    expect(markdown).toContain(
      "**Connection** `azure_data`: deleted from the Airflow API at http://127.0.0.1:8080, then created there again",
    );
    expect(markdown).not.toMatch(/no change|grant\.identity/);
  });

  it("another target role names both roles", () => {
    const r = change(rawInputs(), rawInputs({ aws: { targetRole: OTHER_ROLE, region: "us-east-1" } }));
    expect(r).toMatchObject({
      operation: "replace",
      replaces: ["aws.targetRole"],
      grant: {
        from: `IAM role ${TARGET_ROLE_ARN}, statement AirflowDAAssumeRole`,
        to: `IAM role ${OTHER_ROLE}, statement AirflowDAAssumeRole`,
        removed: [`${WORKLOAD_IDENTITY} may assume it`],
        added: [`${WORKLOAD_IDENTITY} may assume it`],
      },
    });
    expect(r.risks).toEqual([expect.stringMatching(/^replacement deletes first \(aws\.targetRole changed\)/)]);
  });

  it("on GCP, the input that names the policy: the project, the service account, or the kind", () => {
    const projectRole = gcpInputs();
    const onProject = change(projectRole, gcpInputs({ project: "elsewhere-123" }));
    expect(onProject).toMatchObject({
      replaces: ["gcp.project"],
      grant: {
        from: "project customer-data, role roles/bigquery.dataViewer",
        to: "project elsewhere-123, role roles/bigquery.dataViewer",
      },
    });
    const impersonation = gcpInputs({ grant: { kind: "impersonation", serviceAccount: CUSTOMER_SA } });
    const otherAccount = gcpInputs({
      grant: { kind: "impersonation", serviceAccount: "data-writer@customer-data.iam.gserviceaccount.com" },
    });
    expect(change(impersonation, otherAccount).replaces).toEqual(["gcp.grant.serviceAccount"]);
    expect(change(projectRole, impersonation).replaces).toEqual(["gcp.grant.kind", "gcp.grant.serviceAccount"]);
    expect(change(impersonation, projectRole).replaces).toEqual(["gcp.grant.kind", "gcp.project"]);
  });

  it("an update that moves the grant (another GCP role) names both and says what goes from which", () => {
    const r = change(gcpInputs(), gcpInputs({ grant: { kind: "projectRole", role: "roles/viewer" } }));
    const member = `serviceAccount:${GCP_WORKLOAD_IDENTITY}`;
    expect(r).toMatchObject({
      operation: "update",
      replaces: [],
      grant: {
        from: "project customer-data, role roles/bigquery.dataViewer",
        to: "project customer-data, role roles/viewer",
        removed: [`${member} has roles/bigquery.dataViewer`],
        added: [`${member} has roles/viewer`],
      },
      connection: { action: "same", changes: [] },
    });
    const markdown = renderMarkdown([{ name: "bq", urn: "urn:x", ...r }]);
    expect(markdown).toContain(
      "**Grant**: moves from project customer-data, role roles/bigquery.dataViewer to project customer-data, role roles/viewer",
    );
    // An update adds first, then takes the old away.
    expect(markdown).toContain(
      `- added to project customer-data, role roles/viewer:\n  - ${member} has roles/viewer\n` +
        `- removed from project customer-data, role roles/bigquery.dataViewer:\n  - ${member} has roles/bigquery.dataViewer\n`,
    );
    expect(markdown).toContain(
      "**Connection** `google_cloud_data` in the Airflow API at http://127.0.0.1:8080: no change",
    );
  });

  it("another connection id: deleted under the old one, created under the new; the grant removed and added again", () => {
    const r = change(rawInputs(), rawInputs({ connection: airflowAt("http://127.0.0.1:8080", "aws_other") }));
    const entry = `${WORKLOAD_IDENTITY} may assume it`;
    const target = `IAM role ${TARGET_ROLE_ARN}, statement AirflowDAAssumeRole`;
    expect(r).toMatchObject({
      operation: "replace",
      replaces: ["connection.connectionId"],
      deleteBeforeReplace: true,
      grant: { from: target, to: target, removed: [entry], added: [entry], unchanged: 0 },
      connection: {
        action: "replace",
        connectionId: "aws_other",
        previous: { connectionId: "aws_data", location: "the Airflow API at http://127.0.0.1:8080" },
      },
    });
    const markdown = renderMarkdown([{ name: "s3", urn: "urn:x", ...r }]);
    expect(markdown).toContain(`**Grant** on ${target}: removed, then added again (the replacement deletes first)`);
    expect(markdown).toContain(`- removed from ${target}:\n  - ${entry}\n- added again to ${target}:\n  - ${entry}\n`);
    expect(markdown).toContain(
      "**Connection**: `aws_data` deleted from the Airflow API at http://127.0.0.1:8080, then `aws_other` created in the Airflow API at http://127.0.0.1:8080",
    );
    expect(markdown).not.toMatch(/no change|same/);
  });

  it("another Airflow, another Astro scope, the other target: each named by its input", () => {
    const other = change(rawInputs(), rawInputs({ connection: airflowAt("http://127.0.0.1:9090") }));
    expect(other).toMatchObject({
      replaces: ["connection.airflow.url"],
      connection: {
        action: "replace",
        location: "the Airflow API at http://127.0.0.1:9090",
        previous: { location: "the Airflow API at http://127.0.0.1:8080" },
      },
    });
    expect(renderMarkdown([{ name: "s3", urn: "urn:x", ...other }])).toContain(
      "`aws_data` deleted from the Airflow API at http://127.0.0.1:8080, then `aws_data` created in the Airflow API at http://127.0.0.1:9090",
    );
    const byDeployment = rawInputs({ connection: astroIn({ deploymentId: DEPLOYMENT }) });
    expect(
      change(byDeployment, rawInputs({ connection: astroIn({ deploymentId: OTHER_DEPLOYMENT }) })).replaces,
    ).toEqual(["connection.astro.deploymentId"]);
    const byWorkspace = rawInputs({
      connection: astroIn({ workspaceId: WORKSPACE, linkedDeploymentIds: [DEPLOYMENT] }),
    });
    const scoped = change(byDeployment, byWorkspace);
    expect(scoped).toMatchObject({
      replaces: ["connection.astro.deploymentId", "connection.astro.workspaceId"],
      connection: {
        location: `Astro's Environment Manager, workspace ${WORKSPACE}`,
        previous: { location: `Astro's Environment Manager, deployment ${DEPLOYMENT}` },
      },
    });
    expect(change(rawInputs(), byDeployment).replaces).toEqual(["connection.target"]);
  });

  it("another Deployment whose settings it owns, another cloud: the inputs, not the plan's fields", () => {
    expect(change(withSettings(DEPLOYMENT), withSettings(OTHER_DEPLOYMENT)).replaces).toEqual([
      "deployment.deploymentId",
    ]);
    expect(change(rawInputs(), gcpInputs({}, { connection: airflowAt("http://127.0.0.1:8080") })).replaces).toEqual([
      "aws",
      "gcp",
    ]);
  });

  it("replaces in exactly the cases it did: what stays in place is an update", () => {
    const inPlace: Array<[unknown, unknown]> = [
      [rawInputs(), rawInputs({ workloadIdentity: "arn:aws:iam::111122223333:role/astro-other" })],
      [rawInputs(), rawInputs({ aws: { targetRole: TARGET_ROLE_ARN, region: "eu-west-1" } })],
      [rawInputs(), rawInputs({ aws: { targetRole: "data-reader", region: "us-east-1" } })],
      [rawInputs(), rawInputs({ connection: { ...airflowAt("http://127.0.0.1:8080"), description: "lake" } })],
      [gcpInputs(), gcpInputs({ grant: { kind: "projectRole", role: "roles/viewer" } })],
      [azureInputs(), azureInputs({ namespace: "other-ns" })],
      [
        azureInputs(),
        azureInputs({ roleAssignment: { scope: `/subscriptions/${AZURE_SUBSCRIPTION}`, role: "Reader" } }),
      ],
      [
        rawInputs({ connection: astroIn({ workspaceId: WORKSPACE, linkedDeploymentIds: [DEPLOYMENT] }) }),
        rawInputs({ connection: astroIn({ workspaceId: WORKSPACE, linkedDeploymentIds: [OTHER_DEPLOYMENT] }) }),
      ],
      [withSettings(DEPLOYMENT), rawInputs()],
    ];
    for (const [before, after] of inPlace) {
      expect(change(before, after)).toMatchObject({ operation: "update", replaces: [], deleteBeforeReplace: false });
    }
  });
});

describe("the Markdown, as a CommonMark/GFM renderer other than GitHub's reads it (markdown-it)", () => {
  const markdownIt = new MarkdownIt();
  const named = (name: string, r: AuthorizationReview): NamedReview => ({ name, urn: `urn:${name}`, ...r });
  const reviews = () => [
    named("moved", change(azureInputs(), azureInputs({ identity: OTHER_IDENTITY }))),
    named("renamed", change(rawInputs(), rawInputs({ connection: airflowAt("http://127.0.0.1:8080", "aws_other") }))),
    named(
      "settings",
      change(
        withSettings(DEPLOYMENT),
        rawInputs({ deployment: { organizationId: ORG, deploymentId: DEPLOYMENT, cloudProvider: "AWS" } }),
      ),
    ),
    named("created", review(undefined, plannedGcp(gcpInputs({ grant: { kind: "projectRole", role: "roles/owner" } })))),
  ];

  it("every block starts after a blank line, so renderers that let no table or list interrupt a paragraph agree", () => {
    const markdown = renderMarkdown(reviews());
    const lines = markdown.split("\n");
    const blocks = markdownIt.parse(markdown, {}).filter((t) => t.level === 0 && t.nesting === 1 && t.map);
    expect(blocks.map((t) => t.type)).toEqual(
      expect.arrayContaining(["table_open", "bullet_list_open", "blockquote_open"]),
    );
    for (const block of blocks) {
      const [start] = block.map!;
      expect({ block: block.type, line: lines[start], before: lines[start - 1] ?? "" }).toMatchObject({ before: "" });
    }
  });

  it("the example in docs/preview-and-review.md is what the review prints", () => {
    const page = readFileSync(path.join(__dirname, "../../docs/preview-and-review.md"), "utf8");
    const example = page.match(/For a change of `aws\.targetRole` it reads:\n\n```text\n([\s\S]*?)```\n/)?.[1];
    const airflow = { url: "https://a.example", auth: { kind: "token" } };
    const r = change(
      rawInputs({ connection: { connectionId: "aws_lake", airflow } }),
      rawInputs({
        aws: { targetRole: OTHER_ROLE, region: "us-east-1" },
        connection: { connectionId: "aws_lake", airflow },
      }),
    );
    const markdown = renderMarkdown([named("lake", r)]);
    expect(markdown.slice(markdown.indexOf("#### "))).toBe(example);
  });

  it("renders the field tables, the nested lists of entries and the risks as such", () => {
    const html = markdownIt.render(renderMarkdown(reviews()));
    // One table per connection with field changes, one for the Deployment settings that change.
    expect(html.match(/<table>/g)).toHaveLength(4);
    expect(html).toContain("<th>field</th>\n<th>before</th>\n<th>after</th>");
    expect(html).toContain("<td><code>connectionId</code></td>\n<td><code>&quot;aws_data&quot;</code></td>");
    expect(html).toMatch(
      new RegExp(
        `<li>removed from managed identity ${escapeRegExp(AZURE_IDENTITY)}:\\n<ul>\\n<li>federated credential `,
      ),
    );
    expect(html).toContain("<p><strong>Deployment settings</strong></p>\n<table>");
    expect(html).toMatch(
      /<blockquote>\n<p><strong>Risk:<\/strong> replacement deletes first \(azure\.identity changed\)/,
    );
    expect(html).toMatch(/<p><strong>Risk:<\/strong> roles\/owner is a basic role/);
    // No table row or list item was swallowed into a paragraph.
    expect(html).not.toMatch(/<p>[^<]*(\| field|^- )/m);
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

describe("where the provider process finds the provider", () => {
  it("installed: by package name from any folder; in this repository: the compiled file", () => {
    const installed = "/srv/portal/node_modules/pulumi-deployment-authorization/dist/sdk";
    expect(providerModuleId("/tmp/anywhere", installed)).toBe("pulumi-deployment-authorization/provider");
    expect(installedIn(installed)).toBe("/srv/portal/node_modules");
    expect(installedIn("/work/repo/dist/sdk")).toBeUndefined();
    expect(providerModuleId("/tmp", "/work/repo/dist/sdk")).toBe("/work/repo/dist/provider/runtime.js");
  });

  it("installed, state refers to the ./dynamic-provider module; in this repository, one stub per module id", async () => {
    const installed = "/srv/portal/node_modules/pulumi-deployment-authorization/dist/sdk";
    expect(serializedProvider(installed)).toBe(dynamicProvider);
    const stub = serializedProvider("/work/repo/dist/sdk", "/tmp");
    expect(serializedProvider("/work/repo/dist/sdk", "/tmp")).toBe(stub);
    expect(stub).not.toBe(dynamicProvider);
    // The module's methods are the provider's: what a refresh or destroy from state will call.
    expect(Object.keys(dynamicProvider).sort()).toEqual(
      ["check", "configure", "create", "delete", "diff", "read", "update"].sort(),
    );
  });
});
