// The numbers `pnpm bench:console` reports: percentiles of latencies and the goal lines of its table.

/** The q-quantile (0..1) of `values` by the nearest-rank method; NaN for none. */
export function percentile (values: readonly number[], q: number): number {
  if (!(q >= 0 && q <= 1)) throw new Error(`quantile ${q} is not within 0..1`)
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.max(1, Math.ceil(q * sorted.length))
  return sorted[rank - 1]!
}

export interface LatencySummary {
  count: number
  p50: number
  p95: number
  p99: number
  max: number
}

export function summarize (values: readonly number[]): LatencySummary {
  return {
    count: values.length,
    p50: percentile(values, 0.5),
    p95: percentile(values, 0.95),
    p99: percentile(values, 0.99),
    max: values.length === 0 ? Number.NaN : Math.max(...values)
  }
}

/**
 * Latency per mark from when its push was answered `success` (the sender's Date.now()) to when the page first
 * showed it; marks the page never showed are counted as missing, not given a latency.
 */
export function latencies (acked: ReadonlyMap<string, number>, seen: Readonly<Record<string, number>>): { values: number[], missing: number } {
  const values: number[] = []
  let missing = 0
  for (const [mark, at] of acked) {
    const shown = seen[mark]
    if (shown === undefined) missing++
    else values.push(shown - at)
  }
  return { values, missing }
}

/** One row of the goals table: `PASS` when `value` is within `goal` (lower is better), `MISS` otherwise or unmeasured. */
export function verdict (value: number, goal: number): 'PASS' | 'MISS' {
  return Number.isFinite(value) && value <= goal ? 'PASS' : 'MISS'
}

/** Milliseconds for a table: one decimal below 10, whole above; `–` for nothing measured. */
export function ms (value: number): string {
  if (!Number.isFinite(value)) return '–'
  return Math.abs(value) < 10 ? value.toFixed(1) : String(Math.round(value))
}

/**
 * A Prometheus histogram's cumulative bucket counts (`le` → count, summed over its other labels) in the text
 * of a /metrics answer; `after` minus `before` gives the observations between two scrapes.
 */
export function histogramBuckets (metricsText: string, name: string): Map<string, number> {
  const buckets = new Map<string, number>()
  for (const line of metricsText.split('\n')) {
    if (!line.startsWith(`${name}_bucket{`)) continue
    const le = /le="([^"]+)"/.exec(line)?.[1]
    if (le === undefined) continue
    buckets.set(le, (buckets.get(le) ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1)))
  }
  return buckets
}

/** "≤ 0.1 s 1990, ≤ 1 s 2000, > 5 s 0": the observations between two scrapes, cumulative, at the given bounds. */
export function bucketsBetween (before: ReadonlyMap<string, number>, after: ReadonlyMap<string, number>, bounds: readonly string[]): string {
  const between = (le: string): number => (after.get(le) ?? 0) - (before.get(le) ?? 0)
  const total = between('+Inf')
  const parts = bounds.map((le) => `≤ ${le} s ${between(le)}`)
  const last = bounds[bounds.length - 1]
  if (last !== undefined) parts.push(`> ${last} s ${total - between(last)}`)
  return `${parts.join(', ')} (of ${total})`
}
