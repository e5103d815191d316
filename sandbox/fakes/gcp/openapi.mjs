// OpenAPI 3.0 for the Google methods the fake serves, generated from Google's own discovery
// documents (as shipped in google-api-python-client), so Prism can hold every request and
// response of the fake to Google's published contract.
//
//   node sandbox/fakes/gcp/openapi.mjs <discovery documents dir> [out.json]
//   import { buildOpenApi } from "./openapi.mjs"
//
// Only Node built-ins: the sandbox runs it before anything is installed.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The parts of a discovery document (https://developers.google.com/discovery/v1/reference/apis) read here.
 * @typedef {{
 *   $ref?: string, description?: string, type?: string, format?: string, enum?: string[],
 *   readOnly?: boolean, deprecated?: boolean, pattern?: string, items?: DiscoverySchema,
 *   properties?: Record<string, DiscoverySchema>, additionalProperties?: DiscoverySchema,
 *   required?: boolean, repeated?: boolean, location?: string,
 * }} DiscoverySchema
 * @typedef {{
 *   id: string, flatPath: string, httpMethod: string, description?: string,
 *   parameters?: Record<string, DiscoverySchema>, request?: DiscoverySchema, response: DiscoverySchema,
 * }} DiscoveryMethod
 * @typedef {{ methods?: Record<string, DiscoveryMethod>, resources?: Record<string, DiscoveryResource> }} DiscoveryResource
 * @typedef {DiscoveryResource & {
 *   name: string, version: string, revision: string,
 *   parameters?: Record<string, DiscoverySchema>, schemas: Record<string, DiscoverySchema>,
 * }} DiscoveryDocument
 * @typedef {{ [key: string]: unknown }} OpenApiObject a node of the OpenAPI document written
 */

/** The methods served, by API; the names are the discovery ids without the API prefix. */
export const METHODS = {
  cloudresourcemanager: {
    version: "v3",
    methods: ["projects.getIamPolicy", "projects.setIamPolicy", "projects.get", "projects.patch", "operations.get"],
  },
  iam: {
    version: "v1",
    methods: [
      "projects.serviceAccounts.get",
      "projects.serviceAccounts.getIamPolicy",
      "projects.serviceAccounts.setIamPolicy",
    ],
  },
};

// Fields the discovery documents mark output only that their own description says a request may
// carry: `Project.etag` "may be sent on update and delete requests to ensure the client has an
// up-to-date value". Marked readOnly, Prism would refuse every projects.patch that sends it.
const SENT_ON_UPDATE = { "cloudresourcemanager.Project": ["etag"] };

// Discovery formats that JSON Schema validators know; the rest (google-fieldmask,
// google-duration, ...) are Google conventions a validator would reject as unknown.
const FORMATS = new Set(["int32", "int64", "uint32", "uint64", "float", "double", "byte", "date", "date-time"]);

// https://cloud.google.com/apis/design/errors: the JSON body of every error response. The
// discovery documents leave it out, so it is written here from Google's design guide.
const ERROR_SCHEMA = "google.ErrorResponse";
const errorResponse = {
  description: "The JSON error body of Google APIs (https://cloud.google.com/apis/design/errors#http_mapping).",
  type: "object",
  additionalProperties: false,
  required: ["error"],
  properties: {
    error: {
      type: "object",
      additionalProperties: false,
      required: ["code", "message", "status"],
      properties: {
        code: { type: "integer", format: "int32" },
        message: { type: "string" },
        status: {
          type: "string",
          enum: [
            "CANCELLED",
            "UNKNOWN",
            "INVALID_ARGUMENT",
            "DEADLINE_EXCEEDED",
            "NOT_FOUND",
            "ALREADY_EXISTS",
            "PERMISSION_DENIED",
            "UNAUTHENTICATED",
            "RESOURCE_EXHAUSTED",
            "FAILED_PRECONDITION",
            "ABORTED",
            "OUT_OF_RANGE",
            "UNIMPLEMENTED",
            "INTERNAL",
            "UNAVAILABLE",
            "DATA_LOSS",
          ],
        },
        details: {
          type: "array",
          items: { type: "object", required: ["@type"], properties: { "@type": { type: "string" } } },
        },
        // The legacy list some Google front ends still add beside the fields above.
        errors: {
          type: "array",
          items: {
            type: "object",
            additionalProperties: false,
            properties: {
              message: { type: "string" },
              domain: { type: "string" },
              reason: { type: "string" },
              location: { type: "string" },
              locationType: { type: "string" },
            },
          },
        },
      },
    },
  },
};

/**
 * Reads both discovery documents from a directory such as googleapiclient/discovery_cache/documents.
 * @param {string} dir
 * @returns {Record<string, DiscoveryDocument>}
 */
export function readDiscovery(dir) {
  return Object.fromEntries(
    Object.entries(METHODS).map(([api, { version }]) => [
      api,
      JSON.parse(fs.readFileSync(path.join(dir, `${api}.${version}.json`), "utf8")),
    ]),
  );
}

/**
 * @param {DiscoveryDocument} doc
 * @param {string} dotted
 */
function findMethod(doc, dotted) {
  const parts = dotted.split(".");
  const name = parts.pop() ?? "";
  /** @type {DiscoveryResource | undefined} */
  let node = doc;
  for (const p of parts) node = node?.resources?.[p];
  const method = node?.methods?.[name];
  if (!method) throw new Error(`${doc.name}.${doc.version}: no method ${dotted}`);
  return method;
}

// A discovery schema (JSON Schema draft 3 flavour) as an OpenAPI 3.0 schema. Every object that
// lists properties and says nothing about others gets additionalProperties: false, so a
// misspelt or invented field is a violation instead of passing silently.
/**
 * @param {DiscoverySchema} s
 * @param {(id: string) => string} refName
 * @param {Set<string>} refs
 * @returns {OpenApiObject}
 */
function convertSchema(s, refName, refs) {
  if (s.$ref) {
    refs.add(s.$ref);
    return { $ref: `#/components/schemas/${refName(s.$ref)}` };
  }
  /** @type {OpenApiObject} */
  const out = {};
  if (s.description) out.description = s.description;
  if (s.type && s.type !== "any") out.type = s.type;
  if (s.format && FORMATS.has(s.format)) out.format = s.format;
  if (s.enum) out.enum = s.enum;
  if (s.readOnly) out.readOnly = true;
  if (s.deprecated) out.deprecated = true;
  if (s.pattern) out.pattern = s.pattern;
  if (s.items) out.items = convertSchema(s.items, refName, refs);
  if (s.properties) {
    out.properties = Object.fromEntries(
      Object.entries(s.properties).map(([k, v]) => [k, convertSchema(v, refName, refs)]),
    );
  }
  if (s.additionalProperties) out.additionalProperties = convertSchema(s.additionalProperties, refName, refs);
  else if (s.type === "object") out.additionalProperties = false;
  return out;
}

/**
 * @param {string} name
 * @param {DiscoverySchema} p
 * @param {(id: string) => string} refName
 */
function queryParameter(name, p, refName) {
  return {
    name,
    in: "query",
    required: Boolean(p.required),
    ...(p.description ? { description: p.description } : {}),
    schema: convertSchema(p.repeated ? { type: "array", items: p } : p, refName, new Set()),
  };
}

/**
 * The OpenAPI document for METHODS, from the discovery documents readDiscovery returns.
 * @param {Record<string, DiscoveryDocument>} discovery
 */
export function buildOpenApi(discovery) {
  /** @type {Record<string, Record<string, OpenApiObject>>} */
  const paths = {};
  /** @type {Record<string, OpenApiObject>} */
  const schemas = { [ERROR_SCHEMA]: errorResponse };
  /** @type {string[]} */
  const revisions = [];
  for (const [api, { methods }] of Object.entries(METHODS)) {
    const doc = discovery[api];
    if (!doc) throw new Error(`no discovery document for ${api}`);
    revisions.push(`${doc.name}.${doc.version} revision ${doc.revision}`);
    // Both APIs define Policy, Binding, ... : prefixed, so each keeps its own.
    const refName = (/** @type {string} */ id) => `${api}.${id}`;
    /** @type {Set<string>} */
    const refs = new Set();
    for (const dotted of methods) {
      const m = findMethod(doc, dotted);
      // flatPath names each path segment ({projectsId}, {serviceAccountsId}); Prism cannot
      // route the reserved expansion {+resource} of `path`, which spans several segments.
      const route = `/${m.flatPath}`;
      const pathParams = [...route.matchAll(/\{([^}]+)\}/g)].map(([, name]) => ({
        name,
        in: "path",
        required: true,
        schema: { type: "string" },
      }));
      const query = [...Object.entries(doc.parameters ?? {}), ...Object.entries(m.parameters ?? {})]
        .filter(([, p]) => p.location === "query")
        .map(([name, p]) => queryParameter(name, p, refName));
      /** @type {OpenApiObject} */
      const operation = {
        operationId: m.id,
        ...(m.description ? { description: m.description } : {}),
        parameters: [...pathParams, ...query],
        responses: {
          200: {
            description: "Successful response",
            content: { "application/json": { schema: convertSchema(m.response, refName, refs) } },
          },
          default: {
            description: "Error",
            content: { "application/json": { schema: { $ref: `#/components/schemas/${ERROR_SCHEMA}` } } },
          },
        },
      };
      if (m.request) {
        operation.requestBody = {
          content: { "application/json": { schema: convertSchema(m.request, refName, refs) } },
        };
      }
      (paths[route] ??= {})[m.httpMethod.toLowerCase()] = operation;
    }
    // Pull in every schema reachable from the methods, and nothing else.
    for (const seen = new Set(); refs.size > seen.size; ) {
      for (const id of [...refs].filter((r) => !seen.has(r))) {
        seen.add(id);
        const schema = doc.schemas[id];
        if (!schema) throw new Error(`${doc.name}.${doc.version}: no schema ${id}`);
        schemas[refName(id)] = convertSchema(schema, refName, refs);
      }
    }
  }
  for (const [schema, fields] of Object.entries(SENT_ON_UPDATE)) {
    const properties = /** @type {Record<string, OpenApiObject> | undefined} */ (schemas[schema]?.properties);
    for (const field of fields) {
      if (!properties?.[field]) throw new Error(`no field ${field} in ${schema}`);
      delete properties[field].readOnly;
    }
  }
  return {
    openapi: "3.0.3",
    info: {
      title: "Google Cloud IAM policy and project label methods (Cloud Resource Manager v3, IAM v1)",
      version: revisions.join(", "),
      description: `Generated by sandbox/fakes/gcp/openapi.mjs from Google's discovery documents: ${revisions.join("; ")}.`,
    },
    paths,
    components: { schemas },
  };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [dir, out] = process.argv.slice(2);
  if (!dir) {
    console.error("usage: node sandbox/fakes/gcp/openapi.mjs <discovery documents dir> [out.json]");
    process.exit(2);
  }
  const text = `${JSON.stringify(buildOpenApi(readDiscovery(dir)), null, 2)}\n`;
  if (out) fs.writeFileSync(out, text);
  else process.stdout.write(text);
}
