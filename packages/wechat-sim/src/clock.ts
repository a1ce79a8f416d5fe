/**
 * The simulator's time: a base clock plus an offset that only moves forward (POST /sim/clock), so tests
 * can expire codes and tokens without waiting.
 */
export class SimClock {
  readonly #base: () => number
  #offsetMs = 0

  constructor (base: () => number = Date.now) {
    this.#base = base
  }

  now (): number {
    return this.#base() + this.#offsetMs
  }

  advance (ms: number): number {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError('advanceMs must be a non-negative number')
    this.#offsetMs += ms
    return this.now()
  }

  reset (): void {
    this.#offsetMs = 0
  }
}
