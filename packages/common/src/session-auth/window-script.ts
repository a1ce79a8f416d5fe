import { defineRedisScripts, redisScript, type RedisScriptClient } from '../redis-commands.js'

/**
 * A fixed-window counter in Redis: INCR, start the window on the first hit, report what is left of it.
 * One round trip, atomic. Used by the gateway's login rate limit and the failed-authentication limit.
 * KEYS[1] the counter, ARGV[1] the window in ms; returns { count, ttl in ms }.
 */
export const INCR_WINDOW = redisScript<[count: number, ttlMs: number]>({
  name: 'gatewayIncrWindow',
  numberOfKeys: 1,
  lua: `
local current = redis.call('INCR', KEYS[1])
if current == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return { current, ttl }`
})

/** One hit on the counter `key` (a window of `windowMs`): the count in the window and the ms left of it. */
export async function incrWindow (redis: RedisScriptClient, key: string, windowMs: number): Promise<[count: number, ttlMs: number]> {
  // Defined on the first call per client; later calls find it defined (both limits share the client).
  return await defineRedisScripts(redis, { incrWindow: INCR_WINDOW }).incrWindow([key], [windowMs])
}
