import type { WebSocket } from 'ws'
import type { Identity } from '@weapp/common'
import type { SocketKind, WsMetrics } from '../metrics.js'
import { CloseCodes } from '../errors.js'

/** How long a slow consumer gets for the close handshake before its TCP connection is destroyed. */
export const SLOW_CONSUMER_GRACE_MS = 1000

let nextId = 0

/** The key of the per-user cap, the per-user frame limit and user delivery. */
export function principalOf (identity: Identity): string {
  switch (identity.kind) {
    case 'user': return `user:${identity.openid}`
    case 'admin': return `admin:${identity.keyId}`
    case 'agent': return `agent:${identity.agentId}`
  }
}

/** One open socket: who it is, what it listens to, and a send that never buffers without bound. */
export class Connection {
  readonly id = ++nextId
  readonly socket: WebSocket
  readonly identity: Identity
  readonly kind: SocketKind
  readonly channels = new Set<string>()
  readonly openedAt = Date.now()
  /** Cleared by every heartbeat ping, set again by the pong (or any frame from the client). */
  alive = true
  /** When the session ends (ms), or null (admin keys): the hub closes the socket then. */
  expiresAt: number | null = null
  /** Armed by the hub only once the expiry is within a heartbeat interval, so idle sockets hold no timer. */
  expiryTimer: NodeJS.Timeout | null = null
  #cut = false
  readonly #maxBuffered: number
  readonly #metrics: WsMetrics
  readonly #onSlow: (conn: Connection) => void

  constructor (socket: WebSocket, identity: Identity, kind: SocketKind, maxBuffered: number, metrics: WsMetrics, onSlow: (conn: Connection) => void) {
    this.socket = socket
    this.identity = identity
    this.kind = kind
    this.#maxBuffered = maxBuffered
    this.#metrics = metrics
    this.#onSlow = onSlow
  }

  /** The key of the per-user cap and of user delivery. */
  get principal (): string { return principalOf(this.identity) }

  /** The session this socket lives on (a user's or an agent's console session); null for admin keys. */
  get sessionId (): string | null { return this.identity.kind === 'admin' ? null : this.identity.sessionId }

  get open (): boolean { return !this.#cut && this.socket.readyState === this.socket.OPEN }

  /**
   * Sends a text frame unless the client is not keeping up: past MAX_BUFFERED_BYTES of unsent data the
   * socket is closed with 1013 and destroyed after a short grace. Returns whether the frame was queued.
   */
  send (text: string): boolean {
    if (!this.open) return false
    if (this.socket.bufferedAmount > this.#maxBuffered) { this.cutSlow(); return false }
    this.socket.send(text)
    this.#metrics.messagesOut.inc({ kind: this.kind })
    if (this.socket.bufferedAmount > this.#maxBuffered) this.cutSlow()
    return true
  }

  cutSlow (): void {
    if (this.#cut) return
    this.#cut = true
    this.#metrics.slowConsumers.inc()
    this.#onSlow(this)
    try { this.socket.close(CloseCodes.tryAgainLater, 'slow consumer') } catch { /* already closing */ }
    setTimeout(() => { this.socket.terminate() }, SLOW_CONSUMER_GRACE_MS).unref()
  }

  close (code: number, reason: string): void {
    this.#cut = true
    try { this.socket.close(code, reason) } catch { this.socket.terminate() }
  }
}
