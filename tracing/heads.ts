// Head references and named IOI positions shared by knockout, circuit evaluation, DLA and CMAP.
import { ModelConfig } from '../model/config';
import { NamedPositions, TraceBatch } from './batch';

export interface HeadRef {
  layer: number;
  head: number;
}

/** A named IOI position of a prompt (see NamedPositions); 'S1p1' is S1+1. */
export type PositionLabel = keyof NamedPositions;
export const POSITION_LABELS: readonly PositionLabel[] = ['IO', 'S1', 'S1p1', 'S2', 'END'];

/** Every position, or the positions carrying one of the labels. */
export type PositionSpec = 'all' | readonly PositionLabel[];

/** "9.9" for layer 9 head 9 (Wang's notation). */
export function headLabel(h: HeadRef): string {
  return `${h.layer}.${h.head}`;
}

/** Parses "L.H" (e.g. "10.7"). */
export function parseHead(s: string): HeadRef {
  const m = /^(\d+)\.(\d+)$/.exec(s.trim());
  if (!m) throw new Error(`head: expected "layer.head" such as "9.9", got ${JSON.stringify(s)}`);
  return { layer: Number(m[1]), head: Number(m[2]) };
}

/** Accepts 'S1+1' as an alias of 'S1p1'. */
export function parsePositionLabel(s: string): PositionLabel {
  const label = s === 'S1+1' ? 'S1p1' : s;
  if (!(POSITION_LABELS as readonly string[]).includes(label)) {
    throw new Error(`position label: expected one of ${POSITION_LABELS.join(', ')} (or S1+1), got ${JSON.stringify(s)}`);
  }
  return label as PositionLabel;
}

export function checkHead(c: ModelConfig, h: HeadRef, where = 'head'): void {
  if (!Number.isInteger(h.layer) || h.layer < 0 || h.layer >= c.n_layer) {
    throw new Error(`${where}: layer ${h.layer} is outside [0, ${c.n_layer})`);
  }
  if (!Number.isInteger(h.head) || h.head < 0 || h.head >= c.n_head) {
    throw new Error(`${where}: head ${h.head} is outside [0, ${c.n_head})`);
  }
}

/** All heads of a model in (layer, head) order. */
export function allHeads(c: ModelConfig): HeadRef[] {
  const out: HeadRef[] = [];
  for (let layer = 0; layer < c.n_layer; layer++) for (let head = 0; head < c.n_head; head++) out.push({ layer, head });
  return out;
}

/** Token positions of row b selected by `spec` (END falls back to batch.end when named positions are absent). */
export function rowPositions(batch: TraceBatch, b: number, spec: PositionSpec): number[] {
  if (spec === 'all') return [...Array(batch.T).keys()];
  const out = new Set<number>();
  for (const label of spec) {
    let p: number;
    if (label === 'END' && !batch.positions) p = batch.end[b];
    else {
      if (!batch.positions) throw new Error(`positions: label '${label}' needs named positions in the trace batch (batch.positions is missing)`);
      p = batch.positions[b][label];
    }
    if (!Number.isInteger(p) || p < 0 || p >= batch.T) throw new Error(`positions: row ${b} has ${label} = ${p}, outside [0, ${batch.T})`);
    out.add(p);
  }
  return [...out].sort((a, c) => a - c);
}
