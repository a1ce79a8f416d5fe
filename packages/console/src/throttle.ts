/** Lets an action through at most once per `intervalMs` (the typing signals); time is passed in for tests. */
export class Throttle {
  private last = -Infinity
  constructor (private readonly intervalMs: number) {}

  /** True when the action may run now (and counts it as run). */
  take (now: number): boolean {
    if (now - this.last < this.intervalMs) return false
    this.last = now
    return true
  }

  reset (): void {
    this.last = -Infinity
  }
}
