/** Summary statistics of a series of samples, for the bench and the reliability suite alike. */

/** What a report quotes for a series: how many runs, their median, smallest and largest. */
export interface Summary {
  n: number;
  median: number;
  min: number;
  max: number;
}

/** The median, min and max of `samples`; null when there are none. */
export function summarize(samples: readonly number[]): Summary | null {
  if (samples.length === 0) return null;
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  // An even count has no middle sample: the mean of the two around it.
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { n: sorted.length, median, min: sorted[0]!, max: sorted[sorted.length - 1]! };
}

/** The median of `samples`; NaN when there are none. */
export function median(samples: readonly number[]): number {
  return summarize(samples)?.median ?? NaN;
}
