interface Window {
  startedAt: number
  count: number
}

const SWEEP_FLOOR = 10_000

/**
 * "N calls per minute" per key. The window opens with the first call of a key and lasts a minute:
 * exact for tests (no dependence on where wall-clock minute boundaries fall) and O(1) per call.
 */
export class MinuteLimiter {
  readonly #limit: number
  readonly #windows = new Map<string, Window>()
  #sweepAt = SWEEP_FLOOR

  constructor (limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError('a per-minute limit must be a positive integer')
    this.#limit = limit
  }

  /** Counts a call; false when the key already used its quota in the current window. */
  take (key: string, now: number): boolean {
    let w = this.#windows.get(key)
    if (w === undefined || now - w.startedAt >= 60_000) {
      if (this.#windows.size >= this.#sweepAt) {
        this.#sweep(now)
        this.#sweepAt = Math.max(SWEEP_FLOOR, this.#windows.size * 2)
      }
      w = { startedAt: now, count: 0 }
      this.#windows.set(key, w)
    }
    if (w.count >= this.#limit) return false
    w.count++
    return true
  }

  clear (): void {
    this.#windows.clear()
  }

  #sweep (now: number): void {
    for (const [key, w] of this.#windows) if (now - w.startedAt >= 60_000) this.#windows.delete(key)
  }
}
