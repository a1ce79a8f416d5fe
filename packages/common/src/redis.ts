import { Redis, type RedisOptions } from 'ioredis'
import { pino } from 'pino'
import { loggerOptions } from './logger.js'

/**
 * How long a command may wait for its answer (queued while reconnecting included) before it fails with
 * "Command timed out": a Redis that stops answering must not hold requests for ever. Blocking reads
 * (XREADGROUP BLOCK) must block for less, or pass a longer `commandTimeout`.
 */
export const DEFAULT_REDIS_COMMAND_TIMEOUT_MS = 2_000

/** Where a client's state changes are logged: a Fastify/pino logger fits. */
export interface RedisStateLog {
  info (obj: object, msg: string): void
  warn (obj: object, msg: string): void
}

export interface RedisWatchOptions {
  /** Names the client in its log lines (`rate limit`, `bus subscriber`…). Default `redis`. */
  name?: string
  /** Default: a pino logger of its own (service `redis`, LOG_LEVEL or info). */
  log?: RedisStateLog
}

/** `up`: connected and ready for commands; `down`: connecting, reconnecting or closed. */
export type RedisState = 'up' | 'down'

let fallbackLog: RedisStateLog | undefined
function defaultLog (): RedisStateLog {
  fallbackLog ??= pino(loggerOptions('redis', process.env.LOG_LEVEL ?? 'info'))
  return fallbackLog
}

/**
 * Logs a client's availability once per change: the first error of an outage (ioredis emits one per
 * reconnect attempt) and the first `ready` after it. The listener also keeps ioredis from printing
 * "[ioredis] Unhandled error event" with a stack trace on every attempt. Error messages carry the
 * address, never the URL's password.
 */
function watchRedis (redis: Redis, { name = 'redis', log = defaultLog() }: RedisWatchOptions): void {
  let down = false
  redis.on('error', (err: Error & { code?: string }) => {
    if (down) return
    down = true
    log.warn({ redis: name, err: { message: err.message, code: err.code } }, `redis (${name}) unreachable; reconnecting`)
  })
  redis.on('ready', () => {
    if (!down) return
    down = false
    log.info({ redis: name }, `redis (${name}) reachable again`)
  })
}

/**
 * A Redis client with the settings every service wants: auto-pipelining (concurrent commands share
 * round trips), bounded reconnect back-off, a command timeout (DEFAULT_REDIS_COMMAND_TIMEOUT_MS), and
 * an error listener that logs once per state change. `options` override the settings. The caller owns
 * the client and must quit() it on close.
 */
export function createRedis (url: string, options: RedisOptions = {}, watch: RedisWatchOptions = {}): Redis {
  const redis = new Redis(url, {
    enableAutoPipelining: true,
    maxRetriesPerRequest: 3,
    retryStrategy: (times) => Math.min(times * 100, 2000),
    commandTimeout: DEFAULT_REDIS_COMMAND_TIMEOUT_MS,
    ...options
  })
  watchRedis(redis, watch)
  return redis
}

/** Whether a client can take commands now. */
export function redisState (redis: Redis): RedisState {
  return redis.status === 'ready' ? 'up' : 'down'
}
