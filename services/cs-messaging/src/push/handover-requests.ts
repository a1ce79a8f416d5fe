import type { RedisClient } from '@weapp/common'

/** How often an instance reads the shared set again (a request made elsewhere whose event it missed). */
export const HANDOVER_REFRESH_MS = 10_000

/**
 * The users whose next message is to be answered `transfer_customer_service` (an agent asked for the
 * hand-over in the console). Read on every user push, so the question "might this user have one?" is
 * answered from process memory: no round trip at all while nobody asked for a hand-over.
 */
export interface HandoverRequests {
  add (openid: string): Promise<void>
  remove (openid: string): Promise<void>
  /** false: certainly no request (answered from memory). true: maybe, ask `take`. */
  mayHave (openid: string): boolean
  /** Removes the request and says whether there was one: true for one caller only, across instances. */
  take (openid: string): Promise<boolean>
  /** Another instance asked for a hand-over (seen on the bus): a hint, checked by `take`. */
  heard (openid: string): void
  close (): void
}

/** One process: the set itself. */
export class MemoryHandoverRequests implements HandoverRequests {
  readonly #openids = new Set<string>()

  async add (openid: string): Promise<void> { this.#openids.add(openid) }
  async remove (openid: string): Promise<void> { this.#openids.delete(openid) }
  mayHave (openid: string): boolean { return this.#openids.has(openid) }
  async take (openid: string): Promise<boolean> { return this.#openids.delete(openid) }
  // The set is this process's own: an event can only repeat (or, reordered, contradict) what it knows.
  heard (): void {}
  close (): void {}
}

export interface RedisHandoverRequestsOptions {
  redis: RedisClient
  appId: string
  refreshMs?: number
}

/**
 * A Redis set (`cs:{<appid>}:handover`) shared by the instances, mirrored in each one. The mirror may
 * hold openids that are no longer requested (it costs one SREM on their next push), and learns of another
 * instance's requests from the bus at once, or from the periodic refresh when that event was lost.
 */
export class RedisHandoverRequests implements HandoverRequests {
  readonly #redis: RedisClient
  readonly #key: string
  #mirror = new Set<string>()
  readonly #timer: NodeJS.Timeout

  constructor ({ redis, appId, refreshMs = HANDOVER_REFRESH_MS }: RedisHandoverRequestsOptions) {
    this.#redis = redis
    this.#key = `cs:{${appId}}:handover`
    this.#timer = setInterval(() => { this.refresh().catch(() => {}) }, refreshMs).unref()
  }

  /** Reads the shared set into the mirror (at start, then every refreshMs). */
  async refresh (): Promise<void> {
    this.#mirror = new Set(await this.#redis.smembers(this.#key))
  }

  async add (openid: string): Promise<void> {
    await this.#redis.sadd(this.#key, openid)
    this.#mirror.add(openid)
  }

  async remove (openid: string): Promise<void> {
    await this.#redis.srem(this.#key, openid)
    this.#mirror.delete(openid)
  }

  mayHave (openid: string): boolean { return this.#mirror.has(openid) }

  async take (openid: string): Promise<boolean> {
    this.#mirror.delete(openid)
    return await this.#redis.srem(this.#key, openid) === 1
  }

  heard (openid: string): void { this.#mirror.add(openid) }

  close (): void { clearInterval(this.#timer) }
}
