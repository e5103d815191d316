import { TargetMissingError } from "../../core/errors";
import type { ApiVersion, ConnectionTarget } from "../../core/types";
import { AirflowTransport } from "./transport";

/** Which REST API an Airflow serves: as configured, or detected once per URL (`apiVersion: "detect"`). */
export class ApiVersions {
  private readonly detected = new Map<string, Promise<ApiVersion>>();

  constructor(private readonly transport: AirflowTransport) {}

  of(target: ConnectionTarget): Promise<ApiVersion> {
    if (target.apiVersion !== "detect") return Promise.resolve(target.apiVersion);
    let version = this.detected.get(target.url);
    if (!version) {
      version = this.detect(target);
      this.detected.set(target.url, version);
      version.catch(() => this.detected.delete(target.url));
    }
    return version;
  }

  /** `/api/v2/version` exists only on Airflow 3; an auth challenge still proves the route is there. */
  private async detect(target: ConnectionTarget): Promise<ApiVersion> {
    for (const version of ["v2", "v1"] as const) {
      const response = await this.transport.send(target, "GET", `${target.url}/api/${version}/version`, {});
      if (response.status !== 404) return version;
    }
    throw new TargetMissingError({
      what: `the Airflow REST API at ${target.url}`,
      kind: "Airflow",
      input: "connection.airflow.url (the Deployment's base URL; on Astro https://<org>.astronomer.run/<deployment>)",
      check: `curl ${target.url}/api/v2/version and ${target.url}/api/v1/version (neither exists now)`,
    });
  }
}
