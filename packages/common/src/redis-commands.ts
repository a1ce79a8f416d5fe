import type { Cluster, Redis } from 'ioredis'

// Lua scripts as ioredis script commands (defineCommand): ioredis sends the script once per connection,
// then its SHA1 (EVALSHA), and sends it again by itself when the server answers NOSCRIPT (a restart, a
// failover, SCRIPT FLUSH), in pipelines and auto-pipelining too. A script touches only the keys it is
// given in KEYS: Redis Cluster routes a script by them and refuses one that reaches any other key.

export type RedisScriptClient = Redis | Cluster
/** What a script takes after its keys (ARGV). */
export type RedisScriptArg = string | number

export interface RedisScript<Result = unknown> {
  /** The command's name on the client: one name per script among every module sharing a client. */
  readonly name: string
  /** How many KEYS every call passes. */
  readonly numberOfKeys: number
  readonly lua: string
  /** Type only, never set: what the script returns as ioredis decodes it (Lua false and nil: null). */
  readonly result?: Result
}

/** A script whose reply is typed `Result`; the type is the script's contract, checked by its tests. */
export function redisScript<Result = unknown> (definition: { name: string, numberOfKeys: number, lua: string }): RedisScript<Result> {
  return Object.freeze({ ...definition })
}

export type RedisScriptCaller<Result> = (keys: readonly string[], args?: readonly RedisScriptArg[]) => Promise<Result>

export type RedisScriptCallers<S extends Record<string, RedisScript<unknown>>> = {
  readonly [K in keyof S]: RedisScriptCaller<S[K] extends RedisScript<infer R> ? R : never>
}

type ScriptCommand = (this: RedisScriptClient, ...args: RedisScriptArg[]) => Promise<unknown>

/** The scripts defined on each client by name (their Lua), so a second definition reuses the first. */
const definedScripts = new WeakMap<RedisScriptClient, Map<string, string>>()

/**
 * Defines `scripts` on `client` (once: the same client may be shared by several modules) and returns a
 * caller per script. A name ioredis already uses, or another script's name, is refused: it would replace
 * that command for every user of the client. A `duplicate()` of the client has none of them.
 */
export function defineRedisScripts<S extends Record<string, RedisScript<unknown>>> (client: RedisScriptClient, scripts: S): RedisScriptCallers<S> {
  let defined = definedScripts.get(client)
  if (defined === undefined) {
    defined = new Map()
    definedScripts.set(client, defined)
  }
  const callers: Record<string, RedisScriptCaller<unknown>> = {}
  for (const [key, script] of Object.entries(scripts)) {
    const lua = defined.get(script.name)
    if (lua === undefined) {
      if (script.name in client) throw new Error(`Redis script ${script.name}: the client already has a command of that name`)
      client.defineCommand(script.name, { numberOfKeys: script.numberOfKeys, lua: script.lua })
      defined.set(script.name, script.lua)
    } else if (lua !== script.lua) {
      throw new Error(`Redis script ${script.name}: another script of that name is defined on this client`)
    }
    const command = (client as unknown as Record<string, ScriptCommand>)[script.name]!
    callers[key] = async (keys, args = []) => {
      // A wrong count would silently shift keys into ARGV (or ARGV into keys).
      if (keys.length !== script.numberOfKeys) throw new TypeError(`Redis script ${script.name} takes ${script.numberOfKeys} keys, got ${keys.length}`)
      return await command.call(client, ...keys, ...args)
    }
  }
  return callers as RedisScriptCallers<S>
}
