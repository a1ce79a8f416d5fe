import type { Identity } from '@weapp/common'

/** Revoked session ids remembered at most this many at once (the oldest are forgotten first). */
export const REVOKED_MAX_ENTRIES = 100_000
/**
 * How long past a ticket's lifetime a revocation is remembered: covers a ticket or upgrade already on its
 * way when the logout happened (the gateway resolved the session just before it).
 */
export const REVOCATION_MARGIN_MS = 60_000

/**
 * Sessions this instance heard were revoked (`session.revoked`, `agent.sessions.ended` on the bus), kept
 * long enough to refuse a socket that was still opening, a ticket issued just before, or an upgrade the
 * gateway resolved just before the logout. Bounded in time and size; session ids are never reused, so forgetting is safe.
 */
export class RevokedSessions {
  readonly #until = new Map<string, number>()
  readonly #retainMs: number
  readonly #now: () => number
  readonly #max: number

  constructor (retainMs: number, now: () => number = Date.now, max = REVOKED_MAX_ENTRIES) {
    this.#retainMs = retainMs
    this.#now = now
    this.#max = max
  }

  get retainMs (): number { return this.#retainMs }
  get size (): number { return this.#until.size }

  add (sessionId: string): void {
    const now = this.#now()
    this.#until.delete(sessionId)
    this.#until.set(sessionId, now + this.#retainMs)
    // Insertion order is expiry order (one retention for all): drop from the front.
    for (const [id, until] of this.#until) {
      if (until > now && this.#until.size <= this.#max) break
      this.#until.delete(id)
    }
  }

  has (sessionId: string): boolean {
    const until = this.#until.get(sessionId)
    return until !== undefined && until > this.#now()
  }
}

/**
 * The absolute expiry (ms) the session service put in a user or agent identity; null when there is none
 * (admin keys, user identities from before the field existed); NaN when it is there but not a date.
 */
export function sessionExpiry (identity: Identity): number | null {
  if (identity.kind === 'admin' || identity.absoluteExpiresAt === undefined) return null
  return typeof identity.absoluteExpiresAt === 'string' ? Date.parse(identity.absoluteExpiresAt) : Number.NaN
}

/**
 * Why a user or agent (console) identity may no longer open anything (revoked, expired, malformed expiry),
 * or null. Admin keys have no session.
 */
export function sessionEndReason (identity: Identity, revoked: RevokedSessions, now: number): 'revoked' | 'expired' | 'malformed' | null {
  if (identity.kind === 'admin') return null
  if (revoked.has(identity.sessionId)) return 'revoked'
  const expiry = sessionExpiry(identity)
  if (expiry === null) return null
  if (Number.isNaN(expiry)) return 'malformed'
  return expiry <= now ? 'expired' : null
}
