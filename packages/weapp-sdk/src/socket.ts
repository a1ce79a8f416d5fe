import { backoffDelay, type BackoffOptions } from './backoff.js'
import { Emitter } from './emitter.js'
import { ErrorCodes, WeappError } from './errors.js'
import type { Auth } from './login.js'
import { resolveUrl, type Requester } from './request.js'
import type { WxApi } from './wx.js'

// The realtime socket: wx.connectSocket to /ws (a fresh single-use ticket per connection), the seed's
// greeting and echo, JSON envelopes (ping/pong, subscribe, server pushes), an app-level heartbeat, and
// reconnection with capped exponential backoff that re-subscribes the channels it had.

export type SocketState = 'idle' | 'connecting' | 'open' | 'closed'

/** A server push: `{"type":"event","event":E,"data":D,"channel"?:C}`. */
export interface PushEvent<D = unknown> {
  event: string
  data: D
  /** Set when it arrived through a channel the socket subscribed to. */
  channel?: string
}

export interface SocketEvents {
  /** The socket is open (the greeting follows). `attempt`: failed attempts before this one. */
  open: { attempt: number }
  /** The first frame of every connection: `Server: 恭喜，<name>`. */
  greeting: string
  /** Any other text frame that is not an envelope: the echo `Server: Received(<text>)`. */
  message: string
  /** A server push (user.push, channel.push, cs.inbound/cs.outbound, ...). */
  event: PushEvent
  /** Every JSON envelope the server sent (pong, subscribed, unsubscribed, error, event). */
  envelope: Record<string, unknown>
  /** Answer to an app-level ping (the heartbeat's or ping()'s). */
  pong: { id: number, rttMs: number }
  subscribed: string
  unsubscribed: string
  /** Server error envelopes (WS_CHANNEL_FORBIDDEN, ...), ticket failures, transport errors, heartbeat timeouts. */
  error: WeappError
  /** An open connection ended. `reconnectInMs` is null when the socket will not reconnect by itself. */
  close: { code: number, reason: string, reconnectInMs: number | null }
  /** A new attempt is scheduled. */
  reconnecting: { attempt: number, delayMs: number }
  /** The server closed this socket with 1008 because a newer connection of the user replaced it. */
  replaced: { code: number, reason: string }
}

export interface SocketOptions {
  /** Channels to join now and after every reconnect (`user:<openid>`, `public:*`). */
  channels?: string[]
  /** 'ticket' (default): POST /api/ws/tickets, then /ws?ticket=; 'header': /ws with Authorization. */
  auth?: 'ticket' | 'header'
  /** App-level `{"type":"ping"}` every this many ms while open (default 25000; 0 disables). */
  heartbeatIntervalMs?: number
  /** No frame within this many ms after a ping: the connection is dead, reconnect (default 10000). */
  heartbeatTimeoutMs?: number
  /** Reconnect delays (default 1 s doubling to 30 s, equal jitter). */
  backoff?: BackoffOptions
  /** Not open this long after wx.connectSocket: given up and retried (default 10000; also wx's `timeout`). */
  connectTimeoutMs?: number
  /** Give up after this many consecutive failed attempts (default: never). */
  maxReconnectAttempts?: number
  /** Start connecting at once (default true). */
  autoConnect?: boolean
}

export interface SocketDeps {
  wx: WxApi
  auth: Auth
  request: Requester
  /** ws(s)://host the socket connects to. */
  wsUrl: string
  ticketPath: string
  wsPath: string
}

export const CLOSE_CODES = { normal: 1000, goingAway: 1001, abnormal: 1006, replaced: 1008, tooBig: 1009, tryAgainLater: 1013, heartbeatTimeout: 4000 } as const
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 25_000
export const DEFAULT_HEARTBEAT_TIMEOUT_MS = 10_000
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000

interface Conn {
  task: WechatMiniprogram.SocketTask | null
  openTimer: Timer | undefined
  opened: boolean
  greeted: boolean
  down: boolean
}

type Timer = ReturnType<typeof setTimeout>

const SERVER_ENVELOPES = ['event', 'pong', 'subscribed', 'unsubscribed', 'error']

export class RealtimeSocket extends Emitter<SocketEvents> {
  private readonly channelSet: Set<string>
  private conn: Conn | null = null
  private currentState: SocketState = 'idle'
  private stopped = true
  private attempt = 0
  private reconnectTimer: Timer | undefined
  private heartbeatTimer: Timer | undefined
  private pongTimer: Timer | undefined
  private pingSeq = 0
  private readonly pingsSent: { [id: number]: number } = {}

  constructor (private readonly deps: SocketDeps, private readonly options: SocketOptions = {}) {
    super()
    this.channelSet = new Set(options.channels ?? [])
    if (options.autoConnect !== false) this.connect()
  }

  get state (): SocketState { return this.currentState }

  /** The channels joined now and re-joined after a reconnect. */
  get channels (): string[] { return Array.from(this.channelSet) }

  /** Starts (or restarts, after close() or a replacement) connecting. No-op while connecting or open. */
  connect (): void {
    if (!this.stopped) return
    this.stopped = false
    this.attempt = 0
    void this.open()
  }

  /** Closes for good (1000): no reconnect until connect() is called again. */
  close (): void {
    const wasRunning = !this.stopped
    this.stopped = true
    this.clearTimers()
    const conn = this.conn
    this.conn = null
    const hadOpen = conn?.opened === true && !conn.down
    if (conn !== null) {
      conn.down = true
      if (conn.openTimer !== undefined) clearTimeout(conn.openTimer)
      closeTask(conn.task, CLOSE_CODES.normal, 'client closed')
    }
    this.currentState = 'closed'
    if (wasRunning && hadOpen) this.emit('close', { code: CLOSE_CODES.normal, reason: 'client closed', reconnectInMs: null })
  }

  /** Sends a text frame; the server echoes non-envelope text as `Server: Received(<text>)`. */
  send (text: string): void {
    const task = this.conn?.task
    if (this.currentState !== 'open' || task === null || task === undefined) throw new WeappError(ErrorCodes.socketNotOpen, 'the socket is not open')
    task.send({ data: text })
  }

  sendJson (message: object): void {
    this.send(JSON.stringify(message))
  }

  /** An app-level ping now; the answer arrives as a `pong` event. Returns its id. */
  ping (): number {
    const id = ++this.pingSeq
    this.pingsSent[id] = Date.now()
    this.sendJson({ type: 'ping', id })
    return id
  }

  /** Joins a channel now (when open) and after every reconnect. */
  subscribe (channel: string): void {
    this.channelSet.add(channel)
    if (this.currentState === 'open') this.sendJson({ type: 'subscribe', channel })
  }

  unsubscribe (channel: string): void {
    this.channelSet.delete(channel)
    if (this.currentState === 'open') this.sendJson({ type: 'unsubscribe', channel })
  }

  /** Handler for one push event name; returns a function that removes it. */
  onEvent<D = unknown> (name: string, handler: (data: D, push: PushEvent<D>) => void): () => void {
    return this.on('event', (push) => { if (push.event === name) handler(push.data as D, push as PushEvent<D>) })
  }

  private async open (): Promise<void> {
    const conn: Conn = { task: null, openTimer: undefined, opened: false, greeted: false, down: false }
    this.conn = conn
    this.currentState = 'connecting'
    let target: { url: string, header?: Record<string, string> }
    try {
      target = await this.target()
    } catch (err) {
      if (this.conn !== conn) return
      this.emit('error', asWeappError(err))
      this.down(conn, CLOSE_CODES.abnormal, 'could not get a ticket', false)
      return
    }
    if (this.conn !== conn) return
    const option: WechatMiniprogram.ConnectSocketOption = {
      url: target.url,
      fail: (res) => {
        if (this.conn !== conn || conn.down) return
        this.emit('error', new WeappError(ErrorCodes.socket, res.errMsg))
        this.down(conn, CLOSE_CODES.abnormal, res.errMsg, false)
      }
    }
    if (target.header !== undefined) option.header = target.header
    const connectTimeout = this.options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS
    option.timeout = connectTimeout
    const task = this.deps.wx.connectSocket(option)
    conn.task = task
    // wx's own `timeout` needs base library 2.10.0, and a handshake can hang on a bad network: our own guard.
    conn.openTimer = setTimeout(() => {
      conn.openTimer = undefined
      if (this.conn !== conn || conn.down || conn.opened) return
      this.emit('error', new WeappError(ErrorCodes.timeout, `not connected within ${connectTimeout} ms`))
      this.down(conn, CLOSE_CODES.abnormal, 'connect timeout', true)
    }, connectTimeout)
    task.onOpen(() => {
      if (this.conn !== conn || conn.down) return
      if (conn.openTimer !== undefined) { clearTimeout(conn.openTimer); conn.openTimer = undefined }
      conn.opened = true
      this.currentState = 'open'
      // Frames sent before the greeting wait on the server, so joining at once keeps the order.
      for (const channel of this.channelSet) this.sendJson({ type: 'subscribe', channel })
      this.startHeartbeat(conn)
      this.emit('open', { attempt: this.attempt })
    })
    task.onMessage((res) => {
      if (this.conn !== conn || conn.down) return
      this.frame(conn, res.data)
    })
    task.onError((res) => {
      if (this.conn !== conn || conn.down) return
      this.emit('error', new WeappError(ErrorCodes.socket, res.errMsg))
      this.down(conn, CLOSE_CODES.abnormal, res.errMsg, true)
    })
    task.onClose((res) => {
      this.down(conn, res.code, res.reason, false)
    })
  }

  private async target (): Promise<{ url: string, header?: Record<string, string> }> {
    if (this.options.auth === 'header') {
      const token = await this.deps.auth.ensure()
      return { url: resolveUrl(this.deps.wsUrl, this.deps.wsPath), header: { authorization: `Bearer ${token}` } }
    }
    const issued = await this.deps.request<{ ticket: string, url?: string }>({ path: this.deps.ticketPath, method: 'POST' })
    const path = typeof issued?.url === 'string' ? issued.url : `${this.deps.wsPath}?ticket=${encodeURIComponent(issued.ticket)}`
    return { url: resolveUrl(this.deps.wsUrl, path) }
  }

  private frame (conn: Conn, data: string | ArrayBuffer): void {
    // Any frame proves the connection alive.
    if (this.pongTimer !== undefined) { clearTimeout(this.pongTimer); this.pongTimer = undefined }
    if (typeof data !== 'string') return // the server sends text only
    if (!conn.greeted) {
      conn.greeted = true
      this.attempt = 0
      this.emit('greeting', data)
      return
    }
    const envelope = parseServerEnvelope(data)
    if (envelope === null) { this.emit('message', data); return }
    this.emit('envelope', envelope)
    switch (envelope.type) {
      case 'event': {
        const push: PushEvent = { event: String(envelope.event), data: envelope.data }
        if (typeof envelope.channel === 'string') push.channel = envelope.channel
        this.emit('event', push)
        break
      }
      case 'pong': {
        const id = typeof envelope.id === 'number' ? envelope.id : 0
        const sentAt = this.pingsSent[id]
        delete this.pingsSent[id]
        this.emit('pong', { id, rttMs: sentAt === undefined ? -1 : Date.now() - sentAt })
        break
      }
      case 'subscribed': this.emit('subscribed', String(envelope.channel)); break
      case 'unsubscribed': this.emit('unsubscribed', String(envelope.channel)); break
      case 'error': {
        // A channel the server refused is not joined again after every reconnect.
        if (typeof envelope.channel === 'string') this.channelSet.delete(envelope.channel)
        this.emit('error', new WeappError(String(envelope.code ?? ErrorCodes.socket), String(envelope.message ?? 'socket error')))
        break
      }
    }
  }

  private startHeartbeat (conn: Conn): void {
    const interval = this.options.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS
    if (interval <= 0) return
    const timeout = this.options.heartbeatTimeoutMs ?? DEFAULT_HEARTBEAT_TIMEOUT_MS
    const beat = (): void => {
      this.heartbeatTimer = undefined
      if (this.conn !== conn || conn.down) return
      try { this.ping() } catch { return }
      if (this.pongTimer === undefined) {
        this.pongTimer = setTimeout(() => {
          this.pongTimer = undefined
          if (this.conn !== conn || conn.down) return
          this.emit('error', new WeappError(ErrorCodes.socketClosed, `no answer to the heartbeat within ${timeout} ms`))
          this.down(conn, CLOSE_CODES.heartbeatTimeout, 'heartbeat timeout', true)
        }, timeout)
      }
      this.heartbeatTimer = setTimeout(beat, interval)
    }
    this.heartbeatTimer = setTimeout(beat, interval)
  }

  private clearTimers (): void {
    if (this.reconnectTimer !== undefined) clearTimeout(this.reconnectTimer)
    if (this.heartbeatTimer !== undefined) clearTimeout(this.heartbeatTimer)
    if (this.pongTimer !== undefined) clearTimeout(this.pongTimer)
    this.reconnectTimer = this.heartbeatTimer = this.pongTimer = undefined
    for (const id of Object.keys(this.pingsSent)) delete this.pingsSent[Number(id)]
  }

  /** This connection is over (closed by the server, failed, or dead): decide whether and when to retry. */
  private down (conn: Conn, code: number, reason: string, closeOurs: boolean): void {
    if (conn.down) return
    conn.down = true
    if (conn.openTimer !== undefined) { clearTimeout(conn.openTimer); conn.openTimer = undefined }
    if (closeOurs) closeTask(conn.task, code >= 3000 ? code : CLOSE_CODES.normal, reason)
    if (this.conn !== conn) return
    this.conn = null
    this.clearTimers()
    if (this.stopped) return
    const opened = conn.opened
    // 1008: a newer connection of this user replaced us (per-user cap). Reconnecting would close that
    // one in turn, and the two would take turns for ever: stop, and let the app call connect() again.
    const limit = this.options.maxReconnectAttempts ?? Infinity
    if (code === CLOSE_CODES.replaced || this.attempt >= limit) {
      this.stopped = true
      this.currentState = 'closed'
      if (opened) this.emit('close', { code, reason, reconnectInMs: null })
      if (code === CLOSE_CODES.replaced) this.emit('replaced', { code, reason })
      return
    }
    const delayMs = backoffDelay(this.attempt, this.options.backoff)
    this.attempt++
    this.currentState = 'connecting'
    if (opened) this.emit('close', { code, reason, reconnectInMs: delayMs })
    this.emit('reconnecting', { attempt: this.attempt, delayMs })
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined
      if (!this.stopped) void this.open()
    }, delayMs)
  }
}

function closeTask (task: WechatMiniprogram.SocketTask | null, code: number, reason: string): void {
  if (task === null) return
  try { task.close({ code, reason, fail: () => {} }) } catch { /* already closed */ }
}

function parseServerEnvelope (text: string): Record<string, unknown> | null {
  if (text.charAt(0) !== '{') return null
  let parsed: unknown
  try { parsed = JSON.parse(text) } catch { return null }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return null
  const type = (parsed as { type?: unknown }).type
  return typeof type === 'string' && SERVER_ENVELOPES.indexOf(type) !== -1 ? parsed as Record<string, unknown> : null
}

function asWeappError (err: unknown): WeappError {
  if (err instanceof WeappError) return err
  return new WeappError(ErrorCodes.socket, err instanceof Error ? err.message : String(err))
}
