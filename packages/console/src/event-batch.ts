// Socket events applied in batches: one render per animation frame however many events arrived in it. Each
// WebSocket message is a task of its own, so applied one by one every event re-rendered the inbox; at tens of
// events a second on a busy conversation the renders took the main thread and the frames themselves queued
// behind them (bench/README.md, `pnpm bench:console`).

/** Runs `flush` soon: at the next animation frame, or after a short timeout in a hidden tab (no frames there). */
export type Scheduler = (flush: () => void) => void

export const HIDDEN_FLUSH_MS = 100

export const nextFrame: Scheduler = (flush) => {
  if (document.visibilityState === 'hidden' || typeof requestAnimationFrame === 'undefined') setTimeout(flush, HIDDEN_FLUSH_MS)
  else requestAnimationFrame(flush)
}

export class EventBatch<T> {
  private pending: T[] = []
  private scheduled = false

  constructor (private readonly apply: (batch: T[]) => void, private readonly schedule: Scheduler = nextFrame) {}

  /** Queues an event; the batch is applied in arrival order at the next flush. */
  add (event: T): void {
    this.pending.push(event)
    if (this.scheduled) return
    this.scheduled = true
    this.schedule(() => { this.flush() })
  }

  /** Applies what is queued now (also before anything that must see every event so far, e.g. a resync). */
  flush (): void {
    this.scheduled = false
    if (this.pending.length === 0) return
    const batch = this.pending
    this.pending = []
    this.apply(batch)
  }
}
