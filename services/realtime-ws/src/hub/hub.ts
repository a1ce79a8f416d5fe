import type { WebSocket } from 'ws'
import type { FastifyBaseLogger } from 'fastify'
import { BusChannels, type Bus, type BusEvent, type Identity } from '@weapp/common'
import type { SocketKind, WsMetrics } from '../metrics.js'
import { CloseCodes } from '../errors.js'
import { Connection, principalOf } from './connection.js'
import { tunnelMessage } from './protocol.js'
import { FrameLimiter, type FrameLimits } from './frame-limit.js'
import { RevokedSessions, sessionEndReason, sessionExpiry } from './session-end.js'

export interface HubOptions {
  bus: Bus
  metrics: WsMetrics
  log: FastifyBaseLogger
  heartbeatIntervalMs: number
  maxBufferedBytes: number
  maxConnectionsPerUser: number
  frameLimits: FrameLimits
  /** How long a revoked session id is remembered (longer than a ticket lives). */
  revokedRetainMs: number
  now?: () => number
}

/** How long shutdown waits for clients to answer the 1001 close before destroying their sockets. */
export const SHUTDOWN_GRACE_MS = 2000
/** How long a rate-limited client gets for the close handshake before its TCP connection is destroyed. */
export const RATE_LIMIT_GRACE_MS = 1000

export type SessionEnd = 'revoked' | 'expired'

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
  readonly #bySession = new Map<string, Set<Connection>>()
  readonly #now: () => number
  /** Sessions revoked lately: a socket of one of them is closed as soon as it registers. */
  readonly revoked: RevokedSessions
  readonly frames: FrameLimiter
  readonly #unsubscribe: Array<() => Promise<void>> = []
  #heartbeat: NodeJS.Timeout | null = null
  #closing = false

  constructor (options: HubOptions) {
    this.#o = options
    this.#now = options.now ?? Date.now
    this.revoked = new RevokedSessions(options.revokedRetainMs, this.#now)
    this.frames = new FrameLimiter(options.frameLimits)
  }

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

  /**
   * Registers an open socket; the oldest socket of the same user goes when the cap is reached. A socket
   * whose session ended while it was opening (revoked, expired) is closed with 4001 instead.
   */
  add (socket: WebSocket, identity: Identity, kind: SocketKind): Connection {
    const conn = new Connection(socket, identity, kind, this.#o.maxBufferedBytes, this.#o.metrics, () => { this.remove(conn) })
    if (this.#closing) { conn.close(CloseCodes.goingAway, 'server shutting down'); return conn }
    const now = this.#now()
    const ended = sessionEndReason(identity, this.revoked, now)
    if (ended !== null) {
      this.#end(conn, ended === 'revoked' ? 'revoked' : 'expired')
      return conn
    }
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
    const sessionId = conn.sessionId
    if (sessionId !== null) {
      let same = this.#bySession.get(sessionId)
      if (same === undefined) { same = new Set(); this.#bySession.set(sessionId, same) }
      same.add(conn)
      conn.expiresAt = sessionExpiry(identity)
      this.#armExpiry(conn, now)
    }
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
    const sessionId = conn.sessionId
    if (sessionId !== null) {
      const same = this.#bySession.get(sessionId)
      same?.delete(conn)
      if (same?.size === 0) this.#bySession.delete(sessionId)
    }
    if (conn.expiryTimer !== null) { clearTimeout(conn.expiryTimer); conn.expiryTimer = null }
    for (const channel of conn.channels) this.leave(conn, channel)
  }

  /**
   * A session was logged out or revoked: every socket of it on this instance closes now (4001), and one
   * still opening is closed when it registers.
   */
  endSession (sessionId: string): number {
    this.revoked.add(sessionId)
    const same = this.#bySession.get(sessionId)
    if (same === undefined) return 0
    const conns = [...same]
    for (const conn of conns) this.#end(conn, 'revoked')
    return conns.length
  }

  /** Tunnel clients are told `close` first (as on a tunnel timeout), so a wafer client does not reconnect. */
  #end (conn: Connection, reason: SessionEnd): void {
    this.#o.metrics.sessionsEnded.inc({ reason })
    if (conn.kind === 'tunnel') conn.send('close')
    this.remove(conn)
    conn.close(CloseCodes.sessionEnded, `session ${reason}`)
  }

  /** A timer for the session's expiry once it is due before the next heartbeat, which arms the later ones. */
  #armExpiry (conn: Connection, now: number): void {
    const at = conn.expiresAt
    if (at === null || conn.expiryTimer !== null) return
    const delay = at - now
    if (delay > this.#o.heartbeatIntervalMs) return
    conn.expiryTimer = setTimeout(() => {
      conn.expiryTimer = null
      if (this.#all.has(conn)) this.#end(conn, 'expired')
    }, Math.max(0, delay))
    conn.expiryTimer.unref()
  }

  /**
   * The gate of every frame a client sends: true while within MAX_FRAMES_PER_SEC (this socket) and
   * MAX_FRAMES_PER_SEC_PER_USER (all sockets of the principal here). The first frame past either closes
   * the socket with 4029 (destroyed a second later); it and every later frame are dropped unhandled.
   * `pending`: work already admitted that must be answered before the close (the /ws handler's queue).
   */
  frameGate (socket: WebSocket, identity: Identity, kind: SocketKind, pending?: () => Promise<unknown>): () => boolean {
    const budget = this.frames.open(principalOf(identity))
    socket.once('close', () => { budget.release() })
    let tripped = false
    const close = (): void => {
      try { socket.close(CloseCodes.rateLimited, 'rate limit') } catch { /* already closing */ }
      setTimeout(() => { socket.terminate() }, RATE_LIMIT_GRACE_MS).unref()
    }
    return () => {
      if (budget.take()) return true
      if (!tripped) {
        tripped = true
        this.#o.metrics.rateLimited.inc({ kind })
        if (pending === undefined) close()
        else pending().then(close, close)
      }
      return false
    }
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
    const now = this.#now()
    for (const conn of [...this.#all]) {
      if (!conn.alive) {
        this.#o.metrics.heartbeatTimeouts.inc({ kind: conn.kind })
        this.remove(conn)
        conn.socket.terminate()
        continue
      }
      this.#armExpiry(conn, now)
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
