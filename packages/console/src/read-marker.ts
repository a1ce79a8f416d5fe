// Marks the open conversation read without a request per message: each read is a request and (when it changed
// something) one more event to every console, so a busy conversation left open would otherwise double the
// console traffic. At most one read in flight, at most one per `intervalMs`: the first at once, later ones
// coalesced into one at the end of the interval (docs/console.md, "Live updates").

export interface Timers {
  set: (run: () => void, ms: number) => unknown
  clear: (handle: unknown) => void
  now: () => number
}

const realTimers: Timers = {
  set: (run, ms) => setTimeout(run, ms),
  clear: (handle) => { clearTimeout(handle as ReturnType<typeof setTimeout>) },
  now: () => Date.now()
}

export const READ_INTERVAL_MS = 500

export class ReadMarker {
  private openid: string | null = null
  private timer: unknown = null
  private inFlight = false
  /** A read was wanted while one was in flight: another follows it. */
  private again = false
  private lastSent = -Infinity

  /** `send` marks `openid` read; it decides itself at call time whether the read is still wanted. */
  constructor (
    private readonly send: (openid: string) => Promise<void>,
    private readonly intervalMs: number = READ_INTERVAL_MS,
    private readonly timers: Timers = realTimers
  ) {}

  /** The agent looks at `openid` and it has unread messages. */
  want (openid: string): void {
    if (openid !== this.openid) {
      // Another conversation: its first read is not held back by the previous one's.
      this.cancel()
      this.openid = openid
      this.lastSent = -Infinity
    }
    if (this.timer !== null) return
    if (this.inFlight) {
      this.again = true
      return
    }
    const wait = this.lastSent + this.intervalMs - this.timers.now()
    if (wait <= 0) this.fire()
    else this.timer = this.timers.set(() => { this.timer = null; this.fire() }, wait)
  }

  /**
   * Nothing to read any more (closed, hidden, all read): a pending read is dropped. The interval still counts
   * from the last read, so a stream of messages each read at once (unread 0 between them) stays coalesced.
   */
  cancel (): void {
    if (this.timer !== null) this.timers.clear(this.timer)
    this.timer = null
    this.again = false
  }

  private fire (): void {
    const openid = this.openid
    if (openid === null) return
    this.inFlight = true
    this.lastSent = this.timers.now()
    this.send(openid).catch(() => {}).finally(() => {
      this.inFlight = false
      if (!this.again || this.openid === null) return
      this.again = false
      this.want(this.openid)
    })
  }
}
