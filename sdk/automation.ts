import {
  ConfigMap,
  EngineEvent,
  LocalWorkspace,
  LocalWorkspaceOptions,
  PulumiCommand,
  Stack,
} from "@pulumi/pulumi/automation";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import type { ErrorCode } from "../provider/core/errors";
import { withLock } from "../provider/core/lock";
import { defaultSleep } from "../provider/core/retry";
import type { DeploymentAuthorizationArgs } from "./args";
import { DeploymentAuthorization } from "./deploymentAuthorization";
import { installedIn } from "./providerStub";
import { NamedReview, reviewPreview } from "../cli/review";

export type { NamedReview } from "../cli/review";
export type { AuthorizationReview, ConnectionReview, FieldChange, GrantChange } from "../provider/core/review";
export type { DeploymentAuthorizationArgs } from "./args";

/**
 * A typed helper over the Pulumi Automation API for services (internal portals) that declare,
 * preview, apply and remove authorizations on request. One call is one stack operation; the caller
 * chooses the stack (per team, per Deployment, per request).
 */

/** Where and how one request's stack lives. */
export interface StackTarget {
  /** The stack: one per team, Deployment or request. */
  stackName: string;
  /** Default "deployment-authorizations". */
  projectName?: string;
  /** The state backend: file://…, s3://bucket?region=…&endpoint=…, or https://api.pulumi.com. */
  backendUrl: string;
  /**
   * The stack's secrets provider: "passphrase" (with `PULUMI_CONFIG_PASSPHRASE` in `env`, the
   * default), a KMS URL such as awskms://…, or "default" for Pulumi Cloud.
   */
  secretsProvider?: string;
  /** Stack config: tokens as `{ value, secret: true }` (deployment-authorization:airflowToken, …). */
  config?: ConfigMap;
  /** Environment for the pulumi CLI and the provider (cloud credentials, endpoints, passphrase). */
  env?: Record<string, string>;
  /**
   * The Pulumi CLI installation to use: the folder that holds `bin/pulumi` (what the installer
   * makes, such as `~/.pulumi`), not the `bin` folder itself. Default: the `pulumi` on PATH.
   */
  pulumiRoot?: string;
  /**
   * Stops the operation: before it starts, nothing runs; while it runs, the CLI is interrupted as by
   * Ctrl-C (operations under way finish, no new one starts, the stack's lock is released). The result
   * is an error with code CANCELLED, unless the engine had nothing left to start.
   */
  signal?: AbortSignal;
  /** Every engine event as it comes (progress for a portal's page). */
  onEvent?: (event: EngineEvent) => void;
  /** How long to wait for a lock another process holds on the stack (default 60 s). */
  lockWaitMs?: number;
}

/**
 * The authorizations the stack should hold, by resource name. A function is called while the
 * program runs, so inside the stack's lock (an apply holds the backend's lock on the stack from
 * before the program runs until the update ends; another process's apply on the same stack waits
 * for it): a portal reads its approved set there from its database, so two approvals racing on one
 * stack, in one process or in two, both end up in it.
 */
export interface AuthorizationSet {
  authorizations:
    | Record<string, DeploymentAuthorizationArgs>
    | (() => Record<string, DeploymentAuthorizationArgs> | Promise<Record<string, DeploymentAuthorizationArgs>>);
}

export interface RunResult {
  stackName: string;
  /** Per authorization that changes (or changed): in the terms of `deployment-authorization review`. */
  changes: NamedReview[];
  /** Per authorization, after apply: its `grant`, `connection` and `deployment` outputs. */
  outputs: Record<string, unknown>;
  /** The engine's counts by operation (create, update, same, delete, …). */
  summary: Record<string, number>;
}

export type RunErrorCode = ErrorCode | "STACK_LOCKED" | "CANCELLED" | "FAILED";

/** A failed run: the stable code, and each resource's failure with its own code where one is known. */
export class AuthorizationRunError extends Error {
  constructor(
    readonly code: RunErrorCode,
    message: string,
    readonly failures: Array<{ urn?: string; code: RunErrorCode; message: string }> = [],
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "AuthorizationRunError";
  }
}

const DEFAULT_PROJECT = "deployment-authorizations";
const CODES: readonly ErrorCode[] = [
  "INVALID_INPUT",
  "TARGET_MISSING",
  "CONNECTION_EXISTS",
  "QUOTA_EXCEEDED",
  "CONFLICT",
  "PERMISSION_DENIED",
  "REMOTE_UNAVAILABLE",
  "CERTIFICATE_REJECTED",
  "REMOTE_FAILED",
];

export interface RunOptions {
  /**
   * Read every authorization's cloud grant and connection first (as `--refresh`): a preview's
   * changes then also show drift (an entry or a connection removed or changed by hand), and an
   * apply puts back what drifted. Default false: the changes are from what the stack's state says.
   */
  refresh?: boolean;
}

/** What `apply` would change, without changing anything. */
export function previewAuthorizations(
  target: StackTarget,
  set: AuthorizationSet,
  options: RunOptions = {},
): Promise<RunResult> {
  return run(target, set, "preview", options);
}

/** Makes the stack hold exactly these authorizations (others in the stack are removed). */
export function applyAuthorizations(
  target: StackTarget,
  set: AuthorizationSet,
  options: RunOptions = {},
): Promise<RunResult> {
  return run(target, set, "apply", options);
}

/** Removes every authorization of the stack (the stack itself stays, empty). */
export function removeAuthorizations(target: StackTarget): Promise<RunResult> {
  return run(target, { authorizations: {} }, "remove");
}

async function run(
  target: StackTarget,
  set: AuthorizationSet,
  operation: "preview" | "apply" | "remove",
  options: RunOptions = {},
) {
  const project = target.projectName ?? DEFAULT_PROJECT;
  // One operation per stack at a time in this process; other stacks run in parallel.
  return withLock(`automation:${target.backendUrl}#${project}/${target.stackName}`, async () => {
    const deadline = Date.now() + (target.lockWaitMs ?? 60_000);
    for (let attempt = 0; ; attempt++) {
      try {
        return await runOnce(target, set, operation, project, options);
      } catch (error) {
        if (!(error instanceof AuthorizationRunError) || error.code !== "STACK_LOCKED") throw error;
        if (Date.now() >= deadline || target.signal?.aborted) {
          throw new AuthorizationRunError(
            "STACK_LOCKED",
            `stack ${project}/${target.stackName} stayed locked by another process for ${target.lockWaitMs ?? 60_000} ms ` +
              `(${attempt + 1} tries): wait for that update to end, or, if it died, run pulumi cancel on the stack`,
            error.failures,
            { cause: error },
          );
        }
        await defaultSleep(Math.min(5000, 250 * 2 ** attempt));
      }
    }
  });
}

async function runOnce(
  target: StackTarget,
  set: AuthorizationSet,
  operation: "preview" | "apply" | "remove",
  project: string,
  options: RunOptions,
): Promise<RunResult> {
  if (target.signal?.aborted) throw new AuthorizationRunError("CANCELLED", "cancelled before it started");
  const workDir = mkdtempSync(path.join(tmpdir(), "deployment-authorization-"));
  const events: EngineEvent[] = [];
  const onEvent = (event: EngineEvent) => {
    events.push(event);
    target.onEvent?.(event);
  };
  try {
    const stack = await selectStack(target, set, project, workDir);
    const signal = target.signal;
    if (signal?.aborted) throw new AuthorizationRunError("CANCELLED", "cancelled before the stack operation started");
    if (operation === "preview") {
      const result = await stack.preview({ onEvent, signal, refresh: options.refresh ?? false });
      return {
        stackName: target.stackName,
        changes: reviews(events),
        outputs: {},
        summary: counts(result.changeSummary),
      };
    }
    if (operation === "remove") {
      const result = await stack.destroy({ onEvent, signal });
      return {
        stackName: target.stackName,
        changes: reviews(events),
        outputs: {},
        summary: counts(result.summary.resourceChanges),
      };
    }
    const result = await stack.up({ onEvent, signal, refresh: options.refresh ?? false });
    return {
      stackName: target.stackName,
      changes: reviews(events),
      outputs: Object.fromEntries(Object.entries(result.outputs).map(([k, v]) => [k, v.value])),
      summary: counts(result.summary.resourceChanges),
    };
  } catch (error) {
    throw asRunError(error, events, target);
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
}

async function selectStack(
  target: StackTarget,
  set: AuthorizationSet,
  project: string,
  workDir: string,
): Promise<Stack> {
  // The dynamic provider process starts in the workspace's temporary folder, where no node_modules
  // is: it finds @pulumi/pulumi (its host) and this package through NODE_PATH instead.
  const pulumiModules = path.resolve(path.dirname(require.resolve("@pulumi/pulumi/package.json")), "..", "..");
  const nodePath = [installedIn(), pulumiModules, target.env?.NODE_PATH ?? process.env.NODE_PATH]
    .filter((p): p is string => Boolean(p))
    .filter((p, i, all) => all.indexOf(p) === i);
  const envVars: Record<string, string> = {
    PULUMI_BACKEND_URL: target.backendUrl,
    PULUMI_SKIP_UPDATE_CHECK: "true",
    ...target.env,
    NODE_PATH: nodePath.join(path.delimiter),
  };
  const options: LocalWorkspaceOptions = {
    workDir,
    envVars,
    projectSettings: { name: project, runtime: "nodejs", backend: { url: target.backendUrl } },
    ...(target.secretsProvider ? { secretsProvider: target.secretsProvider } : {}),
    ...(target.pulumiRoot
      ? { pulumiCommand: await PulumiCommand.get({ root: target.pulumiRoot, skipVersionCheck: true }) }
      : {}),
  };
  const program = async () => {
    const authorizations = typeof set.authorizations === "function" ? await set.authorizations() : set.authorizations;
    const outputs: Record<string, unknown> = {};
    for (const [name, args] of Object.entries(authorizations)) {
      const authorization = new DeploymentAuthorization(name, args);
      outputs[name] = {
        grant: authorization.grant,
        connection: authorization.connection,
        deployment: authorization.deployment,
      };
    }
    return outputs;
  };
  const args = { stackName: target.stackName, projectName: project, program };
  const stack = await createOrSelect(args, options);
  if (target.config) await stack.setAllConfig(target.config);
  return stack;
}

/**
 * Two processes may create one new stack at once (two replicas of a portal, the first requests for
 * a new team). The loser either finds it exists (select it) or, on a bucket backend, meets the
 * winner's creation lock as it is released (the lock file it lists is gone when it reads it): that
 * try is made again, a bounded number of times.
 */
async function createOrSelect(
  args: Parameters<typeof LocalWorkspace.createOrSelectStack>[0] & { stackName: string },
  options: Parameters<typeof LocalWorkspace.createOrSelectStack>[1],
) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await LocalWorkspace.createOrSelectStack(args, options);
    } catch (error) {
      const stderr = (error as { commandResult?: { stderr?: string } }).commandResult?.stderr ?? String(error);
      if (/already exists/i.test(stderr)) return LocalWorkspace.selectStack(args, options);
      if (attempt >= 5 || !/could not create stack/i.test(stderr)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200 * attempt + Math.random() * 300));
    }
  }
}

/** The engine's step events in the shape `pulumi preview --json` gives them, reviewed. */
function reviews(events: EngineEvent[]): NamedReview[] {
  const steps = events
    .map((e) => e.resourcePreEvent?.metadata)
    .filter((m): m is NonNullable<typeof m> => m !== undefined)
    .map((m) => ({
      op: m.op,
      urn: m.urn,
      ...(m.old ? { oldState: { inputs: m.old.inputs, outputs: m.old.outputs } } : {}),
      ...(m.new ? { newState: { inputs: m.new.inputs } } : {}),
    }));
  return reviewPreview({ steps });
}

function counts(summary: Record<string, number | undefined> | undefined): Record<string, number> {
  return Object.fromEntries(Object.entries(summary ?? {}).map(([k, v]) => [k, v ?? 0]));
}

/** The failure in stable terms: each resource's error with the core's code, the stack lock, a cancel. */
function asRunError(error: unknown, events: EngineEvent[], target: StackTarget): AuthorizationRunError {
  if (error instanceof AuthorizationRunError) return error;
  // The Automation API's CommandError says little in its message; the CLI's stderr says what failed.
  const stderr = (error as { commandResult?: { stderr?: string } }).commandResult?.stderr ?? "";
  const said = stderr
    .split("\n")
    .filter((l) => /^\s*error:/.test(l))
    .map((l) => l.trim())
    .join("\n");
  const text = said || (error instanceof Error ? error.message : String(error));
  if (target.signal?.aborted) {
    return new AuthorizationRunError("CANCELLED", `cancelled: ${firstLine(text)}`, [], { cause: error });
  }
  if (/the stack is currently locked|is currently locked by/i.test(text)) {
    return new AuthorizationRunError("STACK_LOCKED", firstLine(text), [], { cause: error });
  }
  const failures = events
    .map((e) => e.diagnosticEvent)
    .filter((d): d is NonNullable<typeof d> => d !== undefined && d.severity === "error" && Boolean(d.urn))
    .map((d) => ({ urn: d.urn, code: codeOf(d.message), message: d.message.trim() }));
  const code = failures.find((f) => f.code !== "FAILED")?.code ?? "FAILED";
  const message = failures.length ? failures.map((f) => f.message).join("\n") : firstLine(text);
  return new AuthorizationRunError(code, message, failures, { cause: error });
}

/** The core's code named in a provider error ("CONFLICT: …"); a failed check is invalid input. */
function codeOf(message: string): RunErrorCode {
  const named = CODES.find((code) => new RegExp(`\\b${code}\\b`).test(message));
  if (named) return named;
  // How the engine words a failed check: "property <path> value … has a problem: <reason>".
  return /\bhas a problem:|check failed/i.test(message) ? "INVALID_INPUT" : "FAILED";
}

function firstLine(text: string): string {
  return (
    text
      .split("\n")
      .find((l) => l.trim())
      ?.trim() ?? text
  );
}
