// The paper's three findings at small scale, measured: runs an experiment's lineage WITHOUT Temporal
// (lineage/local.ts: the workflow's stage sequence and activities, called directly), then reads the trace
// and compare artifacts from the store and prints a JSON summary with per-stage wall times:
//   (i)   amplification — LD at each clean fine-tune epoch count, faithfulness of each re-found circuit, and of the
//         base model's circuit carried over to every later model (is the circuit kept?);
//   (ii)  corruption — LD of the poisoned model, localisation (share of Σ|Δscore| in the top-k heads per method);
//   (iii) restoration — behavioural fraction, correlation of the retrained head map with the clean one.
//   node dist/bench/reproduce.js [CONFIG] [--set k=v]... [--store DIR] [--code-version V] [--out FILE]
// Without --store every stage runs in a fresh temp store (honest timings). With a fixed --store and --code-version,
// unchanged stages (e.g. the pretrained base) come from the stage cache: for calibration sweeps.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runLineageLocally } from '../lineage/local';
import { materialiseCheckpoint } from '../checkpoint/store';
import { loadConfig } from '../config/load';
import type { ExperimentConfig } from '../config/schema';
import { initBackend } from '../model/engine';
import { loadModel } from '../checkpoint/load';
import { openStore } from '../store/open';
import type { ArtifactStore } from '../store/artifact-store';
import { codeVersion } from '../temporal/lineage-client';
import { circuitPerformance, type Circuit } from '../tracing/circuit';
import { parseHead } from '../tracing/heads';
import { ioiTraceSet } from '../tracing/ioi-set';
import { Knockout } from '../tracing/knockout';
import { pearson } from '../tracing/rank';
import type { LineageComparison, StageTrace } from '../tracing/results';
import { cleanLabel, traceStageName, tracedModels } from '../lineage/plan';
import type { LineageResult } from '../contract/lineage';
import type { ArtifactRef } from '../store/artifact-ref';

interface Args {
  file?: string;
  sets: string[];
  store?: string;
  codeVersion?: string;
  out?: string;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { sets: [] };
  for (let i = 0; i < argv.length; i++) {
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${argv[i]}: expected a value`);
      return argv[++i];
    };
    if (argv[i] === '--set') a.sets.push(value());
    else if (argv[i] === '--store') a.store = path.resolve(value());
    else if (argv[i] === '--code-version') a.codeVersion = value();
    else if (argv[i] === '--out') a.out = value();
    else if (argv[i].startsWith('--')) throw new Error(`unknown option ${argv[i]}; expected --set, --store, --code-version, --out`);
    else a.file = argv[i];
  }
  return a;
}

const round = (x: number | undefined | null, d = 3) => (typeof x === 'number' && Number.isFinite(x) ? Math.round(x * 10 ** d) / 10 ** d : null);
const loads = () => os.loadavg().map((x) => round(x, 2));

async function readJson<T>(store: ArtifactStore, ref: ArtifactRef): Promise<T> {
  return JSON.parse((await store.getBlob(ref)).toString('utf8')) as T;
}

function circuitHeads(t: StageTrace): string[] {
  return t.circuit?.evaluation?.circuit.heads.map((h) => h.head) ?? t.circuit?.discovery?.circuit.heads.map((h) => h.head) ?? [];
}

/** Attribution patching against exact activation patching on one model: Pearson and whether the top-k heads agree. */
function attributionAgreement(t: StageTrace, k: number): { pearson: number | null; topKSame: boolean | null } {
  const exact = t.headScores['activation_patching/head_z']?.values;
  const approx = t.headScores['attribution_patching/head_z']?.values;
  if (!exact || !approx) return { pearson: null, topKSame: null };
  const e = exact.map((v) => v ?? NaN);
  const a = approx.map((v) => v ?? NaN);
  const top = (x: number[]) => [...x.keys()].sort((i, j) => Math.abs(x[j]) - Math.abs(x[i])).slice(0, k).sort().join(',');
  return { pearson: round(pearson(e, a)), topKSame: top(e) === top(a) };
}

function jaccard(a: string[], b: string[]): number {
  const A = new Set(a);
  const B = new Set(b);
  const inter = [...A].filter((x) => B.has(x)).length;
  const union = new Set([...A, ...B]).size;
  return union === 0 ? NaN : inter / union;
}

/**
 * F(C)/F(M) of fixed circuits (head sets, kept at all positions, everything else ablated as in the trace) on each
 * traced model: does the circuit found on an earlier model still carry the later model's behaviour?
 */
async function carriedFaithfulness(
  store: ArtifactStore,
  config: ExperimentConfig,
  result: LineageResult,
  circuits: Record<string, string[]>,
): Promise<Record<string, Record<string, number | null>>> {
  await initBackend(config.backend);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'plasticity-reproduce-'));
  const out: Record<string, Record<string, number | null>> = {};
  try {
    for (const t of tracedModels(config)) {
      const ref = result.stages[t.stage].outputs[t.output];
      const dir = await materialiseCheckpoint(store, ref, path.join(work, t.label));
      const loaded = loadModel(dir);
      const { set } = ioiTraceSet({ n: config.trace.n, seed: config.trace.seed }, loaded.vocab);
      const ko = await Knockout.create(loaded.model, set, { ablation: config.trace.ablation });
      try {
        out[t.label] = {};
        for (const [name, heads] of Object.entries(circuits)) {
          if (heads.length === 0) continue;
          const circuit: Circuit = { name, heads: heads.map((h) => ({ ...parseHead(h), positions: 'all' })) };
          out[t.label][name] = round((await circuitPerformance(ko, circuit)) / ko.fullModel());
        }
      } finally {
        ko.dispose();
        loaded.model.dispose();
      }
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  return out;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const store = args.store ?? fs.mkdtempSync(path.join(os.tmpdir(), 'plasticity-reproduce-store-'));
  const loaded = loadConfig(args.file, { set: [...args.sets, `store=${store}`] });
  const config = loaded.config;
  const loadBefore = loads();
  const stageWall: Record<string, { status: string; seconds: number; loadavg: (number | null)[] }> = {};
  const started: Record<string, number> = {};
  const t0 = Date.now();
  const result = await runLineageLocally(loaded, {
    codeVersion: args.codeVersion ?? `${codeVersion()}-reproduce-${Date.now()}`,
    onStage: (stage, status) => {
      if (status === 'running') started[stage] = Date.now();
      else {
        stageWall[stage] = { status, seconds: round((Date.now() - (started[stage] ?? Date.now())) / 1000, 1)!, loadavg: loads() };
        process.stderr.write(`[reproduce] ${stage}: ${status} in ${stageWall[stage].seconds}s (load ${stageWall[stage].loadavg[0]})\n`);
      }
    },
  });
  const lineageSeconds = (Date.now() - t0) / 1000;

  const st = openStore(config.store);
  const traced = tracedModels(config);
  const traces: Record<string, StageTrace> = {};
  for (const t of traced) traces[t.label] = await readJson<StageTrace>(st, result.stages[traceStageName(t.label)].outputs.trace);
  const cmp = await readJson<LineageComparison>(st, result.compare);

  const clean = cleanLabel(config);
  const ftLabels = config.finetune.epochs.map((e) => `finetune-e${e}`);
  const circuits = { base: circuitHeads(traces.base), clean: circuitHeads(traces[clean]) };
  const t1 = Date.now();
  const carried = await carriedFaithfulness(st, config, result, circuits);
  const carriedSeconds = (Date.now() - t1) / 1000;

  const models = traced.map((t) => {
    const tr = traces[t.label];
    const m = tr.metrics;
    const ev = tr.circuit?.evaluation;
    const trainStage = result.stages[t.stage];
    const attribution = attributionAgreement(tr, config.compare.top_k);
    return {
      label: t.label,
      role: t.role,
      logitDiff: round(m.logitDiff),
      logitDiffStd: round(m.logitDiffStd),
      pairwiseAcc: round(m.pairwiseAcc),
      top1Acc: round(m.top1Acc),
      ioProb: round(m.ioProb),
      corruptLogitDiff: round(m.corruptLogitDiff),
      heldOutLogitDiff: t.output === 'checkpoint' ? round(trainStage.metrics['ioi.logitDiff']) : null,
      circuit: circuitHeads(tr),
      circuitFaithfulness: round(ev?.faithfulness.ratio),
      circuitReached: tr.circuit?.discovery?.reached ?? null,
      circuitJaccardWithBase: round(jaccard(circuitHeads(tr), circuits.base)),
      baseCircuitFaithfulness: carried[t.label]?.base ?? null,
      cleanCircuitFaithfulness: carried[t.label]?.clean ?? null,
      completenessMaxRelative: round(ev?.completeness?.maxRelative),
      attributionVsExact: round(tr.attributionVsExact),
      attributionPearson: attribution.pearson,
      attributionTopKSame: attribution.topKSame,
      /** Head maps [layer × head, row-major] of the exact methods, and DLA of the non-head components. */
      maps: Object.fromEntries(
        ['activation_patching/head_z', 'attribution_patching/head_z', 'path_patching/logits', 'knockout/head', 'dla/head']
          .filter((k) => tr.headScores[k])
          .map((k) => [k, tr.headScores[k].values.map((v) => round(v, 2))]),
      ),
      dlaComponents: tr.dlaComponents ? Object.fromEntries(Object.entries(tr.dlaComponents).map(([k, v]) => [k, round(v, 2)])) : null,
      traceSeconds: round(Object.values(tr.timingsMs).reduce((a, b) => a + b, 0) / 1000, 2),
      traceMs: Object.fromEntries(Object.entries(tr.timingsMs).map(([k, v]) => [k, Math.round(v)])),
    };
  });
  const byLabel = (l: string) => models.find((m) => m.label === l)!;
  const base = byLabel('base');
  // a lineage with several corruption branches: the summary's findings are the first branch's (the compare artifact has all)
  const corrupt = models.find((m) => m.label === 'corrupt') ?? models.find((m) => m.label.startsWith('corrupt-'));
  if (!corrupt) throw new Error(`reproduce: no corrupt stage among ${models.map((m) => m.label).join(', ')}`);
  const branch = corrupt.label.slice('corrupt'.length); // '' or '-<name>'
  const retrain = byLabel(`retrain${branch}`);
  const cleanM = byLabel(clean);

  const localisation = Object.fromEntries(
    Object.entries(cmp.localisation?.byMethod ?? {}).map(([method, d]) => [
      method,
      {
        topShare: Object.fromEntries(Object.entries(d.topShare).map(([k, v]) => [k, round(v)])),
        changed: d.changed.slice(0, 4).map((c) => ({ head: c.head, from: round(c.from), to: round(c.to), delta: round(c.delta) })),
        pearsonCleanVsCorrupt: round(d.pearson),
      },
    ]),
  );
  const mech = Object.fromEntries(
    Object.entries(cmp.restoration?.mechanistic ?? {}).map(([method, r]) => [
      method,
      { pearson: round(r.pearson), spearman: round(r.spearman), corruptedPearson: round(r.corruptedPearson), counts: r.counts },
    ]),
  );
  // Share of the clean → corrupted Σ|Δ| (primary method) held by the clean model's re-found circuit heads.
  const circuitShare = (() => {
    const from = cmp.stages.find((x) => x.name === clean)?.headScores[cmp.primaryMethod];
    const to = cmp.stages.find((x) => x.name === 'corrupt')?.headScores[cmp.primaryMethod];
    if (!from || !to) return null;
    const nHead = from.shape[1];
    const inCircuit = new Set(circuits.clean.map((h) => parseHead(h)).map((h) => h.layer * nHead + h.head));
    let total = 0;
    let held = 0;
    from.values.forEach((v, i) => {
      const d = Math.abs((to.values[i] ?? NaN) - (v ?? NaN));
      if (!Number.isFinite(d)) return;
      total += d;
      if (inCircuit.has(i)) held += d;
    });
    return total > 0 ? round(held / total) : null;
  })();
  const nHeads = config.model.source === 'pretrain' ? config.model.arch.n_layer * config.model.arch.n_head : null;
  const spearmans = models.map((m) => m.attributionVsExact).filter((x): x is number => x !== null);
  const primary = cmp.primaryMethod;
  const behavioural = cmp.restoration?.behavioural.fraction;

  const summary = {
    config: { source: loaded.source, sets: args.sets, hash: loaded.hash, store },
    setup: {
      arch: config.model.source === 'pretrain' ? config.model.arch : config.model,
      heads: nHeads,
      data: config.data,
      finetune: config.finetune,
      corrupt: config.corrupt,
      retrain: config.retrain,
      trace: config.trace,
      backend: config.backend,
      cores: os.cpus().length,
      cpu: os.cpus()[0]?.model,
      node: process.version,
    },
    models,
    findings: {
      amplification: {
        epochs: config.finetune.epochs,
        baseLogitDiff: base.logitDiff,
        logitDiff: ftLabels.map((l) => byLabel(l).logitDiff),
        pairwiseAcc: ftLabels.map((l) => byLabel(l).pairwiseAcc),
        circuitFaithfulness: ftLabels.map((l) => byLabel(l).circuitFaithfulness),
        circuitSize: ftLabels.map((l) => byLabel(l).circuit.length),
        baseCircuitFaithfulness: ftLabels.map((l) => byLabel(l).baseCircuitFaithfulness),
        circuitJaccardWithBase: ftLabels.map((l) => byLabel(l).circuitJaccardWithBase),
        ratioLastToBase: round((byLabel(ftLabels[ftLabels.length - 1]).logitDiff ?? NaN) / (base.logitDiff ?? NaN), 2),
      },
      corruption: {
        from: clean,
        ldClean: cleanM.logitDiff,
        ldCorrupted: corrupt.logitDiff,
        pairwiseAccCorrupted: corrupt.pairwiseAcc,
        primaryMethod: primary,
        cleanCircuit: circuits.clean,
        circuitShareOfChange: circuitShare,
        localisation,
      },
      restoration: {
        ldRetrained: retrain.logitDiff,
        behavioural: round(behavioural),
        mechanistic: mech,
        retrainCircuitFaithfulness: retrain.circuitFaithfulness,
        cleanCircuitFaithfulnessOnRetrain: retrain.cleanCircuitFaithfulness,
        cleanCircuitFaithfulnessOnCorrupt: corrupt.cleanCircuitFaithfulness,
        retrainCircuitJaccardWithClean: round(jaccard(retrain.circuit, cleanM.circuit)),
      },
      attributionVsExact: {
        spearman: spearmans,
        meanSpearman: round(spearmans.reduce((a, b) => a + b, 0) / (spearmans.length || NaN)),
        pearson: models.map((m) => m.attributionPearson),
        topKSame: models.map((m) => m.attributionTopKSame),
      },
    },
    timings: {
      lineageSeconds: round(lineageSeconds, 1),
      stages: stageWall,
      statuses: result.statuses,
      carriedFaithfulnessSeconds: round(carriedSeconds, 1),
      loadavgBefore: loadBefore,
      loadavgAfter: loads(),
    },
  };
  const text = JSON.stringify(summary, null, 2);
  if (args.out) fs.writeFileSync(args.out, text + '\n');
  console.log(text);
  if (!args.store) fs.rmSync(store, { recursive: true, force: true });
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : err);
    process.exit(1);
  },
);
