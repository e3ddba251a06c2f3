// Forks: a new lineage from a parent lineage's config with `--set` overrides, offered the parent's completed stages
// *before* STAGE as reuse candidates (each still checked against its stage key and the store, so a change that
// touches an earlier stage recomputes it rather than reusing a wrong result). Recorded in the fork's input, result
// and memo (forkOf).
import type { Client } from '@temporalio/client';
import { applyOverrides, ConfigError, configHash, parseConfig, type LoadedConfig } from '../config/load';
import type { ForkOf, LineageQueues, StageOutput } from '../contract/lineage';
import { lineageWorkflowId } from '../contract/lineage';
import { planStages } from '../lineage/plan';
import { collectReusable, startLineage, type StartedLineage } from './lineage-client';

export interface ForkOptions {
  from: string;
  set: string[];
  workflowId?: string;
  queues?: LineageQueues | string;
}

export interface ForkedLineage extends StartedLineage {
  forkOf: ForkOf;
  /** Parent stages offered for reuse. */
  offered: string[];
}

export async function forkLineage(client: Client, parentId: string, opts: ForkOptions): Promise<ForkedLineage> {
  const { input, reuse } = await collectReusable(client, parentId);
  const order = planStages(input.config).map((s) => s.name);
  const at = order.indexOf(opts.from);
  if (at < 0 || opts.from === 'validate') throw new ConfigError(`--from ${opts.from}: not a stage of ${parentId}; expected one of ${order.filter((s) => s !== 'validate').join(', ')}`, 'from');
  const raw = applyOverrides(input.config as unknown as Record<string, unknown>, opts.set, `fork of ${parentId}`);
  const config = parseConfig(raw, { source: `fork of ${parentId}` });
  const loaded: LoadedConfig = { config, hash: configHash(config), source: `(fork of ${parentId} at ${opts.from})` };
  const before = new Set(order.slice(0, at));
  const stages: Record<string, StageOutput> = Object.fromEntries(Object.entries(reuse.stages).filter(([name]) => before.has(name)));
  const forkOf: ForkOf = { workflowId: parentId, stage: opts.from, set: opts.set };
  const started = await startLineage(client, loaded, {
    queues: opts.queues ?? input.queues,
    codeVersion: input.codeVersion,
    workflowId: opts.workflowId ?? lineageWorkflowId(config.name, loaded.hash, `fork-${Date.now().toString(36)}`),
    reuse: { from: parentId, stages },
    ...(input.options ? { options: input.options } : {}),
    memo: { forkOf },
    forkOf,
  });
  return { ...started, forkOf, offered: Object.keys(stages) };
}
