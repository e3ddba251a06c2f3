// A corruption variant's branch name (pure: the workflow sandbox imports it through lineage/plan.ts).

/** A variant's branch name: its `name`, else the transform with `-r<rate>` unless the rate is 1 (`name-moving-r0.5`). */
export function corruptVariantName(v: { name?: string; transform: string; rate: number }): string {
  return v.name ?? `${v.transform}${v.rate !== 1 ? `-r${v.rate}` : ''}`;
}
