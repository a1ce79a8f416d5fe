// Reconnect delays: exponential from `baseMs`, capped at `maxMs`, with jitter so that thousands of
// clients dropped by one server restart do not all come back in the same millisecond.

/** Turns the capped exponential delay (the ceiling) into the delay actually waited. */
export type Jitter = (ceilingMs: number) => number

export interface BackoffOptions {
  /** First delay's ceiling (ms). */
  baseMs?: number
  /** No delay exceeds this (ms). */
  maxMs?: number
  /** Default: equalJitter(Math.random). */
  jitter?: Jitter
}

export const DEFAULT_BACKOFF_BASE_MS = 1000
export const DEFAULT_BACKOFF_MAX_MS = 30_000

/** Half the ceiling plus a random half: never a stampede at 0 ms, never more than the ceiling. */
export function equalJitter (random: () => number = Math.random): Jitter {
  return (ceiling) => ceiling / 2 + random() * (ceiling / 2)
}

/** Anywhere from 0 to the ceiling: the widest spread. */
export function fullJitter (random: () => number = Math.random): Jitter {
  return (ceiling) => random() * ceiling
}

/** The delay before reconnect attempt `attempt` (0 for the first): min(maxMs, baseMs * 2^attempt), jittered. */
export function backoffDelay (attempt: number, options: BackoffOptions = {}): number {
  const base = options.baseMs ?? DEFAULT_BACKOFF_BASE_MS
  const max = options.maxMs ?? DEFAULT_BACKOFF_MAX_MS
  const ceiling = Math.min(max, base * Math.pow(2, Math.min(Math.max(attempt, 0), 30)))
  const jittered = (options.jitter ?? equalJitter())(ceiling)
  return Math.round(Math.min(max, Math.max(0, Number.isFinite(jittered) ? jittered : ceiling)))
}
