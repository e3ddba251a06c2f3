// How CLI commands reach Temporal: settings errors → exit 2, an unreachable server → exit 5 (fast: a TCP probe
// before the gRPC connect), an unknown workflow id → exit 3; and the exit code of a closed run.
import type { Client, WorkflowExecutionDescription, WorkflowExecutionStatusName, WorkflowHandle } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/common';
import { connectClient, connectionSettings, describeConnectionSettings, type ConnectionSettings } from '../temporal/connection';
import { isServerListening } from '../temporal/dev-server';
import { CliError, EXIT } from './errors';

/** TCP probe and gRPC connect limits: a closed port fails within a second, a silent one within a few. */
const PROBE_TIMEOUT_MS = 2000;
const CONNECT_TIMEOUT_MS = 5000;

/** Connection settings from the environment; a bad variable is a usage error (exit 2). */
export function cliConnectionSettings(env: NodeJS.ProcessEnv = process.env): ConnectionSettings {
  try {
    return connectionSettings(env);
  } catch (err) {
    throw new CliError((err as Error).message, EXIT.usage);
  }
}

/** Exit 5 naming the address, with a hint on how to get a server. */
export function unreachable(settings: ConnectionSettings, reason: string): CliError {
  const hint = process.env.TEMPORAL_ADDRESS
    ? 'check TEMPORAL_ADDRESS'
    : 'start one with `plasticity server`, or set TEMPORAL_ADDRESS';
  return new CliError(`cannot reach Temporal at ${describeConnectionSettings(settings)}: ${reason}; ${hint}`, EXIT.unavailable);
}

export async function connectCli(settings: ConnectionSettings = cliConnectionSettings()): Promise<Client> {
  if (!(await isServerListening(settings.address, PROBE_TIMEOUT_MS))) throw unreachable(settings, 'nothing accepts connections there');
  try {
    return await connectClient(settings, { connectTimeoutMs: CONNECT_TIMEOUT_MS });
  } catch (err) {
    throw unreachable(settings, String((err as Error).message).replace(/^cannot connect to Temporal at [^:]+:\s*/, ''));
  }
}

/** An empty or blank id is a usage error (exit 2), not a server error. */
export function requireWorkflowId(id: string): string {
  if (!id || !id.trim()) throw new CliError('expected a workflow id (as printed by `plasticity run` or listed by `plasticity ls`), got an empty string', EXIT.usage);
  return id;
}

/** Describes a workflow; an unknown id is exit 3. */
export async function describeRun(client: Client, workflowId: string): Promise<{ handle: WorkflowHandle; description: WorkflowExecutionDescription }> {
  requireWorkflowId(workflowId);
  const handle = client.workflow.getHandle(workflowId);
  try {
    return { handle, description: await handle.describe() };
  } catch (err) {
    throw asCliError(err, workflowId);
  }
}

/** Maps Temporal client errors: not found → 3, unavailable/deadline → 5; others pass through. */
export function asCliError(err: unknown, workflowId?: string): unknown {
  if (err instanceof CliError) return err;
  if (err instanceof WorkflowNotFoundError || (err as { code?: number })?.code === GRPC_NOT_FOUND) {
    return new CliError(`no workflow with id ${workflowId ?? (err as WorkflowNotFoundError).workflowId} in namespace ${namespaceOf()}; list runs with \`plasticity ls\``, EXIT.notFound);
  }
  // The SDK wraps gRPC errors ("Failed to describe workflow" with the gRPC error as its cause).
  for (let e = err as { code?: number; cause?: unknown; message?: string } | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    if (e.code === GRPC_UNAVAILABLE) {
      return new CliError(`Temporal became unreachable: ${e.message ?? (err as Error).message}`, EXIT.unavailable);
    }
  }
  return err;
}

const GRPC_NOT_FOUND = 5;
const GRPC_UNAVAILABLE = 14;

function namespaceOf(): string {
  return process.env.TEMPORAL_NAMESPACE?.trim() || 'default';
}

/** Lower-case Temporal status as users see it: running, completed, failed, cancelled, terminated, timed-out, … */
export function statusWord(name: WorkflowExecutionStatusName): string {
  return name.toLowerCase().replace(/_/g, '-');
}

/** 0 running/completed, 1 failed/timed out, 4 cancelled/terminated. */
export function exitCodeOf(name: WorkflowExecutionStatusName): number {
  switch (name) {
    case 'FAILED':
    case 'TIMED_OUT':
      return EXIT.failed;
    case 'CANCELLED':
    case 'TERMINATED':
      return EXIT.cancelled;
    default:
      return EXIT.ok;
  }
}

export const CLOSED_FOR_RESUME: readonly WorkflowExecutionStatusName[] = ['FAILED', 'CANCELLED', 'TERMINATED', 'TIMED_OUT'];
