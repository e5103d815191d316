import { existsSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type PythonTypeCheckEnv,
  codeBlocks,
  pythonBlocks,
  pythonExamplePrograms,
  repoRoot,
  typeCheckPythonBlocks,
  userDocs,
} from "../support/docBlocks";
import { type PythonSdk, bootstrapVenvBin, installPythonSdk } from "../support/languagePrograms";

// The Python SDK as a user installs it (a wheel built from sdks/python), next to the pinned `pulumi`
// SDK, and mypy from its own pinned venv: all made by scripts/bootstrap/python.sh.
let sdk: PythonSdk;
let env: PythonTypeCheckEnv;
beforeAll(() => {
  sdk = installPythonSdk();
  env = { mypy: path.join(bootstrapVenvBin("mypy"), "mypy"), python: path.join(sdk.venvBin, "python"), site: sdk.site };
});
afterAll(() => sdk?.cleanup());

describe("the Python code in README.md, docs/ and examples/python-*", () => {
  it("the generated SDK is marked typed, in sdks/python and in the wheel users install", () => {
    expect(existsSync(path.join(repoRoot, "sdks/python/pulumi_deployment_authorization/py.typed"))).toBe(true);
    expect(existsSync(path.join(sdk.site, "pulumi_deployment_authorization/py.typed"))).toBe(true);
  });

  it("every Python block and example program type-checks with mypy --strict against the SDK (a ```python fragment block is left out)", () => {
    const blocks = userDocs().flatMap((file) => pythonBlocks(codeBlocks(file)));
    expect(blocks.filter((b) => b.file === "README.md").length).toBeGreaterThanOrEqual(1);
    // docs/languages.md has one program per cloud.
    expect(blocks.filter((b) => b.file === path.join("docs", "languages.md")).length).toBeGreaterThanOrEqual(3);
    const examples = pythonExamplePrograms();
    expect(examples.map((e) => e.file)).toEqual(
      ["aws", "azure", "gcp"].map((cloud) => path.join("examples", `python-${cloud}`, "__main__.py")),
    );
    expect(typeCheckPythonBlocks([...blocks, ...examples], env)).toEqual([]);
  });

  it("a block that does not type-check is reported at its file and line", () => {
    const markdown = [
      "# Page",
      "",
      "```python",
      "import pulumi_deployment_authorization as da",
      "",
      "da.DeploymentAuthorization(",
      '    "x",',
      '    aws=da.AwsGrantArgs(target_roles="arn:aws:iam::123456789012:role/r"),',
      "    connection=da.ConnectionArgs(connection_id=1),",
      ")",
      "```",
      "",
      "```python fragment",
      "undeclared.call()",
      "```",
      "",
      "```sh",
      "not python",
      "```",
      "",
      "```py",
      "import pulumi",
      "",
      "pulumi.export(1, 2)",
      "```",
    ].join("\n");
    const blocks = pythonBlocks(codeBlocks(path.join("docs", "page.md"), markdown));
    expect(blocks.map((b) => b.line)).toEqual([4, 22]);
    const problems = typeCheckPythonBlocks(blocks, env);
    expect(problems).toEqual([
      expect.stringMatching(/^docs\/page\.md:8: Unexpected keyword argument "target_roles" for "AwsGrantArgs"/),
      expect.stringMatching(
        /^docs\/page\.md:9: Argument "connection_id" to "ConnectionArgs" has incompatible type "int"/,
      ),
      expect.stringMatching(/^docs\/page\.md:24: Argument 1 to "export" has incompatible type "int"; expected "str"/),
    ]);
  });

  it("an import the SDK does not have is an error, not a silent Any", () => {
    const [block] = pythonBlocks(
      codeBlocks(
        "README.md",
        ["```python", "import pulumi_deployment_authorization as da", "", "da.NoSuchArgs()", "```"].join("\n"),
      ),
    );
    expect(typeCheckPythonBlocks([block!], env)).toEqual([
      expect.stringMatching(/^README\.md:4: Module has no attribute "NoSuchArgs"/),
    ]);
  });
});
