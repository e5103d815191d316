import { execFileSync } from "node:child_process";
import path from "node:path";
import { describe, expect, inject, it } from "vitest";
import type { NamedReview } from "../../cli/review";
import { seedDeployment } from "../support/astro";
import { createRole, iamClient, uniqueName } from "../support/aws";
import { foreignPolicy } from "../support/fixtures";
import { programStack, repoRoot } from "../support/pulumiProgram";
import { astroEnv, motoEnv } from "../../scripts/toolchain.mjs";

const CLI = path.join(repoRoot, "dist/cli/main.js");

/** `deployment-authorization review`, fed a preview on standard input as in a CI job. */
function review(previewJson: string, ...flags: string[]): string {
  return execFileSync(process.execPath, [CLI, "review", ...flags], { input: previewJson, encoding: "utf8" });
}

describe("deployment-authorization review, on the real pulumi preview --json", () => {
  it("says what an update grants and takes away, and flags a replacement that deletes first", async () => {
    const astro = inject("endpoints").astro;
    const iam = iamClient(inject("endpoints").moto.url);
    const [first, second] = [uniqueName("review-a"), uniqueName("review-b")];
    const firstArn = await createRole(iam, first, foreignPolicy());
    const secondArn = await createRole(iam, second, foreignPolicy());
    const deployment = await seedDeployment(astro.fakeUrl, { cloudProvider: "AWS" });
    const oldIdentity = "arn:aws:iam::111122223333:role/astro-review-old";
    const newIdentity = "arn:aws:iam::111122223333:role/astro-review-new";
    const stack = await programStack({
      program: path.join(repoRoot, "tests/e2e/programs/astroConnection.js"),
      stackName: "review",
      config: {
        "astroe2e:workloadIdentity": { value: oldIdentity },
        "astroe2e:targetRole": { value: firstArn },
        "astroe2e:organizationId": { value: deployment.organizationId },
        "astroe2e:deploymentId": { value: deployment.id },
        "deployment-authorization:astroToken": { value: astro.token, secret: true },
      },
      env: { ...motoEnv(inject("endpoints").moto.url), ...astroEnv(astro.url), ASTRO_API_TOKEN: "" } as Record<
        string,
        string
      >,
    });
    try {
      const created = await stack.cli(["preview", "--json"]);
      expect(created.code).toBe(0);
      const [create] = JSON.parse(review(created.stdout, "--json")) as NamedReview[];
      expect(create).toMatchObject({
        name: "lake",
        operation: "create",
        cloud: "aws",
        grant: { added: [`${oldIdentity} may assume it`], removed: [] },
      });
      expect(create!.connection.changes).toContainEqual({
        field: "extra.region_name",
        before: undefined,
        after: "us-east-1",
      });
      await stack.stack.up();
      expect(JSON.parse(review((await stack.cli(["preview", "--json"])).stdout, "--json"))).toEqual([]);

      await stack.stack.setConfig("astroe2e:workloadIdentity", { value: newIdentity });
      const updated = await stack.cli(["preview", "--json"]);
      const markdown = review(updated.stdout);
      expect(markdown).toContain("#### `lake`: update (aws)");
      expect(markdown).toContain(`- added: ${newIdentity} may assume it`);
      expect(markdown).toContain(`- removed: ${oldIdentity} may assume it`);
      expect(markdown).toContain("is not touched");
      expect(markdown).not.toMatch(/entryPath|adoptExisting|"detect"/);
      expect(markdown).not.toContain("Risk");

      await stack.stack.setConfig("astroe2e:targetRole", { value: secondArn });
      const movedPreview = (await stack.cli(["preview", "--json"])).stdout;
      const replaced = JSON.parse(review(movedPreview, "--json")) as NamedReview[];
      expect(replaced).toHaveLength(1);
      expect(replaced[0]).toMatchObject({
        operation: "replace",
        replaces: ["aws.targetRole"],
        deleteBeforeReplace: true,
        grant: {
          from: expect.stringContaining(firstArn),
          to: expect.stringContaining(secondArn),
          // State still trusts the old identity: the change of identity was never applied.
          removed: [`${oldIdentity} may assume it`],
          added: [`${newIdentity} may assume it`],
        },
        connection: {
          action: "replace",
          connectionId: "aws_lake",
          previous: { connectionId: "aws_lake", location: replaced[0]!.connection.location },
        },
      });
      expect(replaced[0]!.risks).toEqual([
        expect.stringMatching(/^replacement deletes first \(aws\.targetRole changed\)/),
      ]);
      expect(replaced[0]!.target).toContain(second);
      const movedMarkdown = review(movedPreview);
      expect(movedMarkdown).toContain("Replaced because `aws.targetRole` changed");
      expect(movedMarkdown).toMatch(
        new RegExp(`- removed from IAM role ${firstArn}, statement \\w+:\n  - ${oldIdentity} may assume it`),
      );
      expect(movedMarkdown).toMatch(
        new RegExp(`- added to IAM role ${secondArn}, statement \\w+:\n  - ${newIdentity} may assume it`),
      );
      expect(movedMarkdown).toContain("`aws_lake`: deleted from Astro's Environment Manager, deployment");

      expect(() => review("{}")).toThrow(/not the output of pulumi preview --json/);
      await stack.stack.destroy();
    } finally {
      await stack.dispose();
    }
  });
});
