import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import type http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";

/**
 * Throwaway certificates made with openssl, as scripts/sandbox.mjs makes the azure front's: a CA
 * nobody trusts, and leaves for 127.0.0.1 in each shape TLS refuses.
 */
export interface ThrowawayTls {
  /** The CA's certificate (PEM): a client given it trusts the leaves it signed. */
  ca: string;
  /** Signed by the CA, for 127.0.0.1: refused as UNABLE_TO_VERIFY_LEAF_SIGNATURE by whoever lacks the CA. */
  signed: KeyPair;
  /** Signed by itself: DEPTH_ZERO_SELF_SIGNED_CERT. */
  selfSigned: KeyPair;
  /** Signed by the CA, valid only in 2020: CERT_HAS_EXPIRED for a client that trusts the CA. */
  expired: KeyPair;
  /** Signed by the CA, for other.example only: ERR_TLS_CERT_ALTNAME_INVALID for a client that trusts the CA. */
  otherName: KeyPair;
  remove(): void;
}

export interface KeyPair {
  key: string;
  cert: string;
}

const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

export function makeThrowawayTls(): ThrowawayTls {
  const dir = mkdtempSync(path.join(os.tmpdir(), "throwaway-tls-"));
  const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  const read = (file: string) => readFileSync(path.join(dir, file), "utf8");
  openssl(
    ...["req", "-x509", ...EC, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=throwaway CA"],
    ...["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
  );
  openssl(
    ...["req", "-x509", ...EC, "-keyout", "self.key", "-out", "self.pem", "-days", "2", "-subj", "/CN=127.0.0.1"],
    ...["-addext", "subjectAltName=IP:127.0.0.1"],
  );
  writeFileSync(path.join(dir, "index.txt"), "");
  writeFileSync(path.join(dir, "serial"), "01\n");
  writeFileSync(
    path.join(dir, "ca.cnf"),
    [
      "[ca]",
      "default_ca = throwaway",
      "[throwaway]",
      "database = index.txt",
      "new_certs_dir = .",
      "certificate = ca.pem",
      "private_key = ca.key",
      "serial = serial",
      "default_md = sha256",
      "policy = anything",
      "unique_subject = no",
      "[anything]",
      "commonName = supplied",
      "[local]",
      "basicConstraints = critical,CA:FALSE",
      "subjectAltName = IP:127.0.0.1",
      "[other]",
      "basicConstraints = critical,CA:FALSE",
      "subjectAltName = DNS:other.example",
      "",
    ].join("\n"),
  );
  const leaf = (name: string, extensions: string, dates: string[]) => {
    openssl("req", "-new", ...EC, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", "/CN=127.0.0.1");
    openssl(
      ...["ca", "-batch", "-config", "ca.cnf", "-extensions", extensions, "-notext"],
      ...["-in", `${name}.csr`, "-out", `${name}.pem`, ...dates],
    );
    return { key: read(`${name}.key`), cert: read(`${name}.pem`) };
  };
  const tls: ThrowawayTls = {
    ca: read("ca.pem"),
    selfSigned: { key: read("self.key"), cert: read("self.pem") },
    signed: leaf("signed", "local", ["-days", "2"]),
    expired: leaf("expired", "local", ["-startdate", "20200101000000Z", "-enddate", "20200102000000Z"]),
    otherName: leaf("other", "other", ["-days", "2"]),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
  return tls;
}

/** An https server on 127.0.0.1 that counts the connections made to it (each try opens one). */
export async function httpsServer(
  pair: KeyPair,
  options: { chain?: string; handler?: http.RequestListener } = {},
): Promise<{ url: string; connections: () => number; close: () => Promise<void> }> {
  let connections = 0;
  const server = https.createServer(
    { key: pair.key, cert: options.chain ? `${pair.cert}${options.chain}` : pair.cert },
    options.handler ??
      ((_request, response) => {
        response.writeHead(200, { "content-type": "application/json" });
        response.end("{}");
      }),
  );
  server.on("connection", () => connections++);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${port}`,
    connections: () => connections,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
