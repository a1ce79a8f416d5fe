import { alnum } from './random-ids.js'

interface Entry<T> {
  appId: string
  data: T
  expiresAt: number
  used: boolean
}

const SWEEP_FLOOR = 10_000

export type CodeLookup<T> =
  | { ok: true, data: T }
  | { ok: false, reason: 'unknown' | 'expired' | 'used' }

/**
 * Single-use codes that expire (wx.login codes, phone-number codes). Used entries are kept until they
 * expire so a second use can be told apart from an unknown code (40163 vs 40029).
 */
export class CodeStore<T> {
  readonly #entries = new Map<string, Entry<T>>()
  // Sweep expired entries when the map doubles, not on every issue once it is large.
  #sweepAt = SWEEP_FLOOR

  issue (appId: string, data: T, ttlMs: number, now: number): string {
    if (this.#entries.size >= this.#sweepAt) {
      this.#sweep(now)
      this.#sweepAt = Math.max(SWEEP_FLOOR, this.#entries.size * 2)
    }
    let code = alnum(32)
    while (this.#entries.has(code)) code = alnum(32)
    this.#entries.set(code, { appId, data, expiresAt: now + ttlMs, used: false })
    return code
  }

  /** Looks without consuming, so a call refused for another reason (quota, openid) leaves the code usable. */
  peek (code: string, appId: string, now: number): CodeLookup<T> {
    const e = this.#entries.get(code)
    // A code issued to another app is, to this app, simply not a code.
    if (e === undefined || e.appId !== appId) return { ok: false, reason: 'unknown' }
    if (now >= e.expiresAt) return { ok: false, reason: 'expired' }
    if (e.used) return { ok: false, reason: 'used' }
    return { ok: true, data: e.data }
  }

  consume (code: string): void {
    const e = this.#entries.get(code)
    if (e !== undefined) e.used = true
  }

  clear (): void {
    this.#entries.clear()
  }

  #sweep (now: number): void {
    for (const [code, e] of this.#entries) if (now >= e.expiresAt) this.#entries.delete(code)
  }
}
