export { AirflowConnectionsDriver, airflowSink } from "./driver";
export type { AirflowConnectionsOptions } from "./transport";
