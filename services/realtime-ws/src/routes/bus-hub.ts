import type { FastifyBaseLogger, FastifyPluginAsync } from 'fastify'
import { WebSocketServer, type RawData, type WebSocket } from 'ws'
import { BUS_HUB_LIMITS, BUS_HUB_PATH, INTERNAL_TOKEN_HEADER, InternalAuthInvalidError, InternalAuthMissingError, internalTokenCheck, parseBusHubClientFrame, type Bus, type BusEvent, type BusHandler, type RedisTopology } from '@weapp/common'
import { CloseCodes, WsUpgradeRequiredError } from '../errors.js'
import { errorResponses } from '../schemas.js'
import { rawText } from './ws.js'

export type BusHubLimits = { [K in keyof typeof BUS_HUB_LIMITS]: number }

export interface BusHubOptions {
  /** Default BUS_HUB_LIMITS (what BusHubClient keeps too); tests lower them. */
  limits?: Partial<BusHubLimits>
  log?: Pick<FastifyBaseLogger, 'warn' | 'info'>
}

/**
 * The bus of a stack without Redis (docs/console.md#without-redis-the-bus-hub). It is realtime-ws's own
 * bus (its local side) and the server every other process's BusHubClient connects to over
 * `/internal/bus`: a publish from any of them, or from here, reaches every subscriber of the channel in
 * every connected process and here, as Redis pub/sub does (at most once, nothing kept, no replay after a
 * reconnect). A client that falls behind is dropped, as Redis drops a slow subscriber; it reconnects.
 */
export class BusHub implements Bus {
  readonly limits: BusHubLimits
  readonly #log: Pick<FastifyBaseLogger, 'warn' | 'info'> | undefined
  readonly #local = new Map<string, Set<BusHandler>>()
  readonly #remote = new Map<string, Set<WebSocket>>()
  /** Every connected client and its channels. */
  readonly #clients = new Map<WebSocket, Set<string>>()
  #closed = false

  constructor (opts: BusHubOptions = {}) {
    this.limits = { ...BUS_HUB_LIMITS, ...opts.limits }
    this.#log = opts.log
  }

  get clientCount (): number { return this.#clients.size }

  /** Connected clients subscribed to `channel` (tests wait on it: a subscription has no acknowledgement). */
  remoteSubscribers (channel: string): number { return this.#remote.get(channel)?.size ?? 0 }

  async publish (channel: string, event: BusEvent): Promise<void> {
    if (this.#closed) throw new Error('the bus hub is closed')
    this.#deliver(channel, event)
  }

  async subscribe (channel: string, handler: BusHandler): Promise<() => Promise<void>> {
    let handlers = this.#local.get(channel)
    if (handlers === undefined) {
      handlers = new Set()
      this.#local.set(channel, handlers)
    }
    handlers.add(handler)
    return async () => {
      const set = this.#local.get(channel)
      if (set === undefined) return
      set.delete(handler)
      if (set.size === 0) this.#local.delete(channel)
    }
  }

  /** Serves one client connection (the upgrade is authenticated already). */
  attach (socket: WebSocket): void {
    if (this.#closed) { socket.close(CloseCodes.goingAway, 'shutting down'); return }
    if (this.#clients.size >= this.limits.maxClients) {
      this.#log?.warn({ clients: this.#clients.size }, 'bus hub full: connection refused')
      socket.close(CloseCodes.tryAgainLater, 'too many bus hub clients')
      return
    }
    const channels = new Set<string>()
    this.#clients.set(socket, channels)
    socket.on('message', (data: RawData, isBinary: boolean) => { this.#onFrame(socket, channels, data, isBinary) })
    socket.on('close', () => { this.#drop(socket) })
    socket.on('error', (err) => {
      this.#log?.warn({ err: { message: err.message } }, 'bus hub client connection failed')
      socket.terminate()
    })
  }

  /** Closes every client connection (1001: they reconnect to whatever serves the hub next). */
  disconnectAll (): void {
    for (const socket of [...this.#clients.keys()]) {
      this.#drop(socket)
      socket.close(CloseCodes.goingAway, 'shutting down')
    }
  }

  /** Ends the local side too: nothing is delivered after this. */
  async close (): Promise<void> {
    this.#closed = true
    this.disconnectAll()
    this.#local.clear()
  }

  #onFrame (socket: WebSocket, channels: Set<string>, data: RawData, isBinary: boolean): void {
    const frame = isBinary ? null : parseBusHubClientFrame(rawText(data))
    if (frame === null) {
      // Only a client of another version (or not ours) sends these: say so and let it go.
      this.#log?.warn('bus hub client sent a frame that is not {op:sub|unsub|pub}: closed')
      this.#refuse(socket, CloseCodes.policy, 'not a bus hub frame')
      return
    }
    if (frame.op === 'pub') {
      this.#deliver(frame.channel, frame.event)
      return
    }
    const { channel } = frame
    if (frame.op === 'unsub') {
      channels.delete(channel)
      this.#removeRemote(channel, socket)
      return
    }
    if (channels.has(channel)) return
    if (channels.size >= this.limits.maxChannelsPerClient) {
      this.#log?.warn({ channels: channels.size }, 'bus hub client subscribed to too many channels: closed')
      this.#refuse(socket, CloseCodes.policy, 'too many channels')
      return
    }
    channels.add(channel)
    let subscribers = this.#remote.get(channel)
    if (subscribers === undefined) {
      subscribers = new Set()
      this.#remote.set(channel, subscribers)
    }
    subscribers.add(socket)
  }

  #deliver (channel: string, event: BusEvent): void {
    const subscribers = this.#remote.get(channel)
    if (subscribers !== undefined) {
      const frame = JSON.stringify({ channel, event })
      for (const socket of [...subscribers]) this.#send(socket, frame)
    }
    // Asynchronously, as Redis would: a publisher never runs subscriber code on its own stack.
    if (this.#local.has(channel)) {
      setImmediate(() => {
        const handlers = this.#local.get(channel)
        if (handlers === undefined) return
        for (const handler of [...handlers]) {
          try { handler(event) } catch (err) { this.#log?.warn({ err, channel }, 'bus handler failed') }
        }
      })
    }
  }

  #send (socket: WebSocket, frame: string): void {
    if (socket.readyState !== socket.OPEN) return
    socket.send(frame)
    if (socket.bufferedAmount > this.limits.maxBufferedBytes) {
      this.#log?.warn({ bufferedBytes: socket.bufferedAmount }, 'bus hub client too slow: dropped')
      this.#drop(socket)
      // Not a close frame: it would wait behind everything the client is not reading.
      socket.terminate()
    }
  }

  #refuse (socket: WebSocket, code: number, reason: string): void {
    this.#drop(socket)
    socket.close(code, reason)
  }

  #drop (socket: WebSocket): void {
    const channels = this.#clients.get(socket)
    if (channels === undefined) return
    this.#clients.delete(socket)
    for (const channel of channels) this.#removeRemote(channel, socket)
  }

  #removeRemote (channel: string, socket: WebSocket): void {
    const subscribers = this.#remote.get(channel)
    if (subscribers === undefined) return
    subscribers.delete(socket)
    if (subscribers.size === 0) this.#remote.delete(channel)
  }
}

/** The hub this process serves: without a Redis topology and without a bus handed in (tests), realtime-ws is the hub. */
export function localBusHub (opts: { redis: RedisTopology | undefined, bus?: Bus | undefined, busHub?: BusHub | undefined }, log: FastifyBaseLogger): BusHub | undefined {
  if (opts.redis !== undefined || opts.bus !== undefined) return undefined
  return opts.busHub ?? new BusHub({ log: log.child({ component: 'bus-hub' }) })
}

export interface BusHubRouteOptions {
  hub: BusHub
  internalToken: string
  /** Clients are pinged this often; one that did not answer the previous ping is terminated. */
  heartbeatIntervalMs: number
}

/** A WebSocket upgrade sends nothing before the 101 (RFC 6455 §4.1), so nothing is read past the headers. */
const NO_HEAD = Buffer.alloc(0)

/**
 * GET /internal/bus: the hub's WebSocket, for the internal credential only (the common timing-safe check,
 * 401 before any upgrade; the gateway never routes /internal/). Declared `public` so the shared hook
 * leaves the check to this route's onRequest, which runs after @fastify/websocket marked the request as
 * an upgrade: a refusal then closes the TCP socket it came on. Its own ws server, not
 * @fastify/websocket's: that one's frame limit is MAX_MESSAGE_BYTES, for clients on the internet, while a
 * bus event may be up to BUS_HUB_LIMITS.maxFrameBytes; the upgrade is taken over here, before
 * @fastify/websocket's handler would upgrade with its own server.
 */
const busHubRoutes: FastifyPluginAsync<BusHubRouteOptions> = async (app, { hub, internalToken, heartbeatIntervalMs }) => {
  const checkToken = internalTokenCheck(internalToken)
  const wss = new WebSocketServer({ noServer: true, maxPayload: hub.limits.maxFrameBytes, perMessageDeflate: false, clientTracking: true })

  const alive = new WeakSet<WebSocket>()
  app.get(BUS_HUB_PATH, {
    config: { public: true },
    schema: { hide: true, response: errorResponses(401, 426, 500) },
    onRequest: (request, reply, done) => {
      const verdict = checkToken(request.headers[INTERNAL_TOKEN_HEADER])
      if (verdict !== 'ok') { done(verdict === 'missing' ? new InternalAuthMissingError() : new InternalAuthInvalidError()); return }
      if (!request.ws) { done(new WsUpgradeRequiredError()); return }
      reply.hijack()
      const tcp = request.raw.socket
      // The upgrade's ServerResponse lets go of the TCP socket: from here on it is the WebSocket's.
      reply.raw.detachSocket(tcp)
      wss.handleUpgrade(request.raw, tcp, NO_HEAD, (socket) => {
        alive.add(socket)
        socket.on('pong', () => { alive.add(socket) })
        hub.attach(socket)
      })
      done()
    }
  }, async () => { throw new WsUpgradeRequiredError() })

  const heartbeat = setInterval(() => {
    for (const socket of wss.clients) {
      if (!alive.has(socket)) { socket.terminate(); continue }
      alive.delete(socket)
      socket.ping()
    }
  }, heartbeatIntervalMs)
  heartbeat.unref()

  // Before the HTTP server closes: open upgraded sockets would hold its close() up.
  app.addHook('preClose', async () => {
    clearInterval(heartbeat)
    hub.disconnectAll()
    const closing = [...wss.clients].map(async (socket) => {
      if (socket.readyState === socket.CLOSED) return
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => { socket.terminate() }, 1000)
        socket.once('close', () => { clearTimeout(timer); resolve() })
      })
    })
    await Promise.all(closing)
  })
  app.addHook('onClose', async () => {
    clearInterval(heartbeat)
    await hub.close()
    await new Promise<void>((resolve) => { wss.close(() => { resolve() }) })
  })
}

export default busHubRoutes
