import { defineConfig } from "vitest/config";

const integration = {
  globalSetup: ["tests/support/globalSetup.ts"],
  testTimeout: 300_000,
  hookTimeout: 300_000,
};

export default defineConfig({
  test: {
    projects: [
      { test: { name: "unit", include: ["tests/unit/**/*.test.ts"] } },
      // Every contract and e2e test, its programs on the current toolchain (scripts/toolchain.mjs).
      {
        test: {
          name: "integration",
          include: ["tests/contract/**/*.test.ts", "tests/e2e/**/*.test.ts"],
          ...integration,
        },
      },
      // What can differ by version, again on the floor toolchain: the packed package in a user's
      // project on every cloud, the upgrade from 0.1.0, the recovery from a killed `pulumi up`, and
      // what the engine does with resources a failed replacement left pending (ownership).
      {
        test: {
          name: "floor",
          include: [
            "tests/e2e/package.test.ts",
            "tests/e2e/upgrade.test.ts",
            "tests/e2e/crash.test.ts",
            "tests/e2e/ownership.test.ts",
          ],
          ...integration,
        },
      },
    ],
  },
});
