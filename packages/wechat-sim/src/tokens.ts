import { FORCE_REFRESH_PER_DAY, FORCE_REFRESH_SPACING_MS, STABLE_ROLLOVER_MS, TOKEN_GRACE_MS } from './defaults.js'
import { accessTokenString } from './random-ids.js'

interface TokenRecord {
  appId: string
  expiresAt: number
  /** Set when the token was superseded: it stops working at this instant (maybe before expiresAt). */
  invalidFrom?: number
}

interface StableSlot {
  current?: string
  /** Beijing calendar day the force counter belongs to: WeChat quotas reset at midnight UTC+8. */
  forcedDay: number
  forcedCount: number
  lastForcedAt?: number
}

export interface IssuedToken {
  access_token: string
  expires_in: number
}

export type TokenCheck = { ok: true, appId: string } | { ok: false, errcode: 40001 | 40014 | 42001 }

// Anything that could be one of our tokens is "not latest" (40001); obvious garbage is "invalid" (40014).
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{64,512}$/
const DAY_MS = 86_400_000
const BEIJING_OFFSET_MS = 8 * 3_600_000

/**
 * access_tokens from /cgi-bin/token (classic) and /cgi-bin/stable_token: two independent lines per app
 * sharing one record table, so either kind works on every API (docs/wechat/api.md#access-tokens).
 */
export class TokenStore {
  readonly #ttlMs: number
  readonly #rolloverMs: number
  readonly #records = new Map<string, TokenRecord>()
  readonly #classic = new Map<string, string>()
  readonly #stable = new Map<string, StableSlot>()
  #issuedSinceSweep = 0

  constructor (ttlSec: number) {
    this.#ttlMs = ttlSec * 1000
    // With a test-sized TTL the 5-minute roll-over would renew on every call; keep half the life instead.
    this.#rolloverMs = Math.min(STABLE_ROLLOVER_MS, this.#ttlMs / 2)
  }

  /** Every call issues a new token; the previous one keeps working for the grace period. */
  issueClassic (appId: string, now: number): IssuedToken {
    const previous = this.#classic.get(appId)
    if (previous !== undefined) this.#retire(previous, now + TOKEN_GRACE_MS)
    const token = this.#issue(appId, now)
    this.#classic.set(appId, token)
    return { access_token: token, expires_in: this.#ttlMs / 1000 }
  }

  /**
   * Normal mode: the same token while it has more than the roll-over margin left, then a new one (the
   * old one still works until it expires). Force mode: a new token and the old one dies at once, unless
   * the daily count or the 30 s spacing forbids it, in which case it behaves like normal mode.
   */
  stable (appId: string, forceRefresh: boolean, now: number): IssuedToken {
    let slot = this.#stable.get(appId)
    if (slot === undefined) {
      slot = { forcedDay: beijingDay(now), forcedCount: 0 }
      this.#stable.set(appId, slot)
    }
    if (forceRefresh) {
      const day = beijingDay(now)
      if (slot.forcedDay !== day) {
        slot.forcedDay = day
        slot.forcedCount = 0
      }
      const spaced = slot.lastForcedAt === undefined || now - slot.lastForcedAt >= FORCE_REFRESH_SPACING_MS
      if (spaced && slot.forcedCount < FORCE_REFRESH_PER_DAY) {
        slot.forcedCount++
        slot.lastForcedAt = now
        if (slot.current !== undefined) this.#retire(slot.current, now)
        slot.current = this.#issue(appId, now)
        return { access_token: slot.current, expires_in: this.#ttlMs / 1000 }
      }
    }
    const record = slot.current === undefined ? undefined : this.#records.get(slot.current)
    if (slot.current !== undefined && record !== undefined && record.invalidFrom === undefined && record.expiresAt - now > this.#rolloverMs) {
      return { access_token: slot.current, expires_in: Math.floor((record.expiresAt - now) / 1000) }
    }
    slot.current = this.#issue(appId, now)
    return { access_token: slot.current, expires_in: this.#ttlMs / 1000 }
  }

  check (token: string, now: number): TokenCheck {
    const record = this.#records.get(token)
    if (record === undefined) return { ok: false, errcode: TOKEN_SHAPE.test(token) ? 40001 : 40014 }
    // "Not latest" wins over "expired": a superseded token is reported the way WeChat reports it.
    if (record.invalidFrom !== undefined && now >= record.invalidFrom) return { ok: false, errcode: 40001 }
    if (now >= record.expiresAt) return { ok: false, errcode: 42001 }
    return { ok: true, appId: record.appId }
  }

  clear (): void {
    this.#records.clear()
    this.#classic.clear()
    this.#stable.clear()
  }

  #issue (appId: string, now: number): string {
    if (++this.#issuedSinceSweep >= 1000) this.#sweep(now)
    const token = accessTokenString()
    this.#records.set(token, { appId, expiresAt: now + this.#ttlMs })
    return token
  }

  #retire (token: string, at: number): void {
    const record = this.#records.get(token)
    if (record !== undefined) record.invalidFrom = Math.min(record.invalidFrom ?? Infinity, at)
  }

  /** Forget tokens dead for a day; after that they answer 40001 like any unknown token. */
  #sweep (now: number): void {
    this.#issuedSinceSweep = 0
    for (const [token, r] of this.#records) {
      if (now - Math.min(r.expiresAt, r.invalidFrom ?? Infinity) > DAY_MS) this.#records.delete(token)
    }
  }
}

function beijingDay (now: number): number {
  return Math.floor((now + BEIJING_OFFSET_MS) / DAY_MS)
}
