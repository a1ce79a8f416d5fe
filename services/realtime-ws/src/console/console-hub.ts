import { randomUUID } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import { BusChannels, type AgentIdentity, type AgentRef, type Bus, type BusEvent, type ConsoleClientFrame } from '@weapp/common'
import type { Connection } from '../hub/connection.js'
import { EventLog } from './event-log.js'
import { ANNOUNCE_EVERY_MS, Presence, type AgentState, type PresenceChange } from './presence.js'
import { RESYNC_REQUIRED, isConsoleEvent, readClientFrame, readPresence } from './frames.js'

/**
 * How long a new socket's events wait for its `hello`: the replay it asks for then comes before them, in
 * order, and nothing twice. A console that says nothing gets them after this.
 */
export const HELLO_WAIT_MS = 1000
/** How often typing ends and stale entries of other instances are looked for. */
export const SWEEP_EVERY_MS = 1000
/** An agent that keeps typing is re-announced to the other instances at most this often. */
export const TYPING_ANNOUNCE_MS = 1000
/** How long shutdown waits for its last announcements (agents gone from here) to be published. */
export const GOODBYE_WAIT_MS = 500

export interface ConsoleHubOptions {
  bus: Bus
  log: FastifyBaseLogger
  now: () => number
  /** This instance's name in presence announcements; random per start by default. */
  instance?: string
  helloWaitMs?: number
}

interface ConsoleSocket {
  conn: Connection
  agent: AgentRef
  /** Live: events are sent as relayed. Before (waiting for hello) they are sent from the log when it comes. */
  live: boolean
  /** The latest event number this socket was sent or told about (the welcome's). */
  cursor: number
  helloTimer: NodeJS.Timeout | null
}

/**
 * The agent console's sockets on this instance (docs/console.md, "Live updates"): relays the console events
 * from the bus, numbered in this process's log, replays them on `hello`, and keeps and shares who views and
 * types where (`console.presence` on the bus, between instances).
 */
export class ConsoleHub {
  readonly instance: string
  readonly events = new EventLog()
  readonly presence = new Presence()
  readonly #o: ConsoleHubOptions
  readonly #sockets = new Map<Connection, ConsoleSocket>()
  /** When each agent here was last announced (typing refreshes are throttled by it). */
  readonly #announced = new Map<string, number>()
  #unsubscribe: (() => Promise<void>) | null = null
  #sweeper: NodeJS.Timeout | null = null
  #lastAnnounceAll = 0
  #closing = false

  constructor (options: ConsoleHubOptions) {
    this.#o = options
    this.instance = options.instance ?? randomUUID()
  }

  get size (): number { return this.#sockets.size }

  async start (): Promise<void> {
    this.#unsubscribe = await this.#o.bus.subscribe(BusChannels.console, (event) => {
      try { this.#fromBus(event) } catch (err) { this.#o.log.error({ err }, 'console bus event handling failed') }
    })
    this.#lastAnnounceAll = this.#o.now()
    this.#sweeper = setInterval(() => { this.#sweep() }, SWEEP_EVERY_MS)
    this.#sweeper.unref()
  }

  /** A console socket the hub registered: the welcome, who is where already, events after its hello. */
  open (conn: Connection, identity: AgentIdentity): void {
    const agent: AgentRef = { agentId: identity.agentId, displayName: identity.displayName }
    const socket: ConsoleSocket = { conn, agent, live: false, cursor: this.events.seq, helloTimer: null }
    this.#sockets.set(conn, socket)
    conn.socket.once('close', () => { this.#drop(socket) })
    conn.send(JSON.stringify({ type: 'welcome', epoch: this.events.epoch, seq: socket.cursor, agent }))
    for (const openid of this.presence.openids()) {
      const view = this.presence.lookAt(openid, agent.agentId)
      if (view.viewing.length > 0) conn.send(JSON.stringify({ type: 'presence', openid, ...view }))
    }
    socket.helloTimer = setTimeout(() => { this.#goLive(socket, socket.cursor) }, this.#o.helloWaitMs ?? HELLO_WAIT_MS)
    socket.helloTimer.unref()
  }

  /** A text frame from a console socket (already admitted by the frame limits). */
  receive (conn: Connection, text: string): void {
    const socket = this.#sockets.get(conn)
    if (socket === undefined) return
    const read = readClientFrame(text)
    if ('error' in read) { conn.send(read.error); return }
    this.#handle(socket, read.frame)
  }

  #handle (socket: ConsoleSocket, frame: ConsoleClientFrame): void {
    const now = this.#o.now()
    switch (frame.type) {
      case 'hello':
        this.#hello(socket, frame.epoch, frame.after)
        return
      case 'viewing':
        this.#changed(this.presence.view(socket.conn.id, socket.agent, frame.openid, now), socket.agent, now)
        return
      case 'typing': {
        const changes = this.presence.type(socket.conn.id, socket.agent, frame.openid, now)
        if (changes.length > 0) this.#changed(changes, socket.agent, now)
        // Still typing: the other instances' copy would run out without a refresh.
        else if (now - (this.#announced.get(socket.agent.agentId) ?? 0) >= TYPING_ANNOUNCE_MS) this.#announce(this.presence.localState(socket.agent), now)
      }
    }
  }

  /**
   * `hello {}`: nothing to replay. `hello {epoch, after}` of this epoch with every event after `after` still
   * held: those events, in order. Anything else (another epoch, events no longer held, a half hello):
   * `resync-required`, then the events since the welcome.
   */
  #hello (socket: ConsoleSocket, epoch: string | undefined, after: number | undefined): void {
    if (epoch === undefined && after === undefined) { this.#goLive(socket, socket.cursor); return }
    const missed = epoch === this.events.epoch && after !== undefined ? this.events.after(after) : null
    if (missed === null) {
      socket.conn.send(RESYNC_REQUIRED)
      this.#goLive(socket, socket.cursor, true)
      return
    }
    for (const logged of missed) socket.conn.send(logged.frame)
    this.#live(socket)
  }

  /** Sends what was relayed after `from` and puts the socket on live delivery. */
  #goLive (socket: ConsoleSocket, from: number, resyncSent = false): void {
    if (socket.live) return
    const pending = this.events.after(from)
    if (pending === null) {
      if (!resyncSent) socket.conn.send(RESYNC_REQUIRED)
    } else {
      for (const logged of pending) socket.conn.send(logged.frame)
    }
    this.#live(socket)
  }

  #live (socket: ConsoleSocket): void {
    socket.live = true
    socket.cursor = this.events.seq
    if (socket.helloTimer !== null) { clearTimeout(socket.helloTimer); socket.helloTimer = null }
  }

  #drop (socket: ConsoleSocket): void {
    if (this.#sockets.get(socket.conn) !== socket) return
    this.#sockets.delete(socket.conn)
    if (socket.helloTimer !== null) clearTimeout(socket.helloTimer)
    const now = this.#o.now()
    const changes = this.presence.drop(socket.conn.id, now)
    if (this.#closing) return
    this.#changed(changes, socket.agent, now)
    const stillHere = [...this.#sockets.values()].some((s) => s.agent.agentId === socket.agent.agentId)
    if (!stillHere) this.#announced.delete(socket.agent.agentId)
  }

  #fromBus (event: BusEvent): void {
    if (event.type === 'console.event') {
      if (!isConsoleEvent(event.event)) { this.#o.log.warn('console.event without a conversation, message or note: not relayed'); return }
      const logged = this.events.append(event.event)
      for (const socket of this.#sockets.values()) {
        if (!socket.live) continue
        socket.conn.send(logged.frame)
        socket.cursor = logged.seq
      }
      return
    }
    if (event.type === 'console.presence') {
      if (event.instance === this.instance) return
      const read = readPresence(event)
      if (read === null) { this.#o.log.warn('malformed console.presence ignored'); return }
      this.#show(this.presence.applyRemote(read.instance, read.state, this.#o.now()))
    }
  }

  /** A change of an agent here: shown to the other consoles here and announced to the other instances. */
  #changed (changes: PresenceChange[], agent: AgentRef, now: number): void {
    if (changes.length === 0) return
    this.#show(changes)
    this.#announce(this.presence.localState(agent), now)
  }

  /** `presence` frames for the conversations that changed, to every console but the changing agent's. */
  #show (changes: PresenceChange[]): void {
    if (changes.length === 0 || this.#sockets.size === 0) return
    const seen = new Set<string>()
    for (const { openid, agentId } of changes) {
      const key = `${openid}\u0000${agentId}`
      if (seen.has(key)) continue
      seen.add(key)
      const frames = new Map<string, string>()
      for (const socket of this.#sockets.values()) {
        const viewer = socket.agent.agentId
        if (viewer === agentId) continue
        let frame = frames.get(viewer)
        if (frame === undefined) {
          frame = JSON.stringify({ type: 'presence', openid, ...this.presence.lookAt(openid, viewer) })
          frames.set(viewer, frame)
        }
        socket.conn.send(frame)
      }
    }
  }

  #announce (state: AgentState, now: number): void {
    if (this.#closing) return
    this.#announced.set(state.agent.agentId, now)
    this.#publish(state, now)
  }

  #publish (state: AgentState, now: number): Promise<void> {
    return this.#o.bus.publish(BusChannels.console, {
      type: 'console.presence', agent: state.agent, openid: state.openid, typing: state.typing, at: new Date(now).toISOString(), instance: this.instance
    }).catch((err: unknown) => { this.#o.log.warn({ err }, 'console presence not published') })
  }

  #sweep (): void {
    const now = this.#o.now()
    const { changes, ended } = this.presence.sweep(now)
    this.#show(changes)
    for (const agent of ended) this.#announce(this.presence.localState(agent), now)
    if (now - this.#lastAnnounceAll >= ANNOUNCE_EVERY_MS) {
      this.#lastAnnounceAll = now
      for (const state of this.presence.localStates()) this.#announce(state, now)
    }
  }

  /**
   * Shutdown: stop listening, tell the other instances the agents here are gone (waiting at most
   * GOODBYE_WAIT_MS); the hub closes the sockets themselves.
   */
  async close (): Promise<void> {
    if (this.#closing) return
    this.#closing = true
    if (this.#sweeper !== null) clearInterval(this.#sweeper)
    for (const socket of this.#sockets.values()) if (socket.helloTimer !== null) clearTimeout(socket.helloTimer)
    const off = this.#unsubscribe
    this.#unsubscribe = null
    await off?.().catch(() => {})
    const now = this.#o.now()
    const goodbyes = this.presence.localStates().map(async (state) => { await this.#publish({ agent: state.agent, openid: null, typing: false }, now) })
    let timer: NodeJS.Timeout | undefined
    await Promise.race([Promise.allSettled(goodbyes), new Promise<void>((resolve) => { timer = setTimeout(resolve, GOODBYE_WAIT_MS) })])
    clearTimeout(timer)
  }
}
