// Why a running ML job stops early: the activity was cancelled (workflow cancel, heartbeat timeout, worker shutdown
// after the grace time) or this worker is shutting down. Either way the job checkpoints at a step boundary first.
import { ApplicationFailure } from '@temporalio/common';
import type { Context } from '@temporalio/activity';

/** Aborts when the activity is cancelled or the worker starts shutting down. */
export function stopSignal(ctx: Context, shutdown?: AbortSignal): AbortSignal {
  return shutdown ? AbortSignal.any([ctx.cancellationSignal, shutdown]) : ctx.cancellationSignal;
}

/** The error an activity ends with after its job stopped early: the cancellation, or a retryable WorkerShutdown. */
export async function stoppedError(ctx: Context, what: string): Promise<Error> {
  if (ctx.cancellationSignal.aborted) {
    const cancelled = await ctx.cancelled.catch((err: unknown) => err);
    if (cancelled instanceof Error) return cancelled;
  }
  return ApplicationFailure.retryable(`${what}; the worker is shutting down (the next attempt resumes from the last checkpoint)`, 'WorkerShutdown');
}
