import { randomUUID } from 'node:crypto'
import type { ConsoleEvent } from '@weapp/common'

/** Events held for replay to a reconnecting console (docs/console.md, "Live updates"). */
export const EVENT_LOG_CAPACITY = 1000

/** One relayed event: its number and its `event` frame, serialised once for every socket. */
export interface LoggedEvent {
  seq: number
  frame: string
}

/**
 * The console events this process relayed, numbered from 1 (`seq`) under an `epoch` drawn at start, so a
 * console that reconnects can ask for what it missed: the last `capacity` are held in a ring, older ones
 * are forgotten (the console then reloads by REST).
 */
export class EventLog {
  readonly epoch: string
  readonly #ring: Array<LoggedEvent | undefined>
  #seq = 0

  constructor (capacity = EVENT_LOG_CAPACITY, epoch: string = randomUUID()) {
    this.epoch = epoch
    this.#ring = new Array<LoggedEvent | undefined>(capacity)
  }

  /** The latest event's number (0 before the first). */
  get seq (): number { return this.#seq }

  /** The oldest number still held (seq + 1 when nothing is). */
  get oldest (): number { return Math.max(1, this.#seq - this.#ring.length + 1) }

  append (event: ConsoleEvent): LoggedEvent {
    const seq = ++this.#seq
    const logged = { seq, frame: JSON.stringify({ type: 'event', seq, event }) }
    this.#ring[seq % this.#ring.length] = logged
    return logged
  }

  /**
   * The events numbered after `after` up to the latest, in order; null when some of them are no longer
   * held, or when `after` is ahead of the latest (not a number of this epoch).
   */
  after (after: number): LoggedEvent[] | null {
    if (after > this.#seq || after + 1 < this.oldest) return null
    const events: LoggedEvent[] = []
    for (let seq = after + 1; seq <= this.#seq; seq++) events.push(this.#ring[seq % this.#ring.length]!)
    return events
  }
}
