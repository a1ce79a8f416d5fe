import { defineRedisScripts, redisScript, type RedisClient, type RedisScriptCallers } from '@weapp/common'

/**
 * WeChat's customer-service send windows (docs/wechat/limits.md#send-windows): a user's message opens 5 messages / 48 h,
 * entering the session opens 2 messages / 1 minute. Quotas do not add up: each qualifying user action
 * resets the window to that action's quota and length (the latest action wins).
 */
export type WindowKind = 'message' | 'session'
export const WINDOW_RULES: Readonly<Record<WindowKind, { quota: number, durationMs: number }>> = Object.freeze({
  message: { quota: 5, durationMs: 48 * 3600_000 },
  session: { quota: 2, durationMs: 60_000 }
})

export type ConsumeResult = 'ok' | 'closed' | 'exhausted'

export interface WindowState {
  kind: WindowKind
  openedAt: Date
  expiresAt: Date
  remaining: number
}

export interface SendWindows {
  /**
   * A user action at `at` (its CreateTime) opens a fresh window, unless the current one was opened by a
   * later action, or by one at the same second of the same kind (a redelivery: the quota is never reset
   * by it). At the same second a user message still upgrades a session-entry window.
   */
  open (openid: string, kind: WindowKind, at: Date): Promise<void>
  /** Takes one message from the user's open window, atomically. */
  consume (openid: string, at: Date): Promise<ConsumeResult>
  /** Gives back one message taken by consume() when the send did not happen (never above the quota). */
  release (openid: string, at: Date): Promise<void>
  /** The user's window as it stands at `at` (null when none is open). */
  peek (openid: string, at: Date): Promise<WindowState | null>
}

/** Whether an action (kind, at) replaces the window opened by (currentKind, openedAt). */
function supersedes (kind: WindowKind, at: number, currentKind: WindowKind, openedAt: number): boolean {
  if (at !== openedAt) return at > openedAt
  return kind === 'message' && currentKind === 'session'
}

/** In process memory: the embedded default. */
export class MemorySendWindows implements SendWindows {
  readonly #windows = new Map<string, WindowState>()

  async open (openid: string, kind: WindowKind, at: Date): Promise<void> {
    const current = this.#windows.get(openid)
    if (current !== undefined && !supersedes(kind, at.getTime(), current.kind, current.openedAt.getTime())) return
    const rule = WINDOW_RULES[kind]
    this.#windows.set(openid, { kind, openedAt: new Date(at), expiresAt: new Date(at.getTime() + rule.durationMs), remaining: rule.quota })
  }

  async consume (openid: string, at: Date): Promise<ConsumeResult> {
    const w = this.#live(openid, at)
    if (w === null) return 'closed'
    if (w.remaining <= 0) return 'exhausted'
    w.remaining--
    return 'ok'
  }

  async release (openid: string, at: Date): Promise<void> {
    const w = this.#live(openid, at)
    if (w !== null && w.remaining < WINDOW_RULES[w.kind].quota) w.remaining++
  }

  async peek (openid: string, at: Date): Promise<WindowState | null> {
    const w = this.#live(openid, at)
    return w === null ? null : { ...w, openedAt: new Date(w.openedAt), expiresAt: new Date(w.expiresAt) }
  }

  #live (openid: string, at: Date): WindowState | null {
    const w = this.#windows.get(openid)
    if (w === undefined) return null
    if (w.expiresAt.getTime() <= at.getTime()) {
      this.#windows.delete(openid)
      return null
    }
    return w
  }
}

/** KEYS[1] window hash; ARGV kind, openedAt ms, expiresAt ms, quota. 1 when opened, 0 when it does not supersede (see supersedes). */
const OPEN = redisScript<0 | 1>({
  name: 'csWindowOpen',
  numberOfKeys: 1,
  lua: `
local cur = redis.call('HMGET', KEYS[1], 'openedAt', 'kind')
if cur[1] then
  local openedAt, at = tonumber(cur[1]), tonumber(ARGV[2])
  if at < openedAt then return 0 end
  if at == openedAt and not (ARGV[1] == 'message' and cur[2] == 'session') then return 0 end
end
redis.call('HSET', KEYS[1], 'kind', ARGV[1], 'openedAt', ARGV[2], 'expiresAt', ARGV[3], 'remaining', ARGV[4], 'quota', ARGV[4])
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
return 1`
})

/** KEYS[1] window hash; ARGV now ms. */
const CONSUME = redisScript<ConsumeResult>({
  name: 'csWindowConsume',
  numberOfKeys: 1,
  lua: `
local h = redis.call('HMGET', KEYS[1], 'expiresAt', 'remaining')
if not h[1] or tonumber(h[1]) <= tonumber(ARGV[1]) then return 'closed' end
if tonumber(h[2]) <= 0 then return 'exhausted' end
redis.call('HINCRBY', KEYS[1], 'remaining', -1)
return 'ok'`
})

/** KEYS[1] window hash; ARGV now ms. */
const RELEASE = redisScript<number>({
  name: 'csWindowRelease',
  numberOfKeys: 1,
  lua: `
local h = redis.call('HMGET', KEYS[1], 'expiresAt', 'remaining', 'quota')
if not h[1] or tonumber(h[1]) <= tonumber(ARGV[1]) then return 0 end
if tonumber(h[2]) >= tonumber(h[3]) then return 0 end
return redis.call('HINCRBY', KEYS[1], 'remaining', 1)`
})

const WINDOW_SCRIPTS = { open: OPEN, consume: CONSUME, release: RELEASE }

/** In Redis, shared by every instance: one hash per user, expiring with the window. */
export class RedisSendWindows implements SendWindows {
  readonly #redis: RedisClient
  readonly #scripts: RedisScriptCallers<typeof WINDOW_SCRIPTS>
  readonly #prefix: string

  constructor ({ redis, appId }: { redis: RedisClient, appId: string }) {
    this.#redis = redis
    this.#scripts = defineRedisScripts(redis, WINDOW_SCRIPTS)
    this.#prefix = `cs:{${appId}}:window:`
  }

  async open (openid: string, kind: WindowKind, at: Date): Promise<void> {
    const rule = WINDOW_RULES[kind]
    await this.#scripts.open([this.#prefix + openid], [kind, at.getTime(), at.getTime() + rule.durationMs, rule.quota])
  }

  async consume (openid: string, at: Date): Promise<ConsumeResult> {
    return await this.#scripts.consume([this.#prefix + openid], [at.getTime()])
  }

  async release (openid: string, at: Date): Promise<void> {
    await this.#scripts.release([this.#prefix + openid], [at.getTime()])
  }

  async peek (openid: string, at: Date): Promise<WindowState | null> {
    const h = await this.#redis.hgetall(this.#prefix + openid)
    const expiresAt = Number(h.expiresAt)
    if (h.kind === undefined || !(expiresAt > at.getTime())) return null
    return { kind: h.kind as WindowKind, openedAt: new Date(Number(h.openedAt)), expiresAt: new Date(expiresAt), remaining: Number(h.remaining) }
  }
}
