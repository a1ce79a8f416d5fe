import rateLimit from '@fastify/rate-limit'
import type { FastifyBaseLogger, FastifyContextConfig, FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { TtlLru, incrWindow, type RedisClient } from '@weapp/common'
import { RateLimitedError } from '../errors.js'

export const LOGIN_RATE_LIMIT_KEY_PREFIX = 'weapp:gateway:login:'
/** Distinct client addresses the in-memory store remembers (oldest forgotten first). */
export const MEMORY_STORE_MAX_KEYS = 100_000

type IncrCallback = (error: Error | null, result?: { current: number, ttl: number }) => void

interface LoginStore {
  incr (key: string, callback: IncrCallback, timeWindow: number, max: number): void
  child (): LoginStore
}

/**
 * One budget per client address shared by every login route (@fastify/rate-limit's own stores keep
 * one per route, which would give a client three budgets for the three login protocols). Redis when
 * configured, so every gateway instance counts together; memory otherwise.
 */
function loginStore (redis: RedisClient | null, log: FastifyBaseLogger): new () => LoginStore {
  if (redis !== null) {
    return class RedisLoginStore implements LoginStore {
      incr (key: string, callback: IncrCallback, timeWindow: number): void {
        incrWindow(redis, LOGIN_RATE_LIMIT_KEY_PREFIX + key, timeWindow).then(([current, ttl]) => {
          callback(null, { current, ttl })
        }, (err: Error) => {
          log.warn({ err }, 'login rate limit store failed; request let through')
          callback(err)
        })
      }

      child (): LoginStore { return this }
    }
  }
  const windows = new TtlLru<{ current: number, resetAt: number }>(MEMORY_STORE_MAX_KEYS)
  return class MemoryLoginStore implements LoginStore {
    incr (key: string, callback: IncrCallback, timeWindow: number): void {
      const now = Date.now()
      let window = windows.get(key, now)
      if (window === undefined) {
        window = { current: 0, resetAt: now + timeWindow }
        windows.set(key, window, window.resetAt)
      }
      window.current++
      callback(null, { current: window.current, ttl: window.resetAt - now })
    }

    child (): LoginStore { return this }
  }
}

export interface LoginRateLimitOptions {
  /** Shared counters (every gateway instance counts together); null: this process only. */
  redis: RedisClient | null
  /** Requests per client address and window (LOGIN_RATE_LIMIT_MAX). */
  max: number
  /** LOGIN_RATE_LIMIT_WINDOW_MS. */
  windowMs: number
}

/** Route config of a route counted against the login budget (its max and window are the plugin's options). */
export const LOGIN_RATE_LIMITED: FastifyContextConfig = { rateLimit: {} }

/**
 * @fastify/rate-limit for the routes that opt in with LOGIN_RATE_LIMITED in their config (never
 * globally). Keys are the client IP as Fastify resolves it (X-Forwarded-For only from TRUST_PROXY
 * peers). When Redis fails the request is let through (logged): a Redis outage must not stop all
 * logins. Register it before the routes (it attaches itself to each as the route is added).
 */
async function loginRateLimit (app: FastifyInstance, { redis, max, windowMs }: LoginRateLimitOptions): Promise<void> {
  await app.register(rateLimit, {
    global: false,
    max,
    timeWindow: windowMs,
    store: loginStore(redis, app.log) as never,
    skipOnError: true,
    errorResponseBuilder: (_request, context) => new RateLimitedError(context.after)
  })
}

export default fp(loginRateLimit, { name: 'gateway-login-rate-limit', fastify: '5.x' })
