// JSON artifacts of the trace and compare stages (what the report renderer reads). All score maps are
// ScoresJson (tracing/scores.ts); head maps have axes ['layer', 'head'] and are in logit-difference units
// unless their metric says otherwise. Non-finite numbers (NaN: not computed / undefined) are written as null.
// Bump the version on any incompatible change.
import type { ModelConfig } from '../model/config';
import type { CircuitEvaluation, CircuitJson, HeadClass } from './circuit';
import type { CmapKind, CmapPositions, CmapSetResult } from './cmap';
import type { ScoresJson } from './scores';

export const RESULTS_VERSION = 1 as const;

/** Where a stage sits in the lineage; compareStages uses it to find the clean / corrupted / retrained triple. */
export type StageRole = 'base' | 'clean' | 'corrupted' | 'retrained' | 'other';

/** Behaviour of the stage's model on the traced prompts (mean over prompts). */
export interface StageMetrics {
  logitDiff: number; // logit(IO) − logit(S) at END, clean prompts
  logitDiffStd: number;
  pairwiseAcc: number; // fraction with logit(IO) > logit(S)
  top1Acc: number; // argmax at END = IO
  ioProb: number; // softmax probability of IO
  corruptLogitDiff: number; // same metric on the corrupted (p_ABC) prompts
  n: number;
  /** Per-prompt logit differences in prompt order (bootstrap intervals; absent in traces before they were kept). */
  logitDiffs?: number[];
}

/** Per-stage trace result: one file per stage (schema 'plasticity.stage-trace'). */
export interface StageTrace {
  schema: 'plasticity.stage-trace';
  version: typeof RESULTS_VERSION;
  stage: string;
  role?: StageRole;
  model: { dir?: string; sha256?: string; source?: string; config: ModelConfig; gpt2SmallShaped: boolean };
  prompts: { n: number; seed?: number; file?: string; corruption: string; lengths: number[]; fingerprint: string };
  /** The settings every method ran with (same across stages of a lineage, so maps are comparable). */
  settings: Record<string, unknown>;
  metrics: StageMetrics;
  /** Head-score maps [layer, head] by method id: 'activation_patching/head_z' (patched − clean), 'knockout/head' (ΔF), 'dla/head'. */
  headScores: Record<string, ScoresJson>;
  /** Other score maps (per position, residual stream, ...) by method id. */
  extraScores?: Record<string, ScoresJson>;
  /** DLA of the non-head components (embed, pos_embed, attn_bias_L, mlp_out_L, ln_f_bias). */
  dlaComponents?: Record<string, number>;
  /** Spearman ρ of attribution patching vs exact activation patching, when both ran. */
  attributionVsExact?: number;
  circuit?: {
    discovery?: CircuitDiscovery;
    /** The re-found circuit's F(C), faithfulness, completeness, minimality. */
    evaluation?: CircuitEvaluation;
    /** Wang's 26-head circuit evaluated on this model (GPT-2-small-shaped models only). */
    reference?: CircuitEvaluation;
    /** The experiment's configured circuits (trace.circuits), in config order. */
    configured?: CircuitEvaluation[];
  };
  /** Per-prompt values the compare stage resamples for its bootstrap intervals (absent in older traces). */
  perPrompt?: PerPromptValues;
  timingsMs: Record<string, number>;
  createdAt: string;
}

/** Per-prompt values in prompt order (the order of metrics.logitDiffs). */
export interface PerPromptValues {
  /** Head maps by method id, one [layer·head] row (layer-major) per prompt; their mean over prompts is the headScores map. */
  headScores?: Record<string, number[][]>;
  /** The re-found circuit (circuit.evaluation): F(M) and F(C) per prompt; faithfulness = mean F(C) / mean F(M). */
  circuit?: { fModel: number[]; fCircuit: number[] };
}

export interface CircuitDiscovery {
  rankedBy: string;
  targetFraction: number;
  reached: boolean;
  fModel: number;
  fCircuit: number;
  ratio: number;
  circuit: CircuitJson;
  trajectory: { size: number; added: string; score: number; fCircuit: number; ratio: number }[];
}

/** CMAP between two stages (receiver A ← donor B) on the same prompts (schema 'plasticity.cmap'). */
export interface CmapPair {
  schema: 'plasticity.cmap';
  version: typeof RESULTS_VERSION;
  receiver: string; // stage name of A
  donor: string; // stage name of B
  fReceiver: number;
  fDonor: number;
  /** Per-head sweeps keyed `${kind}@${positions}` (e.g. 'z@all', 'pattern@END'): ΔCMAP and normalised maps. */
  sweeps: Record<string, { kind: CmapKind; positions: CmapPositions; delta: ScoresJson; normalised: ScoresJson }>;
  /** Head-set patches (classes, the circuit, q/k/v decompositions). */
  sets: CmapSetResult[];
}

export interface HeadInfo {
  head: string; // "L.H"
  layer: number;
  index: number; // head index within the layer
  cls?: HeadClass; // Wang's class, GPT-2-small-shaped models only
}

export interface HeadChange extends HeadInfo {
  from: number;
  to: number;
  delta: number; // to − from
}

/** How one method's head map changed between two stages. */
export interface StageDiff {
  from: string;
  to: string;
  method: string;
  totalAbsDelta: number; // Σ_h |Δ_h|
  /** Share of Σ|Δ| held by the k heads with the largest |Δ|, for each k in thresholds.topK (key = k). */
  topShare: Record<string, number>;
  /** Heads by |Δ|, largest first (thresholds.changedListLength of them). */
  changed: HeadChange[];
  pearson: number; // correlation of the two maps
  spearman: number;
}

/**
 * Per-head restoration label (thresholds in ComparisonThresholds; τ = changeFraction × max_h |clean_h|):
 * - unchanged: |corrupted − clean| ≤ τ and |retrained − clean| ≤ τ
 * - recruited: not changed by the corruption, but |retrained − clean| > τ (a head that took a new role; the
 *   candidates for compensation)
 * - restored: changed by the corruption (|corrupted − clean| > τ) and back: |retrained − clean| ≤ τ, or at least
 *   restoredFraction of the corruption change undone
 * - compensated: changed, not restored, but behaviour is restored (≥ behaviourRestored) and other heads make up
 *   for it: heads j that the retraining moved (|retrained_j − corrupted_j| > τ) away from their clean score
 *   (|retrained_j − clean_j| > τ), whose changes retrained_j − clean_j, counted in the direction of this head's
 *   missing clean score (sign(clean − retrained)), add up to at least compensationFraction × |clean − retrained|
 * - still_corrupted: changed and neither restored nor compensated
 */
export type RestorationLabel = 'restored' | 'still_corrupted' | 'compensated' | 'unchanged' | 'recruited';
export const RESTORATION_LABELS: readonly RestorationLabel[] = ['restored', 'still_corrupted', 'compensated', 'unchanged', 'recruited'];

export interface HeadRestoration extends HeadInfo {
  clean: number;
  corrupted: number;
  retrained: number;
  /** 1 − |retrained − clean| / |corrupted − clean| (NaN for heads the corruption did not change). */
  recovered: number;
  label: RestorationLabel;
  /** For 'compensated': the heads whose change makes up for it, largest contribution first. */
  compensatedBy?: string[];
}

export interface MechanisticRestoration {
  method: string;
  pearson: number; // retrained map vs clean map
  spearman: number;
  /** The same correlations for the corrupted map (how far the corruption moved the mechanism). */
  corruptedPearson: number;
  corruptedSpearman: number;
  threshold: number; // τ used for the labels
  heads: HeadRestoration[];
  counts: Record<RestorationLabel, number>;
}

export interface Restoration {
  clean: string;
  corrupted: string;
  retrained: string;
  behavioural: {
    ldClean: number;
    ldCorrupted: number;
    ldRetrained: number;
    /** (LD_retrained − LD_corrupted) / (LD_clean − LD_corrupted) */
    fraction: number;
  };
  mechanistic: Record<string, MechanisticRestoration>;
  primaryMethod: string;
  /** behavioural ≥ behaviourRestored and the primary method's Pearson < mechanismRestored. */
  behaviourRestoredMechanismNot: boolean;
}

export interface ComparisonThresholds {
  topK: number[]; // default [1, 3, 5, 10]
  changedListLength: number; // default 20
  changeFraction: number; // default 0.1
  restoredFraction: number; // default 0.7
  compensationFraction: number; // default 0.5
  behaviourRestored: number; // default 0.8
  mechanismRestored: number; // default 0.5
}

/** The compare stage's artifact (schema 'plasticity.lineage-comparison'). */
export interface LineageComparison {
  schema: 'plasticity.lineage-comparison';
  version: typeof RESULTS_VERSION;
  stages: { name: string; role?: StageRole; metrics: StageMetrics; headScores: Record<string, ScoresJson> }[];
  /** Methods present in every stage (the ones compared). */
  methods: string[];
  primaryMethod: string;
  /** Every adjacent pair of stages × method. */
  adjacent: StageDiff[];
  /** clean → corrupted, per method. */
  localisation?: { from: string; to: string; byMethod: Record<string, StageDiff> };
  restoration?: Restoration;
  /** Every corruption branch side by side (absent in comparisons from before branches). */
  branches?: BranchComparison[];
  cmap: CmapPair[];
  thresholds: ComparisonThresholds;
  createdAt: string;
}

/** A percentile bootstrap interval over the traced prompts (resampled jointly across a branch's stages). */
export interface Interval {
  value: number;
  lo: number;
  hi: number;
}

/** One corruption branch: where the corruption landed, how much retraining gave back, with prompt intervals. */
export interface BranchComparison {
  name: string;
  transform?: string;
  rate?: number;
  clean: string;
  corrupted: string;
  retrained: string;
  method: string;
  /** clean → corrupted on the primary method. */
  localisation: StageDiff;
  restoration: Restoration;
  /** The re-found circuit's faithfulness on the retrained (and corrupted) model, when traced with circuit: true. */
  faithfulness: { corrupted?: number; retrained?: number };
  counts: Record<RestorationLabel, number>;
  /** Heads by label (primary method). */
  heads: Record<RestorationLabel, string[]>;
  /** 95 % intervals; absent when the traces hold no per-prompt values. */
  intervals?: BranchIntervals;
}

/**
 * A branch's prompt-bootstrap intervals, every one from the same resamples of the prompts (jointly across the three
 * stages). The LD ones need metrics.logitDiffs; topShare and mechanistic need perPrompt.headScores of the primary
 * method in all three stages; faithfulness needs perPrompt.circuit of that stage.
 */
export interface BranchIntervals {
  ldClean: Interval;
  ldCorrupted: Interval;
  ldRetrained: Interval;
  behavioural: Interval;
  /** Localisation: top-k share of Σ|Δ| (clean → corrupted), per k of thresholds.topK. */
  topShare?: Record<string, Interval>;
  /** Mechanistic restoration: Pearson of the retrained map with the clean map. */
  mechanistic?: Interval;
  /** Re-found circuit's faithfulness F(C)/F(M). */
  faithfulness?: { corrupted?: Interval; retrained?: Interval };
  samples: number;
}
