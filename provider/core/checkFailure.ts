/** A failed `check`, kept apart from the schemas so that printing one loads no zod. */

export interface CheckFailure {
  /** The property path, dotted: `azure.roleAssignment.role`; `(inputs)` for the inputs as a whole. */
  property: string;
  /** What is wrong and what a valid value looks like. */
  reason: string;
  /** The value given there, as it may be shown: secrets as ***, long values cut; absent when none was given. */
  given?: string;
}

/**
 * One failure as one line, for the engine to print: the path, the value given there, and the
 * reason. The engine shows a failure's `property` with the value it finds under that name among the
 * top-level inputs, which for a nested path is none (`value {<nil>}`), so the line carries both.
 */
export function describeFailure(failure: CheckFailure): string {
  if (failure.property === "(inputs)") return `${failure.property}: ${failure.reason}`;
  const given = failure.given === undefined ? " (not given)" : ` = ${failure.given}`;
  return `${failure.property}${given}: ${failure.reason}`;
}
