// The lineage's activities, built around an artifact-store factory (one store object per URL, reused across calls).
// Workers register `createActivities()`; workflows see only `typeof` it (import type).
import { Context } from '@temporalio/activity';
import { openStore as openStoreDefault } from '../store/open';
import type { ArtifactStore } from '../store/artifact-store';
import { importModelActivity } from './base';
import type { LookupStageInput, LookupStageResult } from '../contract/activities';
import { lookupStage } from './cache';
import { compareActivity } from './compare';
import { mapErrors } from './errors';
import { reportActivity } from './report';
import { sweepActivities } from './sweep';
import { traceActivity } from './trace';
import { trainActivity } from './train';
import { validateConfigActivity } from './validate';

export interface ActivityDeps {
  /** Opens a store from a path or URL (default store/open.ts openStore). */
  openStore?: (spec: string) => ArtifactStore;
  /** Aborted when the worker shuts down: running ML jobs checkpoint and their activity fails as 'WorkerShutdown'. */
  shutdownSignal?: AbortSignal;
}

/**
 * Heartbeats every second while a light (cpu-queue) activity runs: the workflow gives these a heartbeat timeout, so
 * a worker killed mid-call is noticed within seconds instead of at the start-to-close timeout (up to 1 h).
 */
function heartbeating<A extends unknown[], R>(fn: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  return async (...args: A) => {
    const ctx = Context.current();
    const timer = setInterval(() => ctx.heartbeat(), 1000);
    try {
      return await fn(...args);
    } finally {
      clearInterval(timer);
    }
  };
}

export function createActivities(deps: ActivityDeps = {}) {
  const open = deps.openStore ?? ((spec: string) => openStoreDefault(spec));
  const stores = new Map<string, ArtifactStore>();
  const store = (spec?: string): ArtifactStore => {
    const key = spec ?? '';
    let s = stores.get(key);
    if (!s) stores.set(key, (s = spec ? open(spec) : openStoreDefault()));
    return s;
  };
  return {
    validateConfig: heartbeating(validateConfigActivity(store)),
    lookupStage: heartbeating(async (input: LookupStageInput): Promise<LookupStageResult> =>
      mapErrors(`lookupStage ${input.stage}`, () => lookupStage(store(input.store), input))),
    importModel: heartbeating(importModelActivity(store)),
    trainStage: trainActivity(store, deps.shutdownSignal),
    traceStage: traceActivity(store, deps.shutdownSignal),
    compareStage: heartbeating(compareActivity(store)),
    reportStage: heartbeating(reportActivity(store)),
    ...sweepActivities(store),
  };
}

export type LineageActivities = ReturnType<typeof createActivities>;
