// `plan` without running anything: for each config (one, or every grid point), every stage the lineage would run
// and whether the store holds it — from lineage/dry-run.ts, i.e. lineage/stages.ts with the real stage-cache
// lookups — plus an estimated time per stage and the store growth. Cost model: matmul FLOPs of the stage (forward
// FLOPs per token, bench/training.ts, × tokens × passes; training = 3× forward) ÷ this machine's throughput on the
// config's backend (cli/throughput.ts: measured once per machine and kernel, then cached), then scaled per stage kind
// by measured/estimated time of the stages the store already holds (the timings of earlier runs). Stages several
// points share are counted once.
import { forwardFlopsPerToken } from '../bench/training';
import type { ExperimentConfig } from '../config/schema';
import type { ArtifactStore } from '../store/artifact-store';
import { HF_CONFIG_FILE } from '../checkpoint/files';
import { planLineage, type PlannedRun } from '../lineage/dry-run';
import { corruptBranches, finetuneMarks, pretrainSteps, stepsFor } from '../lineage/plan';
import { modelConfigFromArch } from '../train/config';
import type { ModelConfig } from '../model/config';
import { buildIoiVocab } from '../ioi/corpus';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openStore } from '../store/open';
import { codeVersion } from '../temporal/lineage-client';
import { machineThroughput, type Throughput } from './throughput';

export interface PlanRow extends PlannedRun {
  point: number;
  /** Estimated GFLOP of the stage (missing stages). */
  gflop?: number;
  estimateSeconds?: number;
  /** Measured seconds of a cached stage (from its result). */
  measuredSeconds?: number;
  /** Estimated bytes the stage adds to the store. */
  storeBytes?: number;
  /** Also run by an earlier point of the plan (counted once). */
  sharedWith?: number;
}

export interface PlanSummary {
  rows: PlanRow[];
  stages: number;
  cached: number;
  missing: number;
  estimateSeconds: number;
  storeBytes: number;
  /** GFLOP/s measured here, and the per-kind calibration factors from the store's timings. */
  throughputGflops: number;
  /** When the throughput came from the cache: when it was measured. */
  throughputMeasuredAt?: string;
  calibration: Record<string, { factor: number; from: number }>;
}

const IOI_SEQ = 16; // tokens of an IOI prompt (about 15–17 in the compact vocabulary)

let vocabSize: number | undefined;
export function modelShape(config: ExperimentConfig): ModelConfig | undefined {
  const m = config.model;
  if (m.source === 'pretrain') return modelConfigFromArch(m.arch, (vocabSize ??= buildIoiVocab().size));
  try {
    const c = JSON.parse(fs.readFileSync(path.join(m.path, HF_CONFIG_FILE), 'utf8')) as Record<string, number>;
    const d = c.n_embd ?? c.d_model;
    return { n_layer: c.n_layer, d_model: d, n_head: c.n_head, d_head: d / c.n_head, d_mlp: c.n_inner ?? 4 * d, n_ctx: c.n_positions ?? 1024, vocab: c.vocab_size, tied: true, ln_eps: 1e-5 } as ModelConfig;
  } catch {
    return undefined;
  }
}

export function paramCount(c: ModelConfig): number {
  const hd = c.n_head * c.d_head;
  return c.vocab * c.d_model + c.n_ctx * c.d_model + c.n_layer * (4 * c.d_model * hd + 2 * c.d_model * c.d_mlp);
}

/** Forward passes over the trace prompts per method (head sweeps patch every head once). */
function tracePasses(config: ExperimentConfig, c: ModelConfig, withDonor: boolean): number {
  const heads = c.n_layer * c.n_head;
  const per: Record<string, number> = { activation: heads + 2, attribution: 3, path: heads + 2, knockout: heads + 2, dla: 1 };
  let passes = config.trace.methods.reduce((a, m) => a + (per[m] ?? heads), 0);
  if (config.trace.circuit) passes += heads;
  if (withDonor && config.trace.cmap) passes += 2 * heads;
  return passes;
}

/** Estimated GFLOP of one stage of `config`. */
export function stageGflop(config: ExperimentConfig, stage: string, c: ModelConfig): number {
  const fwd = (seq: number) => forwardFlopsPerToken(c, seq) * seq;
  const train = (steps: number, batch: number, seq = IOI_SEQ) => (3 * fwd(seq) * steps * batch) / 1e9;
  if (stage === 'base') return config.model.source === 'pretrain' ? train(pretrainSteps(config), config.model.train.batch_size, Math.min(c.n_ctx, 32)) : 0;
  if (stage === 'finetune') return train(Math.max(...Object.values(finetuneMarks(config))), config.finetune.train.batch_size);
  const branch = corruptBranches(config).find((b) => b.corrupt === stage || b.retrained === stage);
  if (branch && stage === branch.corrupt) return train(stepsFor(config, branch.variant.epochs, branch.variant.train.batch_size), branch.variant.train.batch_size);
  if (branch) return train(stepsFor(config, branch.retrain.epochs, branch.retrain.train.batch_size), branch.retrain.train.batch_size);
  if (stage.startsWith('trace-')) return (fwd(IOI_SEQ) * config.trace.n * 2 * tracePasses(config, c, stage !== 'trace-base')) / 1e9;
  return 0;
}

function seconds(out: PlannedRun['output']): number | undefined {
  if (!out?.startedAt || !out.finishedAt) return undefined;
  const s = (Date.parse(out.finishedAt) - Date.parse(out.startedAt)) / 1000;
  return Number.isFinite(s) && s > 0 ? s : undefined;
}

/**
 * Plans every config against the store. Throughput: `throughputGflops` if given (tests), else this machine's from the
 * throughput cache (cli/throughput.ts), measured once per machine and kernel; `remeasure` measures it anew.
 */
export async function planConfigs(
  store: ArtifactStore,
  configs: ExperimentConfig[],
  codeVersion: string,
  opts: { throughputGflops?: number; remeasure?: boolean } = {},
): Promise<PlanSummary> {
  const rows: PlanRow[] = [];
  const firstByKey = new Map<string, number>();
  for (const [point, config] of configs.entries()) {
    const shape = modelShape(config);
    for (const run of await planLineage(store, config, codeVersion)) {
      const row: PlanRow = { ...run, point };
      if (run.key && firstByKey.has(run.key)) row.sharedWith = firstByKey.get(run.key);
      else if (run.key) firstByKey.set(run.key, point);
      if (shape) row.gflop = stageGflop(config, run.stage, shape);
      if (run.cached) row.measuredSeconds = seconds(run.output);
      else if (shape && run.kind !== 'report' && run.kind !== 'validate') {
        const params = paramCount(shape);
        if (run.kind === 'train' || run.kind === 'base') {
          const outputs = 1 + (run.stage === 'finetune' ? Object.keys(finetuneMarks(config)).length : 0);
          row.storeBytes = outputs * params * 4 + config.retention * params * 12; // weights per output; weights + Adam m, v per kept checkpoint
        } else row.storeBytes = run.kind === 'trace' ? 4 * shape.n_layer * shape.n_head * 64 * config.trace.methods.length + 64 * 1024 : 64 * 1024;
      }
      rows.push(row);
    }
  }
  const throughput: Throughput =
    opts.throughputGflops !== undefined
      ? { gflops: opts.throughputGflops, measuredAt: '', cached: false }
      : await machineThroughput(configs[0]?.backend ?? 'auto', { remeasure: opts.remeasure });
  const throughputGflops = throughput.gflops;
  // calibration per kind from stages the store holds: measured seconds vs the FLOP estimate
  const calibration: PlanSummary['calibration'] = {};
  const overhead = 2; // seconds of fixed cost per stage (activity start, store I/O)
  for (const kind of ['base', 'train', 'trace']) {
    const known = rows.filter((r) => r.kind === kind && r.measuredSeconds !== undefined && r.gflop && r.sharedWith === undefined);
    if (known.length === 0) continue;
    const est = known.reduce((a, r) => a + overhead + r.gflop! / throughputGflops, 0);
    const meas = known.reduce((a, r) => a + r.measuredSeconds!, 0);
    calibration[kind] = { factor: meas / est, from: known.length };
  }
  for (const r of rows) {
    if (r.cached || r.kind === 'validate') continue;
    const base = r.kind === 'report' || r.kind === 'compare' ? overhead : overhead + (r.gflop ?? 0) / throughputGflops;
    r.estimateSeconds = base * (calibration[r.kind]?.factor ?? 1);
  }
  const counted = rows.filter((r) => r.sharedWith === undefined && r.kind !== 'validate');
  const missing = counted.filter((r) => !r.cached);
  return {
    rows,
    stages: counted.length,
    cached: counted.length - missing.length,
    missing: missing.length,
    estimateSeconds: missing.reduce((a, r) => a + (r.estimateSeconds ?? 0), 0),
    storeBytes: missing.reduce((a, r) => a + (r.storeBytes ?? 0), 0),
    throughputGflops,
    ...(throughput.cached ? { throughputMeasuredAt: throughput.measuredAt } : {}),
    calibration,
  };
}

export function formatSeconds(s: number): string {
  if (s < 90) return `${Math.round(s)} s`;
  if (s < 5400) return `${(s / 60).toFixed(1)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

export function formatBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) (v /= 1024), u++;
  return `${v.toFixed(v < 10 && u > 0 ? 1 : 0)} ${units[u]}`;
}

/** `plan: 11 stages, 4 cached, 7 to run, ≈ 3.2 min, store +12 MB` — also printed by `run` before it starts. */
export function planLine(p: PlanSummary): string {
  return `plan: ${p.stages} stages, ${p.cached} cached, ${p.missing} to run, ≈ ${formatSeconds(p.estimateSeconds)}, store +${formatBytes(p.storeBytes)} (${p.throughputGflops < 1 ? p.throughputGflops.toPrecision(2) : p.throughputGflops.toFixed(1)} GFLOP/s measured${p.throughputMeasuredAt ? ` ${p.throughputMeasuredAt.slice(0, 16).replace('T', ' ')} UTC, cached` : ''}${Object.keys(p.calibration).length ? `, calibrated on ${Object.values(p.calibration).reduce((a, c) => a + c.from, 0)} stored stages` : ''})`;
}

/** The plan's one-line summary of these configs against their store; a plan that fails does not stop the run. */
export async function planSummaryLine(configs: ExperimentConfig[]): Promise<string> {
  try {
    return planLine(await planConfigs(openStore(configs[0].store), configs, codeVersion()));
  } catch (err) {
    return `plan: unavailable (${(err as Error).message})`;
  }
}

export function planTable(p: PlanSummary, labels: string[]): string {
  const lines: string[] = [];
  let point = -1;
  for (const r of p.rows) {
    if (r.kind === 'validate') continue;
    if (r.point !== point) {
      point = r.point;
      if (labels.length > 1 || labels[0]) lines.push(`point ${point}: ${labels[point] || '(base config)'}`);
    }
    const state = r.sharedWith !== undefined ? `shared with point ${r.sharedWith}` : r.cached ? 'cached' : 'run';
    const time = r.cached ? (r.measuredSeconds !== undefined ? `(took ${formatSeconds(r.measuredSeconds)})` : '') : r.estimateSeconds !== undefined && r.sharedWith === undefined ? `≈ ${formatSeconds(r.estimateSeconds)}` : '';
    const bytes = !r.cached && r.sharedWith === undefined && r.storeBytes ? `+${formatBytes(r.storeBytes)}` : '';
    lines.push(`  ${r.stage.padEnd(20)} ${state.padEnd(20)} ${time.padEnd(12)} ${bytes.padEnd(10)} ${r.key}`);
  }
  lines.push(planLine(p));
  return lines.join('\n');
}
