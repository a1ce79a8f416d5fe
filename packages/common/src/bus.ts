import { EventEmitter } from 'node:events'
import type { Redis } from 'ioredis'
import type { BusEvent } from './types.js'
import { createRedis } from './redis.js'

export type BusHandler = (event: BusEvent) => void

/** Publish/subscribe between services: Redis pub/sub in production, an in-process emitter embedded. */
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

/** Redis pub/sub needs a connection of its own for subscribing; both are created and closed here. */
export class RedisBus implements Bus {
  readonly #pub: Redis
  readonly #sub: Redis
  readonly #handlers = new Map<string, Set<BusHandler>>()

  constructor (url: string) {
    this.#pub = createRedis(url)
    this.#sub = createRedis(url, { enableAutoPipelining: false })
    // ioredis reconnects on its own; without listeners a lost connection would crash the process.
    this.#pub.on('error', () => {})
    this.#sub.on('error', () => {})
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
      await this.#sub.subscribe(channel)
    }
    handlers.add(handler)
    return async () => {
      const set = this.#handlers.get(channel)
      if (set === undefined) return
      set.delete(handler)
      if (set.size === 0) {
        this.#handlers.delete(channel)
        await this.#sub.unsubscribe(channel)
      }
    }
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

export function createBus (redisUrl: string | undefined): Bus {
  return redisUrl === undefined ? new InProcessBus() : new RedisBus(redisUrl)
}
