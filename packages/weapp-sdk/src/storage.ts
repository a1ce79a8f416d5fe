import type { WxApi } from './wx.js'

/** What is kept across launches: our session token, never WeChat's session_key (the server keeps that). */
export interface StoredSession {
  token: string
  /** ISO time the server gave at login; a token past it is not sent (the server would refuse it). */
  expiresAt: string
}

export const DEFAULT_STORAGE_KEY = 'weapp-sdk:session'

/** The token in wx storage (survives restarts of the mini-program), read and written synchronously. */
export class TokenStore {
  constructor (private readonly wx: WxApi, private readonly key: string = DEFAULT_STORAGE_KEY, private readonly now: () => number = Date.now) {}

  /** The stored session, or null when there is none, it is malformed, or it has expired. */
  get (): StoredSession | null {
    let value: unknown
    // getStorageSync answers '' for a missing key, and can throw when storage is unavailable.
    try { value = this.wx.getStorageSync(this.key) } catch { return null }
    if (typeof value !== 'object' || value === null) return null
    const { token, expiresAt } = value as Partial<StoredSession>
    if (typeof token !== 'string' || token === '' || typeof expiresAt !== 'string') return null
    const expires = Date.parse(expiresAt)
    if (Number.isNaN(expires) || expires <= this.now()) return null
    return { token, expiresAt }
  }

  set (session: StoredSession): void {
    try { this.wx.setStorageSync(this.key, { token: session.token, expiresAt: session.expiresAt }) } catch { /* storage full: the token still lives in memory */ }
  }

  clear (): void {
    try { this.wx.removeStorageSync(this.key) } catch { /* nothing stored */ }
  }
}
