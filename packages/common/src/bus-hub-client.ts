import type { WebSocket } from 'ws'
import type { Bus, BusHandler } from './bus.js'
import type { BusEvent } from './types.js'
import type { RedisStateLog } from './redis.js'
import { INTERNAL_TOKEN_HEADER } from './identity-header.js'
import { BUS_HUB_LIMITS, isBusHubChannel, parseBusHubDelivery } from './bus-hub-protocol.js'

export interface BusHubClientOptions {
  /** Where connection state changes go (once per change, as for Redis). */
  log?: RedisStateLog
  /** Reconnect back-off: base doubled per failed attempt up to max, with jitter. */
  backoff?: { baseMs: number, maxMs: number }
  /**
   * How long a publish waits for a connection that is down before it fails: the Redis bus's command
   * timeout (DEFAULT_REDIS_COMMAND_TIMEOUT_MS), so callers see the same failure either way.
   */
  publishWaitMs?: number
  /** Ping interval; a hub that did not answer the previous ping is dropped and reconnected. */
  heartbeatMs?: number
}

/** Publishes that may wait for the connection at once; more fail at once (no unbounded queue). */
export const MAX_WAITING_PUBLISHES = 1000

const DEFAULTS = { backoff: { baseMs: 100, maxMs: 5000 }, publishWaitMs: 2000, heartbeatMs: 30_000 }
/** Processes start together and realtime-ws may be up last: not reaching it is worth a warning only after this. */
const STARTUP_GRACE_MS = 10_000

/** A publish that could not go out: the hub is unreachable, or the event is too large for it. */
export class BusHubPublishError extends Error {
  override name = 'BusHubPublishError'
}

/**
 * The bus of a process that runs without Redis but beside a realtime-ws serving the bus hub
 * (BUS_HUB_URL): one WebSocket carrying subscriptions, publishes and deliveries (bus-hub-protocol.ts).
 * Like RedisBus it starts without its server: subscriptions made before the hub is up are sent when it
 * connects, and again after every reconnect; a publish while it is down waits publishWaitMs, then fails.
 */
export class BusHubClient implements Bus {
  readonly #url: string
  readonly #where: string
  readonly #token: string
  readonly #log: RedisStateLog | undefined
  readonly #backoff: { baseMs: number, maxMs: number }
  readonly #publishWaitMs: number
  readonly #heartbeatMs: number
  readonly #handlers = new Map<string, Set<BusHandler>>()
  readonly #waiting = new Set<{ resolve: () => void, reject: (err: Error) => void }>()
  #socket: WebSocket | null = null
  #open = false
  #closed = false
  #down = false
  #everConnected = false
  #attempts = 0
  #retry: NodeJS.Timeout | undefined
  #startupWarning: NodeJS.Timeout | undefined

  constructor (url: string, internalToken: string, opts: BusHubClientOptions = {}) {
    if (!/^wss?:\/\//.test(url)) throw new Error('BusHubClient: the hub URL must start with ws:// or wss://')
    if (typeof internalToken !== 'string' || internalToken === '') throw new Error('BusHubClient: internalToken is required')
    this.#url = url
    // Logged instead of the URL: whatever credentials a URL might carry stay out of the logs.
    const parsed = new URL(url)
    this.#where = `${parsed.host}${parsed.pathname}`
    this.#token = internalToken
    this.#log = opts.log
    this.#backoff = opts.backoff ?? DEFAULTS.backoff
    this.#publishWaitMs = opts.publishWaitMs ?? DEFAULTS.publishWaitMs
    this.#heartbeatMs = opts.heartbeatMs ?? DEFAULTS.heartbeatMs
    this.#startupWarning = setTimeout(() => {
      this.#log?.warn({ busHub: this.#where }, `bus hub still unreachable after ${STARTUP_GRACE_MS / 1000} s: this process's events reach no other process meanwhile`)
    }, STARTUP_GRACE_MS)
    this.#startupWarning.unref()
    void this.#connect()
  }

  /** Connected to the hub: publishes go out, subscriptions are live. */
  get connected (): boolean { return this.#open }

  async publish (channel: string, event: BusEvent): Promise<void> {
    if (this.#closed) throw new BusHubPublishError('the bus is closed')
    if (!isBusHubChannel(channel)) throw new BusHubPublishError(`not a bus channel: ${JSON.stringify(channel).slice(0, 80)}`)
    const frame = JSON.stringify({ op: 'pub', channel, event })
    const bytes = Buffer.byteLength(frame)
    if (bytes > BUS_HUB_LIMITS.maxFrameBytes) throw new BusHubPublishError(`event too large for the bus hub (${bytes} bytes, at most ${BUS_HUB_LIMITS.maxFrameBytes})`)
    if (!this.#open) await this.#connectedWithin(this.#publishWaitMs)
    const socket = this.#socket!
    if (socket.bufferedAmount > BUS_HUB_LIMITS.maxBufferedBytes) throw new BusHubPublishError('the bus hub connection is backed up')
    await new Promise<void>((resolve, reject) => {
      socket.send(frame, (err) => { if (err === undefined || err === null) resolve(); else reject(new BusHubPublishError(`bus hub publish failed: ${err.message}`)) })
    })
  }

  async subscribe (channel: string, handler: BusHandler): Promise<() => Promise<void>> {
    if (!isBusHubChannel(channel)) throw new Error(`not a bus channel: ${JSON.stringify(channel).slice(0, 80)}`)
    let handlers = this.#handlers.get(channel)
    if (handlers === undefined) {
      if (this.#handlers.size >= BUS_HUB_LIMITS.maxChannelsPerClient) throw new Error(`at most ${BUS_HUB_LIMITS.maxChannelsPerClient} channels on the bus hub`)
      handlers = new Set()
      this.#handlers.set(channel, handlers)
      // Not connected yet: sent with the others when the connection opens.
      this.#send({ op: 'sub', channel })
    }
    handlers.add(handler)
    return async () => {
      const set = this.#handlers.get(channel)
      if (set === undefined || !set.delete(handler) || set.size > 0) return
      this.#handlers.delete(channel)
      this.#send({ op: 'unsub', channel })
    }
  }

  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    clearTimeout(this.#retry)
    clearTimeout(this.#startupWarning)
    this.#handlers.clear()
    for (const w of this.#waiting) w.reject(new BusHubPublishError('the bus is closed'))
    this.#waiting.clear()
    const socket = this.#socket
    if (socket === null || socket.readyState === socket.CLOSED) return
    const closed = new Promise<void>((resolve) => { socket.once('close', () => { resolve() }) })
    socket.close(1000, 'closing')
    // A hub that stopped answering must not hold up a shutdown.
    const timer = setTimeout(() => { socket.terminate() }, 1000)
    await closed
    clearTimeout(timer)
  }

  #send (frame: object): void {
    if (this.#open) this.#socket?.send(JSON.stringify(frame))
  }

  async #connectedWithin (ms: number): Promise<void> {
    if (this.#waiting.size >= MAX_WAITING_PUBLISHES) throw new BusHubPublishError('the bus hub is unreachable (too many publishes waiting)')
    await new Promise<void>((resolve, reject) => {
      const waiter = {
        resolve: () => { clearTimeout(timer); resolve() },
        reject: (err: Error) => { clearTimeout(timer); reject(err) }
      }
      const timer = setTimeout(() => {
        this.#waiting.delete(waiter)
        reject(new BusHubPublishError(`the bus hub is unreachable (${this.#where})`))
      }, ms)
      this.#waiting.add(waiter)
    })
  }

  async #connect (): Promise<void> {
    let WebSocketClass: typeof WebSocket
    try {
      // Loaded on first use: processes on Redis (or in-process) never load the WebSocket client.
      WebSocketClass = (await import('ws')).WebSocket
    } catch (err) {
      this.#wentDown(err as Error)
      this.#scheduleReconnect()
      return
    }
    if (this.#closed) return
    const socket = new WebSocketClass(this.#url, {
      headers: { [INTERNAL_TOKEN_HEADER]: this.#token },
      maxPayload: BUS_HUB_LIMITS.maxFrameBytes,
      perMessageDeflate: false,
      handshakeTimeout: 10_000
    })
    this.#socket = socket
    let alive = true
    let heartbeat: NodeJS.Timeout | undefined
    socket.on('open', () => {
      this.#open = true
      this.#everConnected = true
      clearTimeout(this.#startupWarning)
      this.#attempts = 0
      if (this.#down) {
        this.#down = false
        this.#log?.info({ busHub: this.#where }, 'bus hub reachable again')
      }
      for (const channel of this.#handlers.keys()) this.#send({ op: 'sub', channel })
      for (const w of this.#waiting) w.resolve()
      this.#waiting.clear()
      heartbeat = setInterval(() => {
        if (!alive) { socket.terminate(); return }
        alive = false
        socket.ping()
      }, this.#heartbeatMs)
      heartbeat.unref()
    })
    socket.on('pong', () => { alive = true })
    socket.on('message', (data, isBinary) => {
      if (isBinary) return
      const delivery = parseBusHubDelivery(data.toString())
      if (delivery === null) return
      const handlers = this.#handlers.get(delivery.channel)
      if (handlers === undefined) return
      for (const handler of handlers) {
        try { handler(delivery.event) } catch (err) { this.#log?.warn({ err, channel: delivery.channel }, 'bus handler failed') }
      }
    })
    socket.on('error', (err) => { this.#wentDown(err) })
    socket.on('close', (code, reason) => {
      clearInterval(heartbeat)
      this.#open = false
      if (this.#socket === socket) this.#socket = null
      if (this.#closed) return
      this.#wentDown(new Error(`connection closed (${code}${reason.length > 0 ? ` ${reason.toString()}` : ''})`))
      this.#scheduleReconnect()
    })
  }

  /**
   * Logs the first failure of an outage only (every reconnect attempt fails the same way). Before the first
   * connection it is the start-up order (the warning waits for STARTUP_GRACE_MS), not an outage.
   */
  #wentDown (err: Error & { code?: string }): void {
    if (this.#down || this.#closed) return
    this.#down = true
    const detail = { busHub: this.#where, err: { message: err.message, code: err.code } }
    if (this.#everConnected) this.#log?.warn(detail, 'bus hub unreachable; reconnecting')
    else this.#log?.info(detail, 'bus hub not reachable yet; retrying')
  }

  #scheduleReconnect (): void {
    if (this.#closed) return
    const { baseMs, maxMs } = this.#backoff
    const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(this.#attempts, 20))
    this.#attempts++
    // Jitter: processes that lost the hub together do not all come back in the same millisecond.
    const delay = Math.round(ceiling / 2 + Math.random() * ceiling / 2)
    this.#retry = setTimeout(() => { void this.#connect() }, delay)
    // The process lives for its server, not for a reconnect attempt.
    this.#retry.unref()
  }
}
