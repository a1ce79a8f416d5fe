// The clocks an app under test is given: each can be passed where the app wants `() => Date` (`now`) or a
// millisecond clock `() => number` (`nowMs`); both are bound, so `clock.now` can be handed over as is.

/** What both clocks offer. */
export interface TestClock {
  /** The clock's time, ms since the epoch. */
  readonly ms: number
  /** The clock's time, whole seconds since the epoch (WeChat's timestamps). */
  readonly seconds: number
  readonly now: () => Date
  readonly nowMs: () => number
  /** Moves the clock forward by `ms` (a TTL or a window passes without waiting for it). */
  advance (ms: number): void
}

/** Noon UTC on 2025-01-01: far from a day boundary, so nothing a test does crosses midnight by accident. */
export const DEFAULT_CLOCK_START = Date.UTC(2025, 0, 1, 12, 0, 0)

/** A clock that starts at `start` and moves only when told (`advance`): time-dependent results are exact. */
export class ManualClock implements TestClock {
  #ms: number
  constructor (start = DEFAULT_CLOCK_START) { this.#ms = start }
  get ms (): number { return this.#ms }
  /** Sets the time outright (to the millisecond before a deadline, say). */
  set ms (ms: number) { this.#ms = ms }
  get seconds (): number { return Math.floor(this.#ms / 1000) }
  readonly now = (): Date => new Date(this.#ms)
  readonly nowMs = (): number => this.#ms
  advance (ms: number): void { this.#ms += ms }
}

/**
 * A clock that runs with real time from `start` (now by default), so the app's own delays (retries,
 * back-off) pass, and that `advance` jumps forward on top of that.
 */
export class RealTimeClock implements TestClock {
  readonly #origin = Date.now()
  #start: number
  constructor (start = Date.now()) { this.#start = start }
  get ms (): number { return this.#start + (Date.now() - this.#origin) }
  get seconds (): number { return Math.floor(this.ms / 1000) }
  readonly now = (): Date => new Date(this.ms)
  readonly nowMs = (): number => this.ms
  advance (ms: number): void { this.#start += ms }
}
