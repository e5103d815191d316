import { RemoteError } from "./errors";

/**
 * What a failed remote call means, for every driver alike: whether TLS refused the server's
 * certificate (which no retry can fix), and what an error body says, in a line.
 */

/** Node's (OpenSSL's) codes for a certificate whose issuer it does not trust. */
const UNTRUSTED_ISSUER = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "INVALID_CA",
]);
const OUT_OF_DATE = new Set(["CERT_HAS_EXPIRED", "CERT_NOT_YET_VALID"]);
const WRONG_NAME = new Set(["ERR_TLS_CERT_ALTNAME_INVALID", "HOSTNAME_MISMATCH"]);
const OTHER_CERTIFICATE = new Set([
  "CERT_REVOKED",
  "CERT_SIGNATURE_FAILURE",
  "UNABLE_TO_DECRYPT_CERT_SIGNATURE",
  "UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY",
  "ERROR_IN_CERT_NOT_BEFORE_FIELD",
  "ERROR_IN_CERT_NOT_AFTER_FIELD",
  "CERT_CHAIN_TOO_LONG",
  "PATH_LENGTH_EXCEEDED",
  "INVALID_PURPOSE",
]);

export interface CertificateProblem {
  /** Node's code, such as UNABLE_TO_VERIFY_LEAF_SIGNATURE. */
  code: string;
  /** Node's own words for it. */
  reason: string;
  /** The URL the call went to, when the error (or a client that wrapped it) says. */
  url?: string;
}

/** Errors wrap one another (fetch's TypeError, SDK errors, our retries): look a few levels down. */
function* chain(error: unknown): Generator<Record<string, unknown>> {
  const seen = new Set<unknown>();
  const queue: unknown[] = [error];
  while (queue.length > 0 && seen.size < 8) {
    const e = queue.shift();
    if (e === null || typeof e !== "object" || seen.has(e)) continue;
    seen.add(e);
    const record = e as Record<string, unknown>;
    yield record;
    queue.push(record.cause, record.lastError);
  }
}

/** Whether TLS refused the server's certificate (or its handshake), anywhere in the error's chain. */
export function certificateProblem(error: unknown): CertificateProblem | undefined {
  let url: string | undefined;
  let found: { code: string; reason: string; host?: string } | undefined;
  // The innermost error with the code is Node's own; wrappers repeat it in longer words.
  for (const e of chain(error)) {
    url ??= urlIn(e);
    const code = typeof e.code === "string" ? e.code : undefined;
    if (!code || !isTlsCode(code)) continue;
    const message = typeof e.message === "string" ? e.message : code;
    found = {
      code,
      reason: message.replace(/^request to \S+ failed, reason: /, ""),
      ...(typeof e.host === "string" ? { host: e.host } : {}),
    };
  }
  if (!found) return undefined;
  const where = url ?? (found.host ? `https://${found.host}` : undefined);
  return { code: found.code, reason: found.reason, ...(where ? { url: where } : {}) };
}

function isTlsCode(code: string): boolean {
  return (
    UNTRUSTED_ISSUER.has(code) ||
    OUT_OF_DATE.has(code) ||
    WRONG_NAME.has(code) ||
    OTHER_CERTIFICATE.has(code) ||
    code.startsWith("ERR_SSL_")
  );
}

/** Where a client noted the URL it called: gaxios (`config.url`), Azure (`request.url`), our AWS middleware (`$url`). */
function urlIn(e: Record<string, unknown>): string | undefined {
  const candidates = [e.$url, (e.config as { url?: unknown })?.url, (e.request as { url?: unknown })?.url];
  for (const c of candidates) {
    if (typeof c === "string") return c;
    if (c instanceof URL) return c.href;
  }
  return undefined;
}

function hostOf(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    return new URL(url).host;
  } catch {
    return undefined;
  }
}

/**
 * A refused certificate as an error that says which check failed, for which host, and how to fix
 * it; undefined when the error is not about TLS. `url` is where the call went, when the error
 * itself does not say.
 */
export function certificateError(error: unknown, context: { what: string; url?: string }): RemoteError | undefined {
  const problem = certificateProblem(error);
  if (!problem) return undefined;
  const host = hostOf(problem.url) ?? hostOf(context.url) ?? "the server";
  const { code, reason } = problem;
  let advice: string;
  if (UNTRUSTED_ISSUER.has(code)) {
    advice =
      `Its certificate is not signed by a certificate authority this process trusts: the usual causes are a ` +
      `proxy that inspects TLS (it signs with the organisation's own CA) or a self-signed or privately issued ` +
      `certificate. Fix: save that CA's certificate (PEM) to a file and set NODE_EXTRA_CA_CERTS=<that file> in ` +
      `the environment of the process that runs pulumi (Node reads it at start-up), then run pulumi up again.`;
  } else if (OUT_OF_DATE.has(code)) {
    advice =
      `Its certificate is outside its validity period: the server's certificate must be renewed (a proxy that ` +
      `inspects TLS: by whoever runs it), or this machine's clock is wrong.`;
  } else if (WRONG_NAME.has(code)) {
    advice =
      `Its certificate is not valid for the name called: use a URL with a name the certificate holds, or have ` +
      `a certificate issued for ${host}.`;
  } else if (code.startsWith("ERR_SSL_")) {
    advice = `The TLS handshake failed: check that the URL's scheme and port are those of an https server.`;
  } else {
    advice = `Its certificate chain does not verify: the server's certificate must be fixed or reissued.`;
  }
  return new RemoteError(
    `${context.what} failed: TLS rejected the certificate of ${host} (${code}: ${reason}). ${advice} ` +
      `Retrying does not help.`,
    undefined,
    false,
    { cause: error, code: "CERTIFICATE_REJECTED" },
  );
}

/** Raw text beyond this is not shown: a body is summarised, never dumped. */
const TEXT_LIMIT = 200;
/** What a JSON error says in its own fields may be longer (a list of field errors). */
const JSON_LIMIT = 400;

/**
 * One line for an error body: a JSON body's own words (title and detail, message, error), an
 * HTML page's title or first heading, an XML error's code and message, or the text, cut short.
 * `body` may be text or what a client already parsed from JSON.
 */
export function summarizeBody(body: unknown, contentType = ""): string {
  if (body === undefined || body === null || body === "") return "(no body)";
  if (typeof body === "object") return cut(fromJson(body), JSON_LIMIT);
  const text = typeof body === "string" ? body : String(body);
  const trimmed = text.trim();
  if (/json/i.test(contentType) || /^[[{]/.test(trimmed)) {
    try {
      return cut(fromJson(JSON.parse(trimmed) as unknown), JSON_LIMIT);
    } catch {
      // not JSON after all: summarised as text
    }
  }
  if (/html/i.test(contentType) || /^<(!doctype\s+html|html|head|body)\b/i.test(trimmed)) return fromHtml(trimmed);
  if (/xml/i.test(contentType) || /^<\?xml\b/i.test(trimmed)) {
    const code = tagText(trimmed, "Code");
    const message = tagText(trimmed, "Message");
    if (code || message) return cut([code, message].filter(Boolean).join(": "), JSON_LIMIT);
  }
  return cut(oneLine(trimmed), TEXT_LIMIT);
}

function fromJson(value: unknown): string {
  if (typeof value === "string") return oneLine(value);
  if (value === null || typeof value !== "object" || Array.isArray(value)) return oneLine(JSON.stringify(value));
  const v = value as Record<string, unknown>;
  const parts: string[] = [];
  const add = (part: unknown) => {
    const text = words(part);
    if (text && !parts.some((p) => p.includes(text))) parts.push(text);
  };
  // Google and Azure: {error: {code, status, message}}; OAuth: {error, error_description}.
  if (v.error !== null && typeof v.error === "object" && !Array.isArray(v.error)) {
    const inner = v.error as Record<string, unknown>;
    add(inner.status ?? inner.code);
    add(inner.message);
  } else add(v.error);
  add(v.error_description);
  // RFC 7807 problems (Airflow): title and detail; Astro: message and fieldErrors.
  add(v.title);
  add(v.detail);
  add(v.message);
  add(v.fieldErrors ?? v.errors);
  return parts.length > 0 ? parts.join(": ") : oneLine(JSON.stringify(value));
}

/** A field's words: text as is; a list of validation errors (FastAPI's `detail`) as `loc: msg` each. */
function words(part: unknown): string {
  if (part === undefined || part === null || part === "") return "";
  if (typeof part === "string" || typeof part === "number") return oneLine(String(part));
  if (Array.isArray(part)) {
    return part
      .map((item) => {
        if (item && typeof item === "object" && "msg" in item) {
          const loc = (item as { loc?: unknown }).loc;
          const where = Array.isArray(loc) ? loc.join(".") : "";
          return `${where ? `${where}: ` : ""}${String((item as { msg: unknown }).msg)}`;
        }
        return typeof item === "string" ? item : JSON.stringify(item);
      })
      .join("; ");
  }
  return oneLine(JSON.stringify(part));
}

function fromHtml(html: string): string {
  const title = tagText(html, "title") ?? tagText(html, "h1") ?? tagText(html, "h2") ?? tagText(html, "h3");
  return title ? `an HTML page: "${cut(title, TEXT_LIMIT)}"` : "an HTML page without a title";
}

function tagText(markup: string, tag: string): string | undefined {
  const inner = new RegExp(`<${tag}\\b[^>]*>([\\s\\S]*?)</${tag}>`, "i").exec(markup)?.[1];
  if (inner === undefined) return undefined;
  const text = oneLine(decodeEntities(inner.replace(/<[^>]*>/g, " ")));
  return text || undefined;
}

function decodeEntities(text: string): string {
  const named: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", nbsp: " " };
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, entity: string) => {
    if (entity.startsWith("#x") || entity.startsWith("#X")) return String.fromCodePoint(parseInt(entity.slice(2), 16));
    if (entity.startsWith("#")) return String.fromCodePoint(parseInt(entity.slice(1), 10));
    return named[entity.toLowerCase()] ?? whole;
  });
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}

function cut(text: string, limit: number): string {
  return text.length <= limit ? text : `${text.slice(0, limit - 1).trimEnd()}…`;
}
