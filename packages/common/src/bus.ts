import { EventEmitter, once } from 'node:events'
import type { Redis } from 'ioredis'
import type { BusEvent } from './types.js'
import { createRedis, type RedisState, type RedisStateLog } from './redis.js'
import { BusHubClient } from './bus-hub-client.js'

export type BusHandler = (event: BusEvent) => void

/**
 * Publish/subscribe between services: Redis pub/sub in production; without Redis the bus hub that
 * realtime-ws serves (BusHubClient), or an in-process emitter for a process on its own.
 */
export interface Bus {
  publish (channel: string, event: BusEvent): Promise<void>
  /** Returns a function that removes the subscription. */
  subscribe (channel: string, handler: BusHandler): Promise<() => Promise<void>>
  close (): Promise<void>
}

export class InProcessBus implements Bus {
  readonly #emitter = new EventEmitter()

  constructor () { this.#emitter.setMaxListeners(0) }

  async publish (channel: string, event: BusEvent): Promise<void> {
    // Deliver asynchronously, as Redis would: a publisher never runs subscriber code on its own stack.
    setImmediate(() => this.#emitter.emit(channel, event))
  }

  async subscribe (channel: string, handler: BusHandler): Promise<() => Promise<void>> {
    this.#emitter.on(channel, handler)
    return async () => { this.#emitter.off(channel, handler) }
  }

  async close (): Promise<void> { this.#emitter.removeAllListeners() }
}

/**
 * Redis pub/sub needs a connection of its own for subscribing; both are created and closed here.
 * Subscribing never fails for want of Redis: a channel that could not be subscribed yet (Redis away
 * at boot) is subscribed when the connection is ready again, so a service starts without Redis.
 */
export class RedisBus implements Bus {
  readonly #pub: Redis
  readonly #sub: Redis
  readonly #handlers = new Map<string, Set<BusHandler>>()
  /** The subscriber connection failed since it was last ready: a SUBSCRIBE now would only wait. */
  #unreachable = false

  /** `log`: where the connections' state changes go (createRedis). */
  constructor (url: string, log?: RedisStateLog) {
    this.#pub = createRedis(url, {}, { name: 'bus publisher', ...(log !== undefined ? { log } : {}) })
    this.#sub = createRedis(url, { enableAutoPipelining: false }, { name: 'bus subscriber', ...(log !== undefined ? { log } : {}) })
    // ioredis re-subscribes only the channels it had confirmed; these may include some it never had.
    this.#sub.on('ready', () => {
      this.#unreachable = false
      if (this.#handlers.size > 0) this.#sub.subscribe(...this.#handlers.keys()).catch(() => {})
    })
    this.#sub.on('error', () => { this.#unreachable = true })
    this.#sub.on('message', (channel: string, payload: string) => {
      const handlers = this.#handlers.get(channel)
      if (handlers === undefined) return
      let event: BusEvent
      try { event = JSON.parse(payload) as BusEvent } catch { return }
      for (const handler of handlers) handler(event)
    })
  }

  async publish (channel: string, event: BusEvent): Promise<void> {
    await this.#pub.publish(channel, JSON.stringify(event))
  }

  async subscribe (channel: string, handler: BusHandler): Promise<() => Promise<void>> {
    let handlers = this.#handlers.get(channel)
    if (handlers === undefined) {
      handlers = new Set()
      this.#handlers.set(channel, handlers)
      // Resolves once subscribed, or when Redis turns out to be away (then the 'ready' listener subscribes
      // when it is back): no waiting for ioredis's retries while the connection is known to be down.
      const subscribing = this.#sub.subscribe(channel)
      subscribing.catch(() => {})
      if (!this.#unreachable) {
        const ac = new AbortController()
        await Promise.race([subscribing, once(this.#sub, 'error', { signal: ac.signal })]).catch(() => {})
        ac.abort()
      }
    }
    handlers.add(handler)
    return async () => {
      const set = this.#handlers.get(channel)
      if (set === undefined) return
      set.delete(handler)
      if (set.size === 0) {
        this.#handlers.delete(channel)
        // Failed (Redis away): no handler is left, so whatever still arrives is ignored.
        await this.#sub.unsubscribe(channel).catch(() => {})
      }
    }
  }

  /** Both connections ready (a publish goes out, subscriptions are live). */
  get connected (): boolean {
    return this.#pub.status === 'ready' && this.#sub.status === 'ready'
  }

  async close (): Promise<void> {
    this.#handlers.clear()
    await Promise.all([quitOrDisconnect(this.#pub), quitOrDisconnect(this.#sub)])
  }
}

/** QUIT politely, but never let a Redis that stopped answering hold up a shutdown. */
async function quitOrDisconnect (redis: Redis, timeoutMs = 1000): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const timedOut = new Promise<void>((resolve) => { timer = setTimeout(resolve, timeoutMs) })
  await Promise.race([redis.quit().catch(() => {}), timedOut])
  clearTimeout(timer)
  redis.disconnect()
}

/** The bus hub a process without Redis joins (BUS_HUB_URL), with the internal credential it presents. */
export interface BusHubTarget {
  url: string
  internalToken: string
}

/** The hub a service's configuration names, if any. */
export function busHubOf (config: { BUS_HUB_URL?: string | undefined, INTERNAL_TOKEN: string }): BusHubTarget | undefined {
  return config.BUS_HUB_URL === undefined ? undefined : { url: config.BUS_HUB_URL, internalToken: config.INTERNAL_TOKEN }
}

/** The one choice of a process's bus: REDIS_URL → Redis; else BUS_HUB_URL → the hub; else in-process. */
export function createBus (redisUrl: string | undefined, log?: RedisStateLog, hub?: BusHubTarget): Bus {
  if (redisUrl !== undefined) return new RedisBus(redisUrl, log)
  if (hub !== undefined) return new BusHubClient(hub.url, hub.internalToken, log === undefined ? {} : { log })
  return new InProcessBus()
}

/** The state behind a bus (Redis, or the hub's connection): `up` for an in-process bus (nothing to lose). */
export function busState (bus: Bus): RedisState {
  if (bus instanceof RedisBus || bus instanceof BusHubClient) return bus.connected ? 'up' : 'down'
  return 'up'
}
