import type { WebSocket } from 'ws'
import type { FastifyBaseLogger } from 'fastify'
import { BusChannels, type Bus, type BusEvent, type Identity } from '@weapp/common'
import type { SocketKind, WsMetrics } from '../metrics.js'
import { CloseCodes } from '../errors.js'
import { Connection } from './connection.js'
import { tunnelMessage } from './protocol.js'

export interface HubOptions {
  bus: Bus
  metrics: WsMetrics
  log: FastifyBaseLogger
  heartbeatIntervalMs: number
  maxBufferedBytes: number
  maxConnectionsPerUser: number
}

/** How long shutdown waits for clients to answer the 1001 close before destroying their sockets. */
export const SHUTDOWN_GRACE_MS = 2000

/**
 * The sockets of this instance, indexed by user and channel, fed by the bus: every instance subscribes to
 * the same channels, so an event published once reaches a user's sockets wherever they are connected.
 */
export class Hub {
  readonly #o: HubOptions
  readonly #all = new Set<Connection>()
  readonly #byPrincipal = new Map<string, Set<Connection>>()
  readonly #byChannel = new Map<string, Set<Connection>>()
  readonly #admins = new Set<Connection>()
  readonly #unsubscribe: Array<() => Promise<void>> = []
  #heartbeat: NodeJS.Timeout | null = null
  #closing = false

  constructor (options: HubOptions) { this.#o = options }

  async start (): Promise<void> {
    const { bus } = this.#o
    const handle = (event: BusEvent): void => {
      try { this.dispatch(event) } catch (err) { this.#o.log.error({ err }, 'bus event delivery failed') }
    }
    for (const channel of [BusChannels.users, BusChannels.channels, BusChannels.cs]) {
      this.#unsubscribe.push(await bus.subscribe(channel, handle))
    }
    this.#heartbeat = setInterval(() => { this.#beat() }, this.#o.heartbeatIntervalMs)
    this.#heartbeat.unref()
  }

  get size (): number { return this.#all.size }
  get closing (): boolean { return this.#closing }

  /** Registers an open socket; the oldest socket of the same user goes when the cap is reached. */
  add (socket: WebSocket, identity: Identity, kind: SocketKind): Connection {
    const conn = new Connection(socket, identity, kind, this.#o.maxBufferedBytes, this.#o.metrics, () => { this.remove(conn) })
    if (this.#closing) { conn.close(CloseCodes.goingAway, 'server shutting down'); return conn }
    let mine = this.#byPrincipal.get(conn.principal)
    if (mine === undefined) { mine = new Set(); this.#byPrincipal.set(conn.principal, mine) }
    while (mine.size >= this.#o.maxConnectionsPerUser) {
      const oldest = mine.values().next().value as Connection
      this.remove(oldest)
      this.#o.metrics.connectionsReplaced.inc()
      oldest.close(CloseCodes.policy, 'connection limit: replaced by a newer connection')
    }
    mine.add(conn)
    this.#all.add(conn)
    if (identity.kind === 'admin') this.#admins.add(conn)
    this.#o.metrics.openSockets.inc({ kind })
    this.#o.metrics.connections.inc({ kind })
    socket.on('pong', () => { conn.alive = true })
    socket.on('close', () => { this.remove(conn) })
    return conn
  }

  /** Idempotent: called on close, on a slow-consumer cut and when the cap replaces a socket. */
  remove (conn: Connection): void {
    if (!this.#all.delete(conn)) return
    this.#o.metrics.openSockets.dec({ kind: conn.kind })
    this.#admins.delete(conn)
    const mine = this.#byPrincipal.get(conn.principal)
    mine?.delete(conn)
    if (mine?.size === 0) this.#byPrincipal.delete(conn.principal)
    for (const channel of conn.channels) this.leave(conn, channel)
  }

  join (conn: Connection, channel: string): void {
    conn.channels.add(channel)
    let set = this.#byChannel.get(channel)
    if (set === undefined) { set = new Set(); this.#byChannel.set(channel, set) }
    set.add(conn)
  }

  leave (conn: Connection, channel: string): void {
    conn.channels.delete(channel)
    const set = this.#byChannel.get(channel)
    set?.delete(conn)
    if (set?.size === 0) this.#byChannel.delete(channel)
  }

  /** Delivers one bus event to the sockets of this instance it concerns. Frames are serialised once. */
  dispatch (event: BusEvent): void {
    switch (event.type) {
      case 'user.push':
        this.#toUser(event.openid, event.event, event.data)
        break
      case 'channel.push': {
        const set = this.#byChannel.get(event.channel)
        if (set === undefined) return
        const frame = JSON.stringify({ type: 'event', event: event.event, data: event.data, channel: event.channel })
        for (const conn of [...set]) if (conn.kind === 'ws') conn.send(frame)
        break
      }
      case 'cs.inbound':
      case 'cs.outbound': {
        const { type, ...data } = event
        this.#toUser(event.openid, type, data)
        if (this.#admins.size === 0) return
        const frame = JSON.stringify({ type: 'event', event: type, data })
        for (const conn of [...this.#admins]) conn.send(frame)
        break
      }
      default:
        break
    }
  }

  #toUser (openid: string, event: string, data: unknown): void {
    const set = this.#byPrincipal.get(`user:${openid}`)
    if (set === undefined) return
    let json: string | undefined
    let tunnel: string | undefined
    for (const conn of [...set]) {
      if (conn.kind === 'ws') conn.send(json ??= JSON.stringify({ type: 'event', event, data }))
      else conn.send(tunnel ??= tunnelMessage(event, data))
    }
  }

  #beat (): void {
    for (const conn of [...this.#all]) {
      if (!conn.alive) {
        this.#o.metrics.heartbeatTimeouts.inc({ kind: conn.kind })
        this.remove(conn)
        conn.socket.terminate()
        continue
      }
      conn.alive = false
      try { conn.socket.ping() } catch { /* closing */ }
    }
  }

  /** Graceful shutdown: stop listening to the bus, close every socket with 1001, destroy stragglers. */
  async close (graceMs = SHUTDOWN_GRACE_MS): Promise<void> {
    if (this.#closing) return
    this.#closing = true
    if (this.#heartbeat !== null) clearInterval(this.#heartbeat)
    await Promise.allSettled(this.#unsubscribe.splice(0).map(async (off) => { await off() }))
    const sockets = [...this.#all].map((c) => c.socket)
    const closed = sockets.map(async (socket) => await new Promise<void>((resolve) => {
      if (socket.readyState === socket.CLOSED) { resolve(); return }
      socket.once('close', () => { resolve() })
    }))
    for (const conn of [...this.#all]) conn.close(CloseCodes.goingAway, 'server shutting down')
    let timer: NodeJS.Timeout | undefined
    const timedOut = new Promise<void>((resolve) => { timer = setTimeout(resolve, graceMs) })
    await Promise.race([Promise.all(closed), timedOut])
    clearTimeout(timer)
    for (const socket of sockets) if (socket.readyState !== socket.CLOSED) socket.terminate()
  }
}
