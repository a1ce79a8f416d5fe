import type { Cluster, Redis } from 'ioredis'

// Lua scripts of the Redis token provider, as ioredis script commands (defineCommand): ioredis sends
// EVALSHA, and the script itself when the server does not know it (restart, failover, SCRIPT FLUSH). Each
// runs atomically inside Redis, which is what makes "delete only if it is still mine" safe between
// processes; each touches only the keys it is given (KEYS), as Redis Cluster requires. Defined here with
// ioredis directly, not with @weapp/common's defineRedisScripts: @weapp/common depends on this package.

const SCRIPTS = {
  /** KEYS[1] lock, ARGV[1] owner: release the lock only if we still hold it. */
  wxTokenReleaseLock: {
    numberOfKeys: 1,
    lua: `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`
  },
  /** KEYS[1] token key, ARGV[1] failed token: delete only if the stored token is that one. */
  wxTokenInvalidate: {
    numberOfKeys: 1,
    lua: `
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local ok, stored = pcall(cjson.decode, raw)
if ok and type(stored) == 'table' and stored.token == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`
  },
  /**
   * KEYS[1] token key, KEYS[2] lock, ARGV[1] owner, ARGV[2] value, ARGV[3] ttl ms. As the lock owner:
   * store and release (1). If our lock expired meanwhile, another process may be fetching: only fill an
   * empty slot (2) and let the current holder's token win, otherwise store nothing (0).
   */
  wxTokenCommit: {
    numberOfKeys: 2,
    lua: `
if redis.call('GET', KEYS[2]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  redis.call('DEL', KEYS[2])
  return 1
end
if redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3], 'NX') then return 2 end
return 0`
  }
} as const

export interface TokenScripts {
  /** 1 when the lock was still `owner`'s and is deleted, else 0. */
  releaseLock (lockKey: string, owner: string): Promise<number>
  /** 1 when the stored token was `token` and is deleted, else 0. */
  invalidate (tokenKey: string, token: string): Promise<number>
  /** 1 stored as the lock owner, 2 stored into an empty slot, 0 not stored (see wxTokenCommit). */
  commit (tokenKey: string, lockKey: string, owner: string, value: string, ttlMs: number): Promise<0 | 1 | 2>
}

type ScriptCommand = (this: Redis | Cluster, ...args: Array<string | number>) => Promise<unknown>

/** The token scripts on `redis`, defined once per client (providers of several apps may share it). */
export function tokenScripts (redis: Redis | Cluster): TokenScripts {
  const commands = redis as unknown as Record<string, ScriptCommand | undefined>
  for (const [name, { numberOfKeys, lua }] of Object.entries(SCRIPTS)) {
    if (commands[name] === undefined) redis.defineCommand(name, { numberOfKeys, lua })
  }
  const run = async (name: keyof typeof SCRIPTS, ...args: Array<string | number>): Promise<unknown> => await commands[name]!.call(redis, ...args)
  return {
    releaseLock: async (lockKey, owner) => await run('wxTokenReleaseLock', lockKey, owner) as number,
    invalidate: async (tokenKey, token) => await run('wxTokenInvalidate', tokenKey, token) as number,
    commit: async (tokenKey, lockKey, owner, value, ttlMs) => await run('wxTokenCommit', tokenKey, lockKey, owner, value, ttlMs) as 0 | 1 | 2
  }
}
