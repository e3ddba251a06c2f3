// A trace job as plain JSON in, plain JSON out (run in a worker thread by jobs/offthread.ts, kind 'trace'):
// load the model (and a CMAP donor), build the prompt set, trace the stage, write StageTrace (and CmapPair) JSON.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BACKEND_CHOICES, BackendPreference, initBackend } from '../model/engine';
import { GPT2 } from '../model/gpt2';
import { loadModel } from '../checkpoint/load';
import { JobHandlers, registerJob } from '../jobs/offthread';
import { TraceSet } from './batch';
import { CircuitSettings, TRACE_METHODS, TraceMethod, TraceProgress, traceStage } from './stage';
import { GPT2_SMALL_HEAD_CLASSES, HEAD_CLASS_POSITIONS, HeadClass, isGpt2SmallShaped } from './circuit';
import { CMAP_KINDS, CmapKind, CmapOptions, CmapPositions, cmapHeads, cmapSets, CmapSetSpec, prepareCmap } from './cmap';
import { parseHead } from './heads';
import { ioiTraceSet, PromptSpec } from './ioi-set';
import { ABLATIONS, Ablation } from './knockout';
import { CmapPair, RESULTS_VERSION, StageMetrics, StageRole } from './results';
import { scoresToJson } from './scores';
import { DeterministicError } from '../errors/deterministic';

export interface CmapJobSettings {
  /** Per-head sweeps, each kind at each positions setting (default z at all positions and at END). */
  kinds?: CmapKind[];
  positions?: CmapPositions[];
  /** Head sets; heads as "L.H". Default on GPT-2-small-shaped models: Wang's classes, and q/k/v of the name movers. */
  sets?: { name?: string; heads: string[]; kinds: CmapKind[]; positions?: CmapPositions; freezeNonEnd?: boolean }[];
}

export interface TraceJobInput {
  backend?: BackendPreference;
  modelDir: string;
  /** CMAP donor B (same architecture), patched into the model at modelDir (receiver A). */
  donorDir?: string;
  prompts: PromptSpec;
  methods?: TraceMethod[];
  stage?: string; // default: the model folder's name
  role?: StageRole;
  donorStage?: string; // default: the donor folder's name
  ablation?: Ablation;
  circuit?: CircuitSettings | false;
  cmap?: CmapJobSettings;
  outFile: string; // StageTrace JSON
  cmapOutFile?: string; // CmapPair JSON (default: outFile with .cmap.json)
  maxRowsPerPass?: number;
  memoryBudgetMB?: number;
  maxBatch?: number; // prompts per same-length batch (default 256)
}

export interface TraceJobResult {
  status: 'done' | 'cancelled';
  stage: string;
  outFile?: string;
  cmapOutFile?: string;
  metrics?: StageMetrics;
  timingsMs: Record<string, number>;
  backend: string;
}

function checkInput(input: TraceJobInput): void {
  if (!input || typeof input !== 'object') throw new DeterministicError('trace job: input must be an object');
  if (typeof input.modelDir !== 'string' || !input.modelDir) throw new DeterministicError('trace job: modelDir must be a folder path');
  if (typeof input.outFile !== 'string' || !input.outFile) throw new DeterministicError('trace job: outFile must be a file path');
  if (!input.prompts || typeof input.prompts !== 'object') throw new DeterministicError('trace job: prompts must be {n, seed} or {file}');
  if (input.backend && !BACKEND_CHOICES.includes(input.backend)) throw new DeterministicError(`trace job: backend must be one of ${BACKEND_CHOICES.join(', ')}, got ${JSON.stringify(input.backend)}`);
  for (const m of input.methods ?? []) if (!TRACE_METHODS.includes(m)) throw new DeterministicError(`trace job: methods: unknown '${m}'; expected ${TRACE_METHODS.join(', ')}`);
  if (input.ablation && !ABLATIONS.includes(input.ablation)) throw new DeterministicError(`trace job: ablation must be one of ${ABLATIONS.join(', ')}, got ${JSON.stringify(input.ablation)}`);
  for (const k of input.cmap?.kinds ?? []) if (!CMAP_KINDS.includes(k)) throw new DeterministicError(`trace job: cmap.kinds: unknown '${k}'; expected ${CMAP_KINDS.join(', ')}`);
}

/** Wang's classes (z at their positions) and the q/k/v split of the name movers at END. */
function defaultCmapSets(model: GPT2): CmapSetSpec[] {
  if (!isGpt2SmallShaped(model.config)) return [];
  const sets: CmapSetSpec[] = [];
  for (const [cls, heads] of Object.entries(GPT2_SMALL_HEAD_CLASSES) as [HeadClass, readonly string[]][]) {
    const positions: CmapPositions = HEAD_CLASS_POSITIONS[cls].includes('END') ? 'END' : 'all';
    sets.push({ name: `${cls}:z@${positions}`, heads: heads.map(parseHead), kinds: ['z'], positions });
  }
  const nm = GPT2_SMALL_HEAD_CLASSES.name_mover.map(parseHead);
  for (const kinds of [['q'], ['k'], ['v'], ['q', 'k', 'v']] as CmapKind[][]) {
    sets.push({ name: `name_mover:${kinds.join('')}@END`, heads: nm, kinds, positions: 'END' });
  }
  sets.push({ name: 'name_mover:pattern@END', heads: nm, kinds: ['pattern'], positions: 'END' });
  return sets;
}

/** CMAP of donor B into receiver A on the trace set's clean prompts. */
export async function cmapPair(receiver: GPT2, donor: GPT2, set: TraceSet, names: { receiver: string; donor: string }, s: CmapJobSettings = {}, opts: CmapOptions = {}): Promise<CmapPair> {
  const sweeps: CmapPair['sweeps'] = {};
  let fReceiver = NaN;
  let fDonor = NaN;
  const specs: CmapSetSpec[] = s.sets
    ? s.sets.map((x) => ({ ...x, heads: x.heads.map(parseHead) }))
    : defaultCmapSets(receiver);
  const kinds = s.kinds ?? ['z'];
  const positionsList = s.positions ?? (['all', 'END'] as CmapPositions[]);
  // Both models' clean runs once for every sweep and set; progress counts variant evaluations over all of them.
  const caches = opts.caches ?? prepareCmap(receiver, donor, set, [...kinds, ...specs.flatMap((x) => x.kinds)], specs.some((x) => x.freezeNonEnd), opts);
  const nHeads = receiver.config.n_layer * receiver.config.n_head;
  const total = (kinds.length * positionsList.length * nHeads + specs.length) * caches.batches.length;
  let before = 0;
  const progress = (d: number) => opts.onProgress?.(before + d, total);
  try {
    for (const kind of kinds) {
      for (const positions of positionsList) {
        const r = await cmapHeads(receiver, donor, set, { ...opts, caches, kind, positions, onProgress: progress });
        before += nHeads * caches.batches.length;
        fReceiver = r.fReceiver;
        fDonor = r.fDonor;
        sweeps[`${kind}@${positions}`] = { kind, positions, delta: scoresToJson(r.delta), normalised: scoresToJson(r.normalised) };
      }
    }
    const sets = specs.length ? await cmapSets(receiver, donor, set, specs, { ...opts, caches, onProgress: progress }) : [];
    if (sets.length) {
      fReceiver = sets[0].fReceiver;
      fDonor = sets[0].fDonor;
    }
    return { schema: 'plasticity.cmap', version: RESULTS_VERSION, receiver: names.receiver, donor: names.donor, fReceiver, fDonor, sweeps, sets };
  } finally {
    if (!opts.caches) caches.dispose();
  }
}

function writeJson(file: string, value: unknown): void {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, JSON.stringify(value, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v)) + '\n');
  fs.renameSync(tmp, file);
}

/** Entry point of the 'trace' job kind (also callable in-process). */
export async function runTraceJob(input: TraceJobInput, handlers?: JobHandlers<TraceProgress>): Promise<TraceJobResult> {
  checkInput(input);
  const backend = await initBackend(input.backend ?? 'auto', handlers?.log.bind(handlers));
  const stage = input.stage ?? path.basename(path.resolve(input.modelDir));
  const aborted = () => !!handlers?.signal.aborted;
  const loaded = loadModel(input.modelDir);
  let donor: ReturnType<typeof loadModel> | undefined;
  try {
    const { set, corruption } = ioiTraceSet(input.prompts, loaded.vocab, input.maxBatch);
    handlers?.log(`trace ${stage}: ${set.reduce((a, b) => a + b.n, 0)} prompts in ${set.length} batches, methods ${(input.methods ?? TRACE_METHODS).join(', ')}`);
    if (aborted()) return { status: 'cancelled', stage, timingsMs: {}, backend };
    const trace = await traceStage(loaded.model, set, {
      stage,
      role: input.role,
      methods: input.methods,
      ablation: input.ablation,
      circuit: input.circuit,
      maxRowsPerPass: input.maxRowsPerPass,
      memoryBudgetMB: input.memoryBudgetMB,
      model: { dir: input.modelDir, source: loaded.meta.source },
      prompts: { ...('file' in input.prompts ? { file: input.prompts.file } : { seed: input.prompts.seed }), corruption },
      onProgress: (p) => handlers?.onProgress(p),
    });
    writeJson(input.outFile, trace);
    const result: TraceJobResult = { status: 'done', stage, outFile: input.outFile, metrics: trace.metrics, timingsMs: trace.timingsMs, backend };
    if (input.donorDir) {
      if (aborted()) return { ...result, status: 'cancelled' };
      donor = loadModel(input.donorDir);
      if (donor.vocab.size !== loaded.vocab.size || donor.vocab.describe() !== loaded.vocab.describe()) {
        throw new DeterministicError(`trace job: donor ${input.donorDir} uses ${donor.vocab.describe()} but the model uses ${loaded.vocab.describe()}; CMAP needs the same tokens`);
      }
      const t0 = performance.now();
      const steps = (trace.settings.methods as string[]).length + (trace.settings.circuit === false ? 1 : 2) + 1;
      let last = 0;
      const onProgress = (d: number, t: number) => {
        const now = performance.now();
        if (d < t && now - last < 1000) return;
        last = now;
        const etaSeconds = d > 0 ? Math.round(((t - d) * (now - t0)) / d / 1000) : undefined;
        handlers?.onProgress({ stage, step: 'cmap', done: steps - 1, total: steps, item: { done: d, total: t, ...(etaSeconds !== undefined ? { etaSeconds } : {}) } });
      };
      const pair = await cmapPair(loaded.model, donor.model, set, { receiver: stage, donor: input.donorStage ?? path.basename(path.resolve(input.donorDir)) }, input.cmap,
        { maxRowsPerPass: input.maxRowsPerPass, memoryBudgetMB: input.memoryBudgetMB, onProgress });
      result.timingsMs = { ...result.timingsMs, cmap: performance.now() - t0 };
      result.cmapOutFile = input.cmapOutFile ?? input.outFile.replace(/(\.json)?$/, '.cmap.json');
      writeJson(result.cmapOutFile, pair);
    }
    return result;
  } finally {
    loaded.model.dispose();
    donor?.model.dispose();
  }
}

export const TRACE_JOB = registerJob('trace', __filename, 'runTraceJob');
