// Spearman rank correlation (Pearson correlation of average ranks, so ties are handled), for comparing score maps.
import { Scores } from './scores';

/** Average ranks (1-based; tied values share the mean of their ranks). */
export function averageRanks(x: ArrayLike<number>): Float64Array {
  const idx = Array.from({ length: x.length }, (_, i) => i).sort((a, b) => x[a] - x[b]);
  const ranks = new Float64Array(x.length);
  for (let i = 0; i < idx.length; ) {
    let j = i;
    while (j + 1 < idx.length && x[idx[j + 1]] === x[idx[i]]) j++;
    const r = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) ranks[idx[k]] = r;
    i = j + 1;
  }
  return ranks;
}

export function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i];
    mb += b[i];
  }
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    const da = a[i] - ma;
    const db = b[i] - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  return saa === 0 || sbb === 0 ? NaN : sab / Math.sqrt(saa * sbb);
}

/** Spearman's ρ over the pairs where both values are finite (NaN when fewer than 2 pairs or a side is constant). */
export function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`spearman: lengths differ (${a.length} vs ${b.length})`);
  const [xa, xb] = finitePairs(a, b);
  if (xa.length < 2) return NaN;
  return pearson(averageRanks(xa), averageRanks(xb));
}

/** The pairs (a[i], b[i]) where both values are finite, as two arrays. */
export function finitePairs(a: ArrayLike<number>, b: ArrayLike<number>): [number[], number[]] {
  const xa: number[] = [];
  const xb: number[] = [];
  for (let i = 0; i < a.length; i++) {
    if (Number.isFinite(a[i]) && Number.isFinite(b[i])) {
      xa.push(a[i]);
      xb.push(b[i]);
    }
  }
  return [xa, xb];
}

/** Spearman's ρ between two score maps of the same shape (e.g. attribution vs exact activation patching). */
export function rankCorrelation(a: Scores, b: Scores): number {
  if (a.shape.join(',') !== b.shape.join(',')) {
    throw new Error(`rankCorrelation: '${a.method}' has shape [${a.shape}], '${b.method}' has [${b.shape}]`);
  }
  return spearman(a.values, b.values);
}
