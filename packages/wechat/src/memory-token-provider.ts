import { ClosedError } from './errors.js'
import { functionOption, intOption, requireObject } from './options.js'
import {
  cacheFetched, DEFAULT_REFRESH_AHEAD_MS, runWithToken,
  type AccessTokenProvider, type CachedToken, type FetchAccessToken
} from './token-provider.js'

export interface MemoryAccessTokenProviderOptions {
  fetch: FetchAccessToken
  /** Refresh this long before expiry; callers keep getting the current token meanwhile. */
  refreshAheadMs?: number
  /** Clock in ms (tests). */
  now?: () => number
  /** Errors of background refreshes (the next caller simply tries again). */
  onRefreshError?: (err: unknown) => void
}

/** An in-process token cache: right for a single instance; use RedisAccessTokenProvider when there are several. */
export class MemoryAccessTokenProvider implements AccessTokenProvider {
  readonly #fetch: FetchAccessToken
  readonly #refreshAheadMs: number
  readonly #now: () => number
  readonly #onRefreshError: (err: unknown) => void
  #current: CachedToken | null = null
  #inflight: Promise<string> | null = null
  #closed = false

  constructor (options: MemoryAccessTokenProviderOptions) {
    requireObject('options', options)
    this.#fetch = functionOption('fetch', options.fetch)
    this.#refreshAheadMs = intOption('refreshAheadMs', options.refreshAheadMs, DEFAULT_REFRESH_AHEAD_MS, 0)
    this.#now = functionOption('now', options.now, Date.now)
    this.#onRefreshError = functionOption('onRefreshError', options.onRefreshError, () => {})
  }

  async getToken (): Promise<string> {
    if (this.#closed) throw new ClosedError('MemoryAccessTokenProvider')
    const current = this.#current
    const now = this.#now()
    if (current !== null && now < current.expiresAt) {
      if (now >= current.refreshAt && this.#inflight === null) this.#refresh().catch(this.#onRefreshError)
      return current.token
    }
    return await this.#refresh()
  }

  async invalidate (token: string): Promise<void> {
    if (this.#current?.token === token) this.#current = null
  }

  async withToken<T> (fn: (token: string) => Promise<T>): Promise<T> {
    return await runWithToken(this, fn)
  }

  async close (): Promise<void> {
    this.#closed = true
    await this.#inflight?.catch(() => {})
  }

  // Single flight: every caller that arrives while a fetch runs shares it.
  #refresh (): Promise<string> {
    if (this.#inflight !== null) return this.#inflight
    const flight = (async () => {
      const fetched = await this.#fetch()
      this.#current = cacheFetched(fetched, this.#now(), this.#refreshAheadMs)
      return this.#current.token
    })()
    this.#inflight = flight
    flight.then(() => { this.#inflight = null }, () => { this.#inflight = null })
    return flight
  }
}
