import { EventEmitter } from 'node:events'
import { Cluster } from 'ioredis'
import type { BusEvent } from './types.js'
import { createRedis, type RedisClient, type RedisState, type RedisStateLog, type RedisWatchOptions } from './redis.js'
import type { RedisTopology } from './redis-topology.js'
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

/** How long subscribe waits for Redis to hold a new subscription before returning (it is made later). */
export const BUS_SUBSCRIBE_WAIT_MS = 1_500
/** Between a failed SUBSCRIBE and the next, while the connection stays up. */
export const BUS_RESUBSCRIBE_PAUSE_MS = 500
/** How often the bus compares the channels it wants with those its connection holds (a local check). */
export const BUS_HOLD_CHECK_MS = 1_000

/**
 * Redis pub/sub needs a connection of its own for subscribing; both are created and closed here. On a
 * Cluster the bus uses sharded pub/sub (SPUBLISH/SSUBSCRIBE, Redis 7): an event goes to the shard that
 * owns its channel's slot, not to every node; ioredis keeps one subscriber per shard and moves the
 * subscriptions when slots move or a replica is promoted. One server and Sentinel use PUBLISH/SUBSCRIBE.
 *
 * subscribe returns once Redis holds the subscription, also when the connection failed while coming up
 * and is made again; it waits at most BUS_SUBSCRIBE_WAIT_MS, and not at all once nothing listens where
 * Redis should be (refused: a service starts without Redis). A channel not subscribed yet is subscribed
 * when the connection is ready again; later subscribes skip the wait until then.
 *
 * After a reconnection the bus subscribes its channels itself (ioredis's autoResubscribe is off: a
 * re-SUBSCRIBE of its own that fails, NOPERM or a queue flushed, is an unhandled rejection and the channel is
 * forgotten, the connection ready and holding nothing), through the same retries as a first subscribe. Every
 * BUS_HOLD_CHECK_MS it also compares the channels it has handlers for with those the connection holds and
 * subscribes a missing one again (CI once saw a connection ready with nothing held or pending; the cause was
 * not found). On a Cluster ioredis keeps one subscriber per shard, moves them itself and exposes none.
 */
export class RedisBus implements Bus {
  readonly #pub: RedisClient
  readonly #sub: RedisClient
  readonly #sharded: boolean
  readonly #handlers = new Map<string, Set<BusHandler>>()
  /** Channels Redis has not confirmed yet, each with what its subscribers wait on. */
  readonly #pending = new Map<string, { confirmed: Promise<void>, confirm: () => void }>()
  /** Redis refused, or a subscribe waited in vain, since the subscriber was last ready: subscribes do not wait. */
  #gaveUp = false
  readonly #log: RedisStateLog | undefined
  /** Confirmed channels subscribed again: after a reconnection, or found missing (for diagnostics). */
  #restored = 0
  readonly #holdCheck: NodeJS.Timeout | undefined

  /** `target`: a URL (one server) or a topology; `log`: where the connections' state changes go (createRedis). */
  constructor (target: string | RedisTopology, log?: RedisStateLog) {
    const watch = (name: string): RedisWatchOptions => ({ name, ...(log !== undefined ? { log } : {}) })
    this.#sharded = typeof target !== 'string' && target.kind === 'cluster'
    this.#pub = createRedis(target, {}, watch('bus publisher'))
    this.#sub = createRedis(target, { enableAutoPipelining: false, ...(this.#sharded ? { shardedSubscribers: true } : { autoResubscribe: false }) }, watch('bus subscriber'))
    this.#sub.on('error', (err: Error & { code?: string }) => {
      if (isRefusal(err)) this.#gaveUp = true
    })
    this.#sub.on('ready', () => {
      this.#gaveUp = false
      for (const channel of this.#pending.keys()) this.#subscribeOnce(channel)
      this.#restoreMissing(false)
    })
    const deliver = (channel: string, payload: string): void => {
      const handlers = this.#handlers.get(channel)
      if (handlers === undefined) return
      let event: BusEvent
      try { event = JSON.parse(payload) as BusEvent } catch { return }
      for (const handler of handlers) handler(event)
    }
    this.#sub.on(this.#sharded ? 'smessage' : 'message', deliver)
    this.#log = log
    if (!this.#sharded) this.#holdCheck = setInterval(() => { this.#restoreMissing(true) }, BUS_HOLD_CHECK_MS).unref()
  }

  /**
   * Subscribes again each channel with handlers that the ready connection does not hold and that is not
   * being subscribed: all of them after a reconnection; at a periodic check, one lost some other way
   * (`unexpected`: logged).
   */
  #restoreMissing (unexpected: boolean): void {
    if (this.#sharded || this.#sub.status !== 'ready') return
    const held = new Set(this.#held())
    for (const channel of this.#handlers.keys()) {
      if (held.has(channel) || this.#pending.has(channel)) continue
      this.#restored++
      if (unexpected) this.#log?.warn({ redis: 'bus subscriber', channel }, 'bus: the connection no longer holds a subscribed channel; subscribing again')
      this.#pend(channel)
    }
  }

  /** The channels ioredis holds as subscribed (none known on a Cluster). */
  #held (): string[] {
    const sub = this.#sub
    if (sub instanceof Cluster) return []
    const set = sub.condition?.subscriber
    return set === undefined || set === false ? [] : set.channels('subscribe')
  }

  /** Marks a channel unconfirmed and subscribes it; subscribers may wait on its confirmation. */
  #pend (channel: string): void {
    let confirm = (): void => {}
    const confirmed = new Promise<void>((resolve) => { confirm = resolve })
    this.#pending.set(channel, { confirmed, confirm })
    this.#subscribeOnce(channel)
  }

  async publish (channel: string, event: BusEvent): Promise<void> {
    const payload = JSON.stringify(event)
    if (this.#sharded) await this.#pub.spublish(channel, payload)
    else await this.#pub.publish(channel, payload)
  }

  /**
   * One SUBSCRIBE (SSUBSCRIBE on a Cluster: one channel, one slot). A failure is retried on 'ready', or, when
   * the connection is up (a SUBSCRIBE that timed out on a busy server: no 'ready' follows), after a pause.
   */
  #subscribeOnce (channel: string): void {
    const subscribing = this.#sharded ? this.#sub.ssubscribe(channel) : this.#sub.subscribe(channel)
    subscribing.then(() => {
      const pending = this.#pending.get(channel)
      this.#pending.delete(channel)
      pending?.confirm()
    }, () => {
      setTimeout(() => {
        if (this.#pending.has(channel) && this.#sub.status === 'ready') this.#subscribeOnce(channel)
      }, BUS_RESUBSCRIBE_PAUSE_MS).unref()
    })
  }

  async subscribe (channel: string, handler: BusHandler): Promise<() => Promise<void>> {
    let handlers = this.#handlers.get(channel)
    if (handlers === undefined) {
      handlers = new Set()
      this.#handlers.set(channel, handlers)
      this.#pend(channel)
    }
    handlers.add(handler)
    const pending = this.#pending.get(channel)
    if (pending !== undefined && !this.#gaveUp) {
      let timer: NodeJS.Timeout | undefined
      let onError = (_err: Error & { code?: string }): void => {}
      const waited = await Promise.race([
        pending.confirmed.then(() => true),
        new Promise<boolean>((resolve) => { timer = setTimeout(resolve, BUS_SUBSCRIBE_WAIT_MS, false) }),
        new Promise<boolean>((resolve) => {
          onError = (err) => { if (isRefusal(err)) resolve(false) }
          this.#sub.on('error', onError)
        })
      ])
      clearTimeout(timer)
      this.#sub.off('error', onError)
      if (!waited) this.#gaveUp = true
    }
    return async () => {
      const set = this.#handlers.get(channel)
      if (set === undefined) return
      set.delete(handler)
      if (set.size === 0) {
        this.#handlers.delete(channel)
        this.#pending.get(channel)?.confirm()
        this.#pending.delete(channel)
        // Failed (Redis away): no handler is left, so whatever still arrives is ignored.
        const unsubscribing = this.#sharded ? this.#sub.sunsubscribe(channel) : this.#sub.unsubscribe(channel)
        await unsubscribing.catch(() => {})
      }
    }
  }

  /** For diagnostics: each connection's state, the channels ioredis holds as subscribed, those not confirmed yet. */
  get subscriptionState (): { publisher: string, subscriber: string, held: string[], pending: string[], restored: number } {
    return { publisher: this.#pub.status, subscriber: this.#sub.status, held: this.#held(), pending: [...this.#pending.keys()], restored: this.#restored }
  }

  /** Both connections ready (a publish goes out, subscriptions are live). */
  get connected (): boolean {
    return this.#pub.status === 'ready' && this.#sub.status === 'ready'
  }

  async close (): Promise<void> {
    clearInterval(this.#holdCheck)
    this.#handlers.clear()
    for (const pending of this.#pending.values()) pending.confirm()
    this.#pending.clear()
    await Promise.all([quitOrDisconnect(this.#pub), quitOrDisconnect(this.#sub)])
  }
}

/** Nothing listens where Redis (every sentinel, every seed node) should be: not a connection coming up. */
function isRefusal (err: Error & { code?: string }): boolean {
  return err.code === 'ECONNREFUSED' || /^(All sentinels are unreachable|None of startup nodes is available)/.test(err.message)
}

/** QUIT politely, but never let a Redis that stopped answering hold up a shutdown. */
async function quitOrDisconnect (redis: RedisClient, timeoutMs = 1000): Promise<void> {
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

/**
 * The one choice of a process's bus: a Redis topology (redisTopologyOf(config), or a URL) → Redis; else
 * BUS_HUB_URL → the hub; else in-process.
 */
export function createBus (redis: string | RedisTopology | undefined, log?: RedisStateLog, hub?: BusHubTarget): Bus {
  if (redis !== undefined) return new RedisBus(redis, log)
  if (hub !== undefined) return new BusHubClient(hub.url, hub.internalToken, log === undefined ? {} : { log })
  return new InProcessBus()
}

/** The state behind a bus (Redis, or the hub's connection): `up` for an in-process bus (nothing to lose). */
export function busState (bus: Bus): RedisState {
  if (bus instanceof RedisBus || bus instanceof BusHubClient) return bus.connected ? 'up' : 'down'
  return 'up'
}
