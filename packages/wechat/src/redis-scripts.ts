import { createHash } from 'node:crypto'
import type { Redis } from 'ioredis'

// Lua scripts of the Redis token provider. Each runs atomically inside Redis, which is what makes
// "delete only if it is still mine" safe between processes.

export interface RedisScript {
  readonly source: string
  readonly sha: string
}

function script (source: string): RedisScript {
  return { source, sha: createHash('sha1').update(source).digest('hex') }
}

/** KEYS[1] lock, ARGV[1] owner: release the lock only if we still hold it. */
export const RELEASE_LOCK = script(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`)

/** KEYS[1] token key, ARGV[1] failed token: delete only if the stored token is that one. */
export const INVALIDATE_TOKEN = script(`
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local ok, stored = pcall(cjson.decode, raw)
if ok and type(stored) == 'table' and stored.token == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`)

/**
 * KEYS[1] token key, KEYS[2] lock, ARGV[1] owner, ARGV[2] value, ARGV[3] ttl ms. As the lock owner:
 * store and release (1). If our lock expired meanwhile, another process may be fetching: only fill an
 * empty slot (2) and let the current holder's token win, otherwise store nothing (0).
 */
export const COMMIT_TOKEN = script(`
if redis.call('GET', KEYS[2]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  redis.call('DEL', KEYS[2])
  return 1
end
if redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3], 'NX') then return 2 end
return 0`)

/** EVALSHA, loading the script with EVAL when the server does not know it yet (restart, failover). */
export async function runScript (redis: Redis, { source, sha }: RedisScript, keys: string[], args: Array<string | number>): Promise<unknown> {
  try {
    return await redis.evalsha(sha, keys.length, ...keys, ...args)
  } catch (err) {
    if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err
    return await redis.eval(source, keys.length, ...keys, ...args)
  }
}
