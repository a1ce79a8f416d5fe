import type { FastifyBaseLogger } from 'fastify'
import type { RedisScriptClient } from '../redis-commands.js'
import { TtlLru } from './ttl-lru.js'
import { incrWindow } from './window-script.js'

export const AUTH_FAILURE_KEY_PREFIX = 'weapp:gateway:authfail:'
/** Distinct client addresses remembered (oldest forgotten first). */
export const AUTH_FAILURE_MAX_KEYS = 100_000
/** Retry-After when an address is refused only for lookups still under way (no window yet). */
const BUSY_RETRY_MS = 1_000

interface Window {
  failures: number
  resetAt: number
}

export interface AuthFailureLimiterOptions {
  /** Failed lookups allowed per address per window. */
  max: number
  windowMs: number
  /** Shared counters (every gateway and realtime-ws instance counts together); null: this process only. */
  redis: RedisScriptClient | null
  log: FastifyBaseLogger
}

/**
 * Bounds the session-service lookups one client address can cause with credentials that turn out
 * bad: at most `max` failed lookups per window, counting the lookups under way as if they would fail
 * (a burst of concurrent bogus credentials is bounded too; a good one gives its place back when it
 * resolves). Only lookups count: malformed credentials and remembered refusals cost nothing and do
 * not use up the budget of the real users behind a shared address.
 *
 * With Redis, each failure is counted there (INCR) and the shared count and window are kept locally,
 * so the check before a lookup is a map read: an instance learns an address's shared count at its
 * first failure from that address. When Redis fails, failures are counted in this process only.
 */
export class AuthFailureLimiter {
  readonly #o: AuthFailureLimiterOptions
  readonly #windows = new TtlLru<Window>(AUTH_FAILURE_MAX_KEYS)
  readonly #pending = new Map<string, number>()

  constructor (options: AuthFailureLimiterOptions) {
    this.#o = options
  }

  /**
   * Before a lookup for `address`: 0 when it may go ahead (it is then counted as under way until
   * settle()), else how many ms until the address may try again.
   */
  admit (address: string): number {
    const now = Date.now()
    const window = this.#windows.get(address, now)
    const pending = this.#pending.get(address) ?? 0
    if ((window?.failures ?? 0) + pending >= this.#o.max) return window === undefined ? BUSY_RETRY_MS : Math.max(1, window.resetAt - now)
    this.#pending.set(address, pending + 1)
    return 0
  }

  /**
   * After an admitted lookup: `failed` when the session service refused the credential. A failure
   * resolves once Redis has counted it (at once without Redis), so the refusal goes out after this
   * instance knows the shared count: the client's next attempt is judged by it.
   */
  async settle (address: string, failed: boolean): Promise<void> {
    const pending = (this.#pending.get(address) ?? 1) - 1
    if (pending > 0) this.#pending.set(address, pending)
    else this.#pending.delete(address)
    if (!failed) return
    const now = Date.now()
    let window = this.#windows.get(address, now)
    if (window === undefined) {
      window = { failures: 0, resetAt: now + this.#o.windowMs }
      this.#windows.set(address, window, window.resetAt)
    }
    window.failures++
    const redis = this.#o.redis
    if (redis === null) return
    await incrWindow(redis, AUTH_FAILURE_KEY_PREFIX + address, this.#o.windowMs).then(([shared, ttl]) => {
      // The shared count and window replace this process's view (never lowering what it counted itself).
      const at = Date.now()
      const failures = Math.max(shared, this.#windows.get(address, at)?.failures ?? 0)
      this.#windows.set(address, { failures, resetAt: at + ttl }, at + ttl)
    }, (err: Error) => {
      this.#o.log.debug({ err: { message: err.message } }, 'auth failure count not shared (Redis); counted in this process')
    })
  }
}
