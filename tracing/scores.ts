// The result type of every tracing method: a dense score array with named axes, the metric it is in, and the settings.

/** What a score measures. `form` says which version of the metric the numbers are. */
export interface ScoreMetric {
  /** Base metric, e.g. 'logit_diff' (mean over prompts of logit(IO) − logit(S) at END). */
  name: string;
  /**
   * 'value': the metric itself (e.g. the patched logit difference);
   * 'normalised': see `normalised` for the formula, e.g. '(patched − corrupt)/(clean − corrupt)';
   * 'relative': (patched − orig)/orig; 'delta': patched − orig; other method-specific forms are allowed.
   */
  form: 'value' | 'normalised' | 'relative' | 'delta' | (string & {});
  /** The normalisation formula, when form is 'normalised' (or 'relative'). */
  normalised?: string;
  /** Free-text description (what was patched into what, etc.). */
  description?: string;
  /** Reference values the form is relative to, e.g. { clean: 3.2, corrupt: -0.1 }. */
  baselines?: Record<string, number>;
}

/** JSON-able settings (method parameters, prompt counts, direction, backend, ...). */
export type ScoreSettings = Record<string, unknown>;

export interface Scores {
  /** Method id, e.g. 'activation_patching/head_z', 'path_patching', 'attribution_patching/head_z'. */
  method: string;
  /** Axis names, outermost first, e.g. ['layer', 'head'] or ['layer', 'head', 'position']. */
  axes: string[];
  shape: number[];
  /** Row-major values, length = product of shape. NaN marks a cell that was not computed. */
  values: Float32Array;
  metric: ScoreMetric;
  settings: ScoreSettings;
  /** Optional tick labels per axis, e.g. { position: ['IO', 'S1', 'S1+1', 'S2', 'END'] }. */
  labels?: Record<string, string[]>;
}

/** The JSON form: values as a plain number array (null for NaN). */
export interface ScoresJson extends Omit<Scores, 'values'> {
  values: (number | null)[];
}

export function makeScores(init: Omit<Scores, 'values'> & { values?: Float32Array }): Scores {
  if (init.axes.length !== init.shape.length) {
    throw new Error(`scores '${init.method}': ${init.axes.length} axes [${init.axes}] for shape [${init.shape}]`);
  }
  const size = init.shape.reduce((a, b) => a * b, 1);
  const values = init.values ?? new Float32Array(size).fill(NaN);
  if (values.length !== size) {
    throw new Error(`scores '${init.method}': values has length ${values.length}, expected ${size} for shape [${init.shape}]`);
  }
  for (const [axis, ticks] of Object.entries(init.labels ?? {})) {
    const i = init.axes.indexOf(axis);
    if (i < 0) throw new Error(`scores '${init.method}': labels for unknown axis '${axis}' (axes [${init.axes}])`);
    if (ticks.length !== init.shape[i]) {
      throw new Error(`scores '${init.method}': ${ticks.length} labels for axis '${axis}' of size ${init.shape[i]}`);
    }
  }
  return { ...init, values };
}

/** Flat index of a coordinate (one index per axis). */
export function scoreIndex(s: Pick<Scores, 'shape' | 'method'>, coord: number[]): number {
  if (coord.length !== s.shape.length) throw new Error(`scores '${s.method}': coordinate [${coord}] for shape [${s.shape}]`);
  let i = 0;
  coord.forEach((c, a) => {
    if (!Number.isInteger(c) || c < 0 || c >= s.shape[a]) {
      throw new Error(`scores '${s.method}': index ${c} outside [0, ${s.shape[a]}) on axis ${a}`);
    }
    i = i * s.shape[a] + c;
  });
  return i;
}

export function scoreAt(s: Scores, ...coord: number[]): number {
  return s.values[scoreIndex(s, coord)];
}

export function setScore(s: Scores, coord: number[], v: number): void {
  s.values[scoreIndex(s, coord)] = v;
}

/** A copy with new values (same axes/labels/settings) and a new metric, e.g. the normalised form of a value map. */
export function mapScores(s: Scores, metric: ScoreMetric, f: (v: number) => number): Scores {
  return { ...s, metric, values: s.values.map(f) };
}

export function scoresToJson(s: Scores): ScoresJson {
  return { ...s, values: Array.from(s.values, (v) => (Number.isFinite(v) ? v : null)) };
}

export function scoresFromJson(j: ScoresJson): Scores {
  if (!j || !Array.isArray(j.values) || !Array.isArray(j.shape) || !Array.isArray(j.axes)) {
    throw new Error('scores JSON: expected an object with arrays values, shape and axes');
  }
  return makeScores({ ...j, values: Float32Array.from(j.values, (v) => (v === null ? NaN : v)) });
}

/** Coordinates of the k largest |values| (or largest values with absolute=false), best first; NaN cells skipped. */
export function topScores(s: Scores, k: number, absolute = true): { coord: number[]; value: number }[] {
  const order = [...s.values.keys()].filter((i) => !Number.isNaN(s.values[i]));
  const key = (i: number) => (absolute ? Math.abs(s.values[i]) : s.values[i]);
  order.sort((a, b) => key(b) - key(a));
  return order.slice(0, k).map((i) => ({ coord: unflatten(s.shape, i), value: s.values[i] }));
}

export function unflatten(shape: number[], i: number): number[] {
  const coord = new Array<number>(shape.length);
  for (let a = shape.length - 1; a >= 0; a--) {
    coord[a] = i % shape[a];
    i = Math.floor(i / shape[a]);
  }
  return coord;
}
