import fc from "fast-check";
import { describe, expect, it, vi } from "vitest";
import { SENSITIVE_EXTRA_KEY } from "../../provider/core/schema";
import { createProvider } from "../../provider/core/provider";
import { GRANT_PLUGINS } from "../../provider/grants";
import { GRANT_PLANNERS } from "../../provider/grants/planners";
import { parseInputs } from "../../provider/inputs";
import { azureInputs, gcpInputs, rawInputs } from "../support/fixtures";

/**
 * The documented input rules, as properties: values built to the vendor's rule pass `check`, and
 * near misses (one rule broken) fail it at their own path, echoing the value and saying what a
 * valid one looks like, before any remote call (`check` has no drivers to call with). The seed
 * settings are those of properties.test.ts: PROPERTY_SEED, PROPERTY_RUNS.
 */
const seedSetting = process.env.PROPERTY_SEED ?? "20261201";
fc.configureGlobal({
  ...(seedSetting === "random" ? {} : { seed: Number(seedSetting) }),
  numRuns: 100 * Number(process.env.PROPERTY_RUNS ?? 1),
});
vi.setConfig({ testTimeout: 20_000 * Number(process.env.PROPERTY_RUNS ?? 1) });

const provider = createProvider({
  planners: GRANT_PLANNERS,
  loadParser: () => parseInputs,
  makeDrivers: () => {
    throw new Error("check must not build drivers");
  },
  env: {},
});

async function failuresOf(raw: Record<string, unknown>): Promise<Record<string, string>> {
  const { failures } = await provider.check({}, raw);
  return Object.fromEntries((failures ?? []).map((f) => [f.property, f.reason]));
}

const BASE_INPUTS: Record<string, () => Record<string, unknown>> = {
  aws: () => rawInputs(),
  gcp: () => gcpInputs(),
  azure: () => azureInputs(),
};

function withExtra(cloud: string, extra: Record<string, unknown>): Record<string, unknown> {
  const base = BASE_INPUTS[cloud]!();
  return { ...base, connection: { ...(base.connection as object), extra } };
}

/** The same letters in a random case. */
const caseVariant = (text: string) =>
  fc
    .array(fc.boolean(), { minLength: text.length, maxLength: text.length })
    .map((upper) => [...text].map((c, i) => (upper[i] ? c.toUpperCase() : c.toLowerCase())).join(""));

/** The connection types whose hooks read `extra__<type>__<key>` as `<key>`. */
const HOOK_CONN_TYPES = [
  "aws",
  "google_cloud_platform",
  "azure",
  "wasb",
  "adls",
  "azure_data_explorer",
  "azure_fileshare",
];

describe("secret-bearing extra keys, per cloud", () => {
  for (const plugin of GRANT_PLUGINS) {
    const secrets = Object.keys(plugin.secretExtraKeys);

    it(`${plugin.cloud}: every key its hooks read as a secret is refused, in any case and with any extra__<type>__ prefix, never echoing the value`, async () => {
      expect(secrets.length).toBeGreaterThan(0);
      const spelling = fc
        .constantFrom(...secrets)
        .chain((key) =>
          fc.tuple(
            fc.constant(key),
            caseVariant(key),
            fc.option(
              fc.constantFrom(...HOOK_CONN_TYPES).chain((t) => caseVariant(`extra__${t}__`)),
              {
                nil: undefined,
              },
            ),
          ),
        )
        .map(([key, variant, prefix]) => ({ key, spelled: `${prefix ?? ""}${variant}` }));
      await fc.assert(
        fc.asyncProperty(spelling, fc.string({ minLength: 8, maxLength: 40 }), async ({ key, spelled }, value) => {
          const secret = `s3cr3t-${value}`;
          const failures = await failuresOf(withExtra(plugin.cloud, { [spelled]: secret }));
          expect(failures[`connection.extra.${spelled}`]).toMatch(
            new RegExp(
              `^is key material: Airflow's ${plugin.cloud} hooks read it as .*needs no key or secret: remove it`,
            ),
          );
          expect(failures[`connection.extra.${spelled}`]).toContain(plugin.secretExtraKeys[key]!);
          expect(JSON.stringify(failures)).not.toContain(secret);
        }),
      );
    });

    it(`${plugin.cloud}: keys that are neither secrets nor set by the resource stay accepted`, async () => {
      const reserved = new Set([...plugin.reservedExtraKeys, ...Object.keys(plugin.refusedExtraKeys ?? {})]);
      const plain = fc
        .stringMatching(/^[a-z][a-z0-9_]{0,24}$/)
        .filter(
          (key) =>
            !reserved.has(key) &&
            !SENSITIVE_EXTRA_KEY.test(key) &&
            !secrets.some((s) => key === s || key.endsWith(`__${s}`)),
        );
      await fc.assert(
        fc.asyncProperty(plain, fc.oneof(fc.string(), fc.integer(), fc.boolean()), async (key, value) => {
          expect(await failuresOf(withExtra(plugin.cloud, { [key]: value }))).toEqual({});
        }),
      );
    });
  }

  it("a secret key of one cloud in another cloud's connection follows that cloud's own list", async () => {
    // connection_string is key material for the Azure hooks, and nothing the AWS hooks read.
    expect(Object.keys((await failuresOf(withExtra("azure", { connection_string: "x" }))) ?? {})).toEqual([
      "connection.extra.connection_string",
    ]);
    expect(await failuresOf(withExtra("aws", { connection_string: "x" }))).toEqual({});
  });
});
