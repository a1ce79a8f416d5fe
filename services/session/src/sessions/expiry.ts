/** How long sessions live. All durations in milliseconds. */
export interface ExpiryPolicy {
  /** A session unused for this long expires; each use slides it forward. */
  idleTtlMs: number
  /** No session outlives login + maxTtlMs. */
  maxTtlMs: number
  /** Uses closer together than this do not write the slid expiry (one write a minute per session at most). */
  touchIntervalMs: number
}

export const DEFAULT_TOUCH_INTERVAL_MS = 60_000

/** Expiry of a session created at `now`. */
export function initialExpiry (now: Date, policy: ExpiryPolicy): { expiresAt: Date, absoluteExpiresAt: Date } {
  const absoluteExpiresAt = new Date(now.getTime() + policy.maxTtlMs)
  const expiresAt = new Date(Math.min(now.getTime() + policy.idleTtlMs, absoluteExpiresAt.getTime()))
  return { expiresAt, absoluteExpiresAt }
}

export type ExpiryVerdict =
  | { valid: false, reason: string }
  /** `touch`: write lastSeenAt = now and this expiresAt back to the store. */
  | { valid: true, expiresAt: Date, touch: boolean }

/** Is a session still valid at `now`, and does its use slide (and write) its idle expiry? */
export function evaluateExpiry (
  session: { lastSeenAt: Date, expiresAt: Date, absoluteExpiresAt: Date },
  now: Date,
  policy: ExpiryPolicy
): ExpiryVerdict {
  const t = now.getTime()
  if (t >= session.absoluteExpiresAt.getTime()) return { valid: false, reason: 'session reached its maximum lifetime' }
  if (t >= session.expiresAt.getTime()) return { valid: false, reason: 'session expired after inactivity' }
  if (t - session.lastSeenAt.getTime() < policy.touchIntervalMs) {
    return { valid: true, expiresAt: session.expiresAt, touch: false }
  }
  const slid = Math.min(t + policy.idleTtlMs, session.absoluteExpiresAt.getTime())
  return { valid: true, expiresAt: new Date(slid), touch: true }
}
