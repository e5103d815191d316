import { inject } from "vitest";
import type { ConnectionTarget } from "../../provider/core/types";

/** The sandbox's Airflow 3, as the provider reaches it with the admin's password. */
export function airflowTarget(): ConnectionTarget {
  const server = inject("endpoints").airflow3;
  return {
    url: server.url,
    apiVersion: "v2",
    auth: { kind: "password", username: server.username },
    credentials: { password: server.password },
  };
}
