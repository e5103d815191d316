import { createHash } from "node:crypto";
import { RemoteError } from "../../core/errors";
import type { ApiVersion, ConnectionTarget } from "../../core/types";
import { AirflowTransport, failure, notServed } from "./transport";

/**
 * The Authorization header of a call: a bearer token as given; on Airflow 2 a password as basic
 * auth; on Airflow 3 a password exchanged at `/auth/token` for a JWT, kept per credentials.
 */
export class AirflowAuth {
  private readonly jwts = new Map<string, Promise<string>>();

  constructor(private readonly transport: AirflowTransport) {}

  async headers(target: ConnectionTarget, version: ApiVersion): Promise<Record<string, string>> {
    if (target.auth.kind === "token") {
      const token = target.credentials.token;
      if (!token) throw new RemoteError(missingSecret("token", target.url));
      return { authorization: `Bearer ${token}` };
    }
    const password = target.credentials.password;
    if (!password) throw new RemoteError(missingSecret("password", target.url));
    if (version === "v1") {
      const basic = Buffer.from(`${target.auth.username}:${password}`).toString("base64");
      return { authorization: `Basic ${basic}` };
    }
    const key = credentialsKey(target);
    let jwt = this.jwts.get(key);
    if (!jwt) {
      jwt = this.exchangePassword(target, target.auth.username, password);
      this.jwts.set(key, jwt);
      jwt.catch(() => this.jwts.delete(key));
    }
    return { authorization: `Bearer ${await jwt}` };
  }

  /** Whether a refused call is worth one more with fresh credentials: a JWT expires (or the password changed). */
  refreshable(target: ConnectionTarget, version: ApiVersion): boolean {
    return target.auth.kind === "password" && version === "v2";
  }

  /** Forgets the JWT of these credentials: the next call gets a fresh one. */
  forget(target: ConnectionTarget): void {
    this.jwts.delete(credentialsKey(target));
  }

  private async exchangePassword(target: ConnectionTarget, username: string, password: string): Promise<string> {
    const url = `${target.url}/auth/token`;
    const response = await this.transport.send(target, "POST", url, {}, { username, password });
    if (response.status === 404) throw await notServed(target, "v2", "POST", url, response);
    if (!response.ok) throw await failure(target, "POST", url, response);
    const body = (await response.json()) as { access_token?: string };
    if (!body.access_token) throw new RemoteError(`POST ${url} answered without an access_token`);
    return body.access_token;
  }
}

/**
 * One key per Airflow and set of credentials: a JWT got with one password must not serve another,
 * and reads made with other credentials may see other things, so they share no listing.
 */
export function credentialsKey(target: ConnectionTarget): string {
  const secret = createHash("sha256")
    .update(`${target.credentials.token ?? ""}\u0000${target.credentials.password ?? ""}`)
    .digest("hex");
  const username = target.auth.kind === "password" ? target.auth.username : "";
  return `${target.url}\u0000${target.auth.kind}\u0000${username}\u0000${secret}`;
}

function missingSecret(kind: "token" | "password", url: string): string {
  return kind === "token"
    ? `no Airflow API token for ${url}: set it with pulumi config set --secret deployment-authorization:airflowToken <token>, ` +
        `or the AIRFLOW_API_TOKEN environment variable, or the component's connection.airflow.auth.token input`
    : `no Airflow password for ${url}: set it with pulumi config set --secret deployment-authorization:airflowPassword <password>, ` +
        `or the AIRFLOW_API_PASSWORD environment variable, or the component's connection.airflow.auth.password input`;
}
