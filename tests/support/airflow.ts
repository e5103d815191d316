import { inject } from "vitest";
import type { ConnectionTarget } from "../../provider/core/types";

/** One of the sandbox's Airflows (3 by default), as the provider reaches it with the admin's password. */
export function airflowTarget(name: "airflow2" | "airflow3" = "airflow3"): ConnectionTarget {
  const server = inject("endpoints")[name];
  return {
    url: server.url,
    apiVersion: name === "airflow3" ? "v2" : "v1",
    auth: { kind: "password", username: server.username },
    credentials: { password: server.password },
  };
}
