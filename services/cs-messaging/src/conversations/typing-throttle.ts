import type { RedisClient } from '@weapp/common'

/** WeChat shows "typing…" for 15 s (docs/wechat/api.md#typing): asking again sooner is a 45081. */
export const TYPING_INTERVAL_MS = 15_000
/** The console may show typing this long after the user's last interaction (WeChat's 45080 rule). */
export const TYPING_AFTER_INTERACTION_MS = 30_000

/** At most one typing call per conversation per TYPING_INTERVAL_MS, whichever agent or instance asks. */
export interface TypingThrottle {
  /** True when this call may send (and the next TYPING_INTERVAL_MS are taken); false when one was sent recently. */
  take (openid: string, at: Date): Promise<boolean>
}

/** Entries are dropped once past; beyond this many live ones, the oldest go first (never a reason to send twice in 15 s in practice). */
const MEMORY_MAX_ENTRIES = 10_000

export class MemoryTypingThrottle implements TypingThrottle {
  readonly #until = new Map<string, number>()

  async take (openid: string, at: Date): Promise<boolean> {
    const now = at.getTime()
    const until = this.#until.get(openid)
    if (until !== undefined && until > now) return false
    this.#until.delete(openid)
    if (this.#until.size >= MEMORY_MAX_ENTRIES) {
      for (const [key, value] of this.#until) if (value <= now) this.#until.delete(key)
      const oldest = this.#until.keys().next()
      if (this.#until.size >= MEMORY_MAX_ENTRIES && oldest.done !== true) this.#until.delete(oldest.value)
    }
    this.#until.set(openid, now + TYPING_INTERVAL_MS)
    return true
  }
}

/** Shared by every instance: SET NX with the interval as its expiry. */
export class RedisTypingThrottle implements TypingThrottle {
  readonly #redis: RedisClient
  readonly #prefix: string

  constructor ({ redis, appId }: { redis: RedisClient, appId: string }) {
    this.#redis = redis
    this.#prefix = `cs:{${appId}}:typing:`
  }

  async take (openid: string): Promise<boolean> {
    return await this.#redis.set(this.#prefix + openid, '1', 'PX', TYPING_INTERVAL_MS, 'NX') === 'OK'
  }
}
