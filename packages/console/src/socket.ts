import type { AgentRef, ConsoleClientFrame, ConsoleEvent, ConsoleServerFrame } from '@weapp/common'
import { Throttle } from './throttle.js'

// The console's live connection to realtime-ws (`/console/ws`, same origin, the session cookie):
// `hello {epoch, after}` after every reconnect so missed events are replayed (or `resync-required`, and the
// app reloads by REST), `viewing` when a conversation opens or closes and every 20 s, `typing` at most once
// per 3 s. Reconnects with a capped, jittered backoff.

/** `replaced`: realtime-ws closed this socket for a newer one of the same agent (too many tabs): not retried. */
export type SocketState = 'connecting' | 'open' | 'closed' | 'replaced'

export interface SocketHandlers {
  state: (state: SocketState) => void
  event: (event: ConsoleEvent) => void
  /** Reload the list and the open conversation by REST (first connect, or events were lost). */
  resync: () => void
  presence: (openid: string, viewing: AgentRef[], typing: AgentRef[]) => void
  /** The server ended the session (close code 4001): back to the login screen. */
  ended: () => void
  /** A connection failed before opening: the app checks the session (a 401 logs it out). */
  failed: () => void
}

export const VIEWING_REANNOUNCE_MS = 20_000
export const TYPING_FRAME_INTERVAL_MS = 3_000
const SESSION_ENDED = 4001
/** realtime-ws's per-agent connection cap closes the oldest socket with 1008: retrying would close another tab's. */
const REPLACED = 1008

/** The reconnect delay after `attempt` failures: 0.5 s doubling to 15 s, ±20 % so consoles do not stampede. */
export function backoffDelay (attempt: number, random: number = Math.random()): number {
  const base = Math.min(15_000, 500 * 2 ** attempt)
  return Math.round(base * (0.8 + 0.4 * random))
}

export function socketUrl (location: Pick<Location, 'protocol' | 'host'>): string {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/console/ws`
}

export class ConsoleSocket {
  private ws: WebSocket | null = null
  private stopped = false
  private attempt = 0
  private retryTimer: ReturnType<typeof setTimeout> | undefined
  private viewingTimer: ReturnType<typeof setInterval> | undefined
  /** The last event seen: its process's epoch and seq, for hello after a reconnect. */
  private epoch: string | null = null
  private seq: number | null = null
  private welcome: { epoch: string, seq: number } | null = null
  private viewingOpenid: string | null = null
  private readonly typingThrottle = new Throttle(TYPING_FRAME_INTERVAL_MS)

  constructor (private readonly handlers: SocketHandlers, private readonly url: string = socketUrl(window.location)) {}

  start (): void {
    this.stopped = false
    this.connect()
    this.viewingTimer = setInterval(() => { this.sendViewing() }, VIEWING_REANNOUNCE_MS)
  }

  stop (): void {
    this.stopped = true
    clearTimeout(this.retryTimer)
    clearInterval(this.viewingTimer)
    const ws = this.ws
    this.ws = null
    ws?.close(1000)
    this.handlers.state('closed')
  }

  /** The conversation the agent has open (null: none); announced now and re-announced every 20 s. */
  viewing (openid: string | null): void {
    this.viewingOpenid = openid
    this.typingThrottle.reset()
    this.sendViewing()
  }

  /** The agent types in the reply box of `openid` (sent at most once per 3 s). */
  typing (openid: string, now: number = Date.now()): void {
    if (this.ws?.readyState !== WebSocket.OPEN) return
    if (this.typingThrottle.take(now)) this.send({ type: 'typing', openid })
  }

  private sendViewing (): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.send({ type: 'viewing', openid: this.viewingOpenid })
  }

  private send (frame: ConsoleClientFrame): void {
    this.ws?.send(JSON.stringify(frame))
  }

  private connect (): void {
    this.handlers.state('connecting')
    const ws = new WebSocket(this.url)
    this.ws = ws
    let opened = false
    ws.onopen = () => {
      opened = true
      this.attempt = 0
    }
    ws.onmessage = (message) => {
      if (this.ws !== ws || typeof message.data !== 'string') return
      let frame: ConsoleServerFrame
      try {
        frame = JSON.parse(message.data) as ConsoleServerFrame
      } catch {
        return
      }
      this.receive(frame)
    }
    ws.onclose = (close) => {
      if (this.ws !== ws) return
      this.ws = null
      this.handlers.state('closed')
      if (this.stopped) return
      if (close.code === SESSION_ENDED) {
        this.stopped = true
        clearInterval(this.viewingTimer)
        this.handlers.ended()
        return
      }
      if (close.code === REPLACED) {
        this.stopped = true
        clearInterval(this.viewingTimer)
        this.handlers.state('replaced')
        return
      }
      if (!opened) this.handlers.failed()
      this.retryTimer = setTimeout(() => { if (!this.stopped) this.connect() }, backoffDelay(this.attempt++))
    }
  }

  private receive (frame: ConsoleServerFrame): void {
    switch (frame.type) {
      case 'welcome': {
        this.welcome = { epoch: frame.epoch, seq: frame.seq }
        const resume = this.epoch !== null && this.seq !== null
        this.send(resume ? { type: 'hello', epoch: this.epoch ?? undefined, after: this.seq ?? undefined } : { type: 'hello' })
        if (!resume) {
          // Nothing seen yet: start from this process's latest event and load the rest by REST.
          this.epoch = frame.epoch
          this.seq = frame.seq
          this.handlers.resync()
        }
        this.handlers.state('open')
        this.sendViewing()
        return
      }
      case 'event':
        if (this.welcome !== null && this.epoch === this.welcome.epoch && this.seq !== null && frame.seq <= this.seq) return
        this.epoch = this.welcome?.epoch ?? this.epoch
        this.seq = frame.seq
        this.handlers.event(frame.event)
        return
      case 'resync-required':
        this.epoch = this.welcome?.epoch ?? null
        this.seq = this.welcome?.seq ?? null
        this.handlers.resync()
        return
      case 'presence':
        this.handlers.presence(frame.openid, frame.viewing, frame.typing)
    }
  }
}
