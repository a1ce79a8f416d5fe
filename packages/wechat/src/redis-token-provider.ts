import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Cluster, Redis } from 'ioredis'
import { ClosedError, OptionsInvalidError, TokenWaitTimeoutError } from './errors.js'
import { functionOption, intOption, requireObject, requireString } from './options.js'
import { tokenScripts, type TokenScripts } from './redis-scripts.js'
import {
  cacheFetched, DEFAULT_REFRESH_AHEAD_MS, runWithToken,
  type AccessTokenProvider, type CachedToken, type FetchAccessToken
} from './token-provider.js'

export const DEFAULT_LOCK_TTL_MS = 10_000
export const DEFAULT_WAIT_TIMEOUT_MS = 10_000
export const DEFAULT_POLL_INTERVAL_MS = 50
// After a refresh-ahead attempt found the lock taken, leave the refresh to its holder for this long.
const AHEAD_RETRY_MS = 1_000

export interface RedisAccessTokenProviderOptions {
  /** Handed in, so never closed here. */
  redis: Redis | Cluster
  appId: string
  fetch: FetchAccessToken
  /** Refresh this long before expiry; callers keep getting the current token meanwhile. */
  refreshAheadMs?: number
  /** Lifetime of the refresh lock: longer than the worst-case fetch (timeout × attempts), or two processes may fetch. */
  lockTtlMs?: number
  /** How long a caller waits for another process's refresh before giving up. */
  waitTimeoutMs?: number
  /** Sleep between looks at Redis while another process refreshes. */
  pollIntervalMs?: number
  /** Clock in ms (tests). Redis expiry itself still follows Redis's clock. */
  now?: () => number
  /** Errors of background refreshes (the next caller simply tries again). */
  onRefreshError?: (err: unknown) => void
}

/**
 * The token shared by every process of an app: JSON `{ token, expiresAt, refreshAt }` at
 * `wx:token:{<appid>}` (PX = remaining lifetime). One process fetches at a time, under the lock
 * `wx:token:{<appid>}:lock` (SET NX PX, random owner, compare-and-delete release); the others poll
 * until the new token lands or the lock expires. Within a process, concurrent callers share one
 * read and one refresh.
 */
export class RedisAccessTokenProvider implements AccessTokenProvider {
  readonly key: string
  readonly lockKey: string
  readonly #redis: Redis | Cluster
  readonly #scripts: TokenScripts
  readonly #fetch: FetchAccessToken
  readonly #refreshAheadMs: number
  readonly #lockTtlMs: number
  readonly #waitTimeoutMs: number
  readonly #pollIntervalMs: number
  readonly #now: () => number
  readonly #onRefreshError: (err: unknown) => void
  readonly #closing = new AbortController()
  #reading: Promise<CachedToken | null> | null = null
  #inflight: Promise<string> | null = null
  #background: Promise<void> | null = null
  #aheadNotBefore = 0

  constructor (options: RedisAccessTokenProviderOptions) {
    requireObject('options', options)
    const redis = options.redis as Partial<Redis | Cluster> | undefined
    if (typeof redis?.get !== 'function' || typeof redis.set !== 'function' || typeof redis.defineCommand !== 'function') {
      throw new OptionsInvalidError('redis must be an ioredis client')
    }
    this.#redis = options.redis
    const appId = requireString('appId', options.appId)
    // The app id is the hash tag: the token and its lock share a Redis Cluster slot, as the store script
    // (which touches both) requires there.
    this.key = `wx:token:{${appId}}`
    this.lockKey = `${this.key}:lock`
    this.#fetch = functionOption('fetch', options.fetch)
    this.#refreshAheadMs = intOption('refreshAheadMs', options.refreshAheadMs, DEFAULT_REFRESH_AHEAD_MS, 0)
    this.#lockTtlMs = intOption('lockTtlMs', options.lockTtlMs, DEFAULT_LOCK_TTL_MS, 1)
    this.#waitTimeoutMs = intOption('waitTimeoutMs', options.waitTimeoutMs, DEFAULT_WAIT_TIMEOUT_MS, 0)
    this.#pollIntervalMs = intOption('pollIntervalMs', options.pollIntervalMs, DEFAULT_POLL_INTERVAL_MS, 1)
    this.#now = functionOption('now', options.now, Date.now)
    this.#onRefreshError = functionOption('onRefreshError', options.onRefreshError, () => {})
    this.#scripts = tokenScripts(options.redis)
  }

  async getToken (): Promise<string> {
    this.#assertOpen()
    const cached = await this.#readShared()
    const now = this.#now()
    if (cached !== null && now < cached.expiresAt) {
      if (now >= cached.refreshAt) this.#refreshAhead()
      return cached.token
    }
    return await this.#refreshCold()
  }

  async invalidate (token: string): Promise<void> {
    this.#assertOpen()
    // A read that started before this call may still return the failed token: do not share it.
    this.#reading = null
    await this.#scripts.invalidate(this.key, token)
  }

  async withToken<T> (fn: (token: string) => Promise<T>): Promise<T> {
    return await runWithToken(this, fn)
  }

  /** Stops waiting and lets running refreshes finish; the Redis client belongs to the caller. */
  async close (): Promise<void> {
    if (this.#closing.signal.aborted) return
    this.#closing.abort()
    await Promise.allSettled([this.#inflight, this.#background])
  }

  #assertOpen (): void {
    if (this.#closing.signal.aborted) throw new ClosedError('RedisAccessTokenProvider')
  }

  #readShared (): Promise<CachedToken | null> {
    if (this.#reading === null) {
      const reading = this.#read()
      this.#reading = reading
      const clear = (): void => { if (this.#reading === reading) this.#reading = null }
      reading.then(clear, clear)
    }
    return this.#reading
  }

  async #read (): Promise<CachedToken | null> {
    const raw = await this.#redis.get(this.key)
    if (raw === null) return null
    try {
      const stored = JSON.parse(raw) as Partial<CachedToken>
      if (typeof stored.token !== 'string' || stored.token === '' || typeof stored.expiresAt !== 'number') return null
      // Written by someone who knows only { token, expiresAt }: apply our own refresh-ahead window.
      const refreshAt = typeof stored.refreshAt === 'number' ? stored.refreshAt : stored.expiresAt - this.#refreshAheadMs
      return { token: stored.token, expiresAt: stored.expiresAt, refreshAt }
    } catch {
      return null // unreadable: treated as absent, the next refresh overwrites it
    }
  }

  // No usable token: callers wait for one. One refresh per process; one fetch across processes.
  #refreshCold (): Promise<string> {
    if (this.#inflight === null) {
      const flight = this.#acquireOrWait()
      this.#inflight = flight
      const clear = (): void => { if (this.#inflight === flight) this.#inflight = null }
      flight.then(clear, clear)
    }
    return this.#inflight
  }

  async #acquireOrWait (): Promise<string> {
    const deadline = this.#now() + this.#waitTimeoutMs
    for (;;) {
      this.#assertOpen()
      const owner = await this.#lock()
      if (owner !== null) {
        const token = await this.#fetchUnderLock(owner, (cached, now) => now < cached.expiresAt)
        return token
      }
      // Another process holds the lock: wait for its token, or for its lock to expire if it died.
      await this.#pause()
      const cached = await this.#read()
      if (cached !== null && this.#now() < cached.expiresAt) return cached.token
      if (this.#now() >= deadline) throw new TokenWaitTimeoutError(`no token for ${this.key} after ${this.#waitTimeoutMs} ms`)
    }
  }

  // The token is still valid but due: callers keep using it while at most one process refreshes.
  #refreshAhead (): void {
    if (this.#background !== null || this.#inflight !== null || this.#now() < this.#aheadNotBefore) return
    const run = async (): Promise<void> => {
      const owner = await this.#lock()
      if (owner === null) {
        this.#aheadNotBefore = this.#now() + AHEAD_RETRY_MS
        return
      }
      await this.#fetchUnderLock(owner, (cached, now) => now < cached.refreshAt)
    }
    const background = run().catch((err: unknown) => {
      this.#aheadNotBefore = this.#now() + AHEAD_RETRY_MS
      this.#onRefreshError(err)
    })
    this.#background = background
    background.finally(() => { if (this.#background === background) this.#background = null }).catch(() => {})
  }

  /** SET NX PX with a random owner; returns the owner when the lock is ours. */
  async #lock (): Promise<string | null> {
    const owner = randomBytes(16).toString('hex')
    const ok = await this.#redis.set(this.lockKey, owner, 'PX', this.#lockTtlMs, 'NX')
    return ok === 'OK' ? owner : null
  }

  /** Holding the lock: re-check (a refresh may have landed just before we locked), else fetch and store. */
  async #fetchUnderLock (owner: string, goodEnough: (cached: CachedToken, now: number) => boolean): Promise<string> {
    let committed = false
    try {
      const existing = await this.#read()
      if (existing !== null && goodEnough(existing, this.#now())) return existing.token
      const fetched = cacheFetched(await this.#fetch(), this.#now(), this.#refreshAheadMs)
      const ttlMs = Math.max(1, fetched.expiresAt - this.#now())
      const stored = await this.#scripts.commit(this.key, this.lockKey, owner, JSON.stringify(fetched), ttlMs)
      committed = stored === 1
      // Whether or not Redis kept it, this token is valid: WeChat keeps old and new ones working for a while.
      return fetched.token
    } finally {
      if (!committed) await this.#scripts.releaseLock(this.lockKey, owner).catch(() => {})
    }
  }

  async #pause (): Promise<void> {
    const ms = Math.round(this.#pollIntervalMs * (0.5 + Math.random()))
    try {
      await sleep(ms, undefined, { signal: this.#closing.signal })
    } catch {
      throw new ClosedError('RedisAccessTokenProvider')
    }
  }
}
