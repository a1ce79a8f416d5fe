import { Redis, type RedisOptions } from 'ioredis'

/**
 * A Redis client with the settings every service wants: auto-pipelining (concurrent commands share
 * round trips) and bounded reconnect back-off. The caller owns it and must quit() it on close.
 */
export function createRedis (url: string, options: RedisOptions = {}): Redis {
  return new Redis(url, {
    enableAutoPipelining: true,
    maxRetriesPerRequest: 3,
    retryStrategy: (times) => Math.min(times * 100, 2000),
    ...options
  })
}
