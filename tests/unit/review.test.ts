import MarkdownIt from "markdown-it";
import { describe, expect, it } from "vitest";
import { reviewAuthorization } from "../../provider/core/review";
import type { AuthorizationState, PlannedAuthorization } from "../../provider/core/types";
import { GRANT_PLUGINS } from "../../provider/grants";
import { renderMarkdown, reviewPreview } from "../../sdk/review";
import { installedIn, providerModuleId, serializedProvider } from "../../sdk/providerStub";
import * as dynamicProvider from "../../sdk/dynamicProvider";
import {
  AZURE_SUBSCRIPTION,
  TARGET_ROLE_ARN,
  WORKLOAD_IDENTITY,
  azureInputs,
  diff,
  gcpInputs,
  planned,
  plannedAzure,
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
    expect(markdown).not.toMatch(/entryPath|entries|adoptExisting|apiVersion/);
    expect(renderMarkdown([])).toContain("No authorization changes.");
    expect(() => reviewPreview({})).toThrow(/not the output of pulumi preview --json/);
  });
});

describe("the Markdown, as a CommonMark/GFM renderer other than GitHub's reads it (markdown-it)", () => {
  const markdownIt = new MarkdownIt();
  const reviews = () => {
    const olds = stateOf(planned(rawInputs()));
    const moved = planned({
      ...rawInputs(),
      aws: { targetRole: "arn:aws:iam::123456789012:role/other", region: "eu-west-1" },
    });
    const owner = plannedGcp(gcpInputs({ grant: { kind: "projectRole", role: "roles/owner" } }));
    return [
      { name: "moved", urn: "urn:moved", ...review(olds, moved) },
      { name: "created", urn: "urn:created", ...review(undefined, owner) },
    ];
  };

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

  it("renders the field tables, the lists and the risks as such", () => {
    const html = markdownIt.render(renderMarkdown(reviews()));
    expect(html.match(/<table>/g)).toHaveLength(2);
    expect(html).toContain("<th>field</th>\n<th>before</th>\n<th>after</th>");
    expect(html).toContain("<td><code>extra.region_name</code></td>\n<td><code>&quot;us-east-1&quot;</code></td>");
    expect(html).toMatch(/<blockquote>\n<p><strong>Risk:<\/strong> replacement deletes first/);
    expect(html).toMatch(/<li>added: serviceAccount:.* has roles\/owner<\/li>/);
    // No table row or list item was swallowed into a paragraph.
    expect(html).not.toMatch(/<p>[^<]*(\| field|^- )/m);
  });
});

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
