/** Throughput and latency figures, the same way for every benchmark. */

/** The p-th percentile of latencies already sorted ascending (nearest rank). */
export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const round3 = (n: number) => Math.round(n * 1000) / 1000;

/** `<prefix>.ops_per_s`, `.p50_ms`, `.p99_ms` from per-operation latencies (ms) over a run of `seconds`. */
export function throughputFigures(prefix: string, latencies: number[], seconds: number): Record<string, number> {
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    [`${prefix}.ops_per_s`]: Math.round(sorted.length / seconds),
    [`${prefix}.p50_ms`]: round3(percentile(sorted, 50)),
    [`${prefix}.p99_ms`]: round3(percentile(sorted, 99)),
  };
}
