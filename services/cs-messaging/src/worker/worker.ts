import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyBaseLogger } from 'fastify'
import { OptionsInvalidError } from '../errors.js'
import type { CsMetrics } from '../metrics.js'
import type { Delivery, InboundQueue } from '../queue/types.js'

export const DEFAULT_BLOCK_MS = 1000
export const DEFAULT_STOP_TIMEOUT_MS = 10_000
/** Pause after the queue itself failed (Redis down), doubling up to this. */
const MAX_ERROR_PAUSE_MS = 5000
/** Pauses between attempts to write how a delivery ended (doubling up to the max). */
const SETTLE_RETRY_BASE_MS = 100
const SETTLE_RETRY_MAX_MS = 1000
/** Due retries are moved back at this granularity (retry delays are much longer). */
const PROMOTE_EVERY_MS = 200
/** Consumers of workers that are gone (nothing pending, idle for an hour) are removed from the group. */
const PRUNE_EVERY_MS = 10 * 60_000
const PRUNE_IDLE_MS = 3600_000
/** Dead letters past DEAD_LETTER_RETENTION_DAYS are deleted this often (and when the worker starts). */
export const DEFAULT_TRIM_EVERY_MS = 60_000
/**
 * Messages a worker holds at most while their user's earlier message is processed. Reading past them is
 * what lets other users' messages through while one user has a backlog; beyond this many, reading waits.
 */
export const DEFAULT_MAX_HELD = 1000

export interface Processor {
  process (delivery: Delivery): Promise<void>
}

export interface WorkerOptions {
  queue: InboundQueue
  processor: Processor
  /** This worker's name in the consumer group: unique per process. */
  consumer: string
  concurrency: number
  /** Attempts before the message is dead-lettered. */
  maxAttempts: number
  retryBaseMs: number
  retryMaxMs: number
  /** Deliveries of other consumers unacknowledged this long are taken over. */
  claimIdleMs: number
  /** How long one read waits for new messages (also bounds how long stop() waits for the loop). */
  blockMs?: number
  /** How long stop() waits for in-flight messages; unfinished ones stay pending for another worker. */
  stopTimeoutMs?: number
  /** Messages held back behind their user's message in process, at most (DEFAULT_MAX_HELD). */
  maxHeld?: number
  /** How often old dead letters are trimmed (DEFAULT_TRIM_EVERY_MS). */
  trimEveryMs?: number
  log: FastifyBaseLogger
  metrics: CsMetrics
}

function describe (err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code
    return `${typeof code === 'string' ? code + ': ' : ''}${err.message}`.slice(0, 500)
  }
  return String(err).slice(0, 500)
}

/**
 * The queue consumer: reads new entries, takes over entries a dead worker left pending, moves due
 * retries back, trims old dead letters, and settles every delivery: ack on success, retry with
 * exponential back-off on failure, dead-letter after maxAttempts.
 *
 * Per user, messages are processed one at a time in queue order; `concurrency` users at once. A message
 * whose user is busy is held (not processed, not counted against concurrency) and reading goes on while
 * a slot is free, so one user's backlog or slow WeChat calls never keep other users' messages waiting.
 * Users take turns: a user with more held messages goes to the back of the line after each message.
 */
export class InboundWorker {
  readonly #o: Required<WorkerOptions>
  /** Messages being processed: at most `concurrency`, one per user. */
  readonly #inflight = new Set<Promise<void>>()
  /** Users with a message being processed. */
  readonly #active = new Set<string>()
  /** Per user, the messages received and not started yet, in queue order. */
  readonly #waiting = new Map<string, Delivery[]>()
  /** Users with waiting messages and none being processed: next served first. */
  readonly #ready: string[] = []
  /** Every delivery received and not yet settled, by id (held ones are touched; claims are not doubled). */
  readonly #owned = new Map<string, Delivery>()
  #held = 0
  readonly #abort = new AbortController()
  #loop: Promise<void> | null = null
  #stopping = false

  constructor (options: WorkerOptions) {
    for (const name of ['concurrency', 'maxAttempts', 'retryBaseMs', 'retryMaxMs', 'claimIdleMs'] as const) {
      if (!Number.isInteger(options[name]) || options[name] < 1) throw new OptionsInvalidError(`worker ${name} must be a positive integer`)
    }
    this.#o = { blockMs: DEFAULT_BLOCK_MS, stopTimeoutMs: DEFAULT_STOP_TIMEOUT_MS, maxHeld: DEFAULT_MAX_HELD, trimEveryMs: DEFAULT_TRIM_EVERY_MS, ...options }
  }

  /** Messages received and waiting behind their user's message in process (tests, metrics). */
  get held (): number { return this.#held }

  get running (): boolean { return this.#loop !== null && !this.#stopping }

  start (): void {
    if (this.#loop !== null) return
    this.#loop = this.#run()
  }

  /** Stops reading, waits for in-flight messages (up to stopTimeoutMs) and returns. */
  async stop (): Promise<void> {
    this.#stopping = true
    this.#abort.abort()
    this.#o.queue.interrupt?.()
    await this.#loop
    if (this.#inflight.size > 0) {
      const ac = new AbortController()
      const settled = Promise.allSettled([...this.#inflight])
      const timedOut = await Promise.race([settled.then(() => false), sleep(this.#o.stopTimeoutMs, true, { signal: ac.signal }).catch(() => false)])
      ac.abort()
      if (timedOut) this.#o.log.warn({ inflight: this.#inflight.size }, 'worker stopped with messages in flight: another worker will take them over')
    }
  }

  /** Delay before attempt n + 1 (n failed attempts so far): exponential, with jitter, capped. */
  backoffMs (failures: number): number {
    const ceiling = Math.min(this.#o.retryMaxMs, this.#o.retryBaseMs * 2 ** Math.max(0, failures - 1))
    return Math.round(ceiling / 2 + Math.random() * ceiling / 2)
  }

  async #run (): Promise<void> {
    const { queue, consumer, concurrency, claimIdleMs, blockMs, maxHeld, trimEveryMs, log } = this.#o
    // Look for abandoned deliveries at least this often (and at once on start: a restart picks them up).
    const claimEveryMs = Math.max(50, Math.min(Math.floor(claimIdleMs / 2), 5000))
    // Held messages are touched well within claimIdleMs, so no other worker takes them as abandoned.
    const touchEveryMs = Math.max(10, Math.floor(claimIdleMs / 3))
    let lastClaim = 0
    let lastPromote = 0
    let lastTouch = Date.now()
    let lastTrim = 0
    let lastPrune = Date.now()
    let errorPause = 100
    while (!this.#stopping) {
      // Housekeeping failures are logged and never hold up reading new messages.
      try {
        if (Date.now() - lastPromote >= PROMOTE_EVERY_MS) {
          lastPromote = Date.now()
          await queue.promoteDue()
        }
        if (queue.pruneConsumers !== undefined && Date.now() - lastPrune >= PRUNE_EVERY_MS) {
          lastPrune = Date.now()
          await queue.pruneConsumers(PRUNE_IDLE_MS)
        }
        if (this.#held > 0 && Date.now() - lastTouch >= touchEveryMs) {
          lastTouch = Date.now()
          await queue.touch(consumer, [...this.#waiting.values()].flat())
        }
        if (Date.now() - lastTrim >= trimEveryMs) {
          lastTrim = Date.now()
          await queue.trimDeadLetters()
        }
        if (Date.now() - lastClaim >= claimEveryMs) {
          lastClaim = Date.now()
          const free = concurrency - this.#inflight.size
          if (free > 0) for (const d of await queue.claimStale(consumer, claimIdleMs, free)) this.#dispatch(d)
        }
      } catch (err) {
        if (this.#stopping) break
        log.warn({ err }, 'queue housekeeping failed')
      }
      try {
        const free = concurrency - this.#inflight.size
        if (free <= 0 || this.#held >= maxHeld) {
          // The pause is cancelled when a message finishes first: otherwise every busy iteration would
          // leave a timer and an abort listener behind until blockMs passes (MaxListenersExceededWarning).
          // Bounded by claimEveryMs too: held messages must be touched in time.
          const pause = this.#cancellablePause(Math.min(blockMs, claimEveryMs))
          try {
            await Promise.race([...this.#inflight, pause.done])
          } finally {
            pause.cancel()
          }
          continue
        }
        const wait = Math.max(1, Math.min(blockMs, claimEveryMs - (Date.now() - lastClaim)))
        for (const d of await queue.read(consumer, free, wait)) this.#dispatch(d)
        errorPause = 100
      } catch (err) {
        if (this.#stopping) break
        log.error({ err }, 'queue read failed; pausing')
        await this.#pause(errorPause)
        errorPause = Math.min(errorPause * 2, MAX_ERROR_PAUSE_MS)
      }
    }
  }

  /** A sleep that stop() cuts short. */
  async #pause (ms: number): Promise<void> {
    await this.#cancellablePause(ms).done
  }

  /**
   * A sleep that stop() cuts short and that can be cancelled: cancel() clears the timer and removes the
   * abort listener (and resolves `done`), so a pause that lost a race leaves nothing behind.
   */
  #cancellablePause (ms: number): { done: Promise<void>, cancel: () => void } {
    const signal = this.#abort.signal
    if (signal.aborted) return { done: Promise.resolve(), cancel: () => {} }
    let finish!: () => void
    const done = new Promise<void>((resolve) => { finish = resolve })
    const cleanUp = (): void => {
      clearTimeout(timer)
      signal.removeEventListener('abort', cleanUp)
      finish()
    }
    const timer = setTimeout(cleanUp, ms)
    signal.addEventListener('abort', cleanUp, { once: true })
    return { done, cancel: cleanUp }
  }

  /**
   * One user's messages are processed one after another, in queue order (replies come in the order the
   * user acted); different users in parallel. A message whose user is busy waits in #waiting, not in a
   * slot: it takes nothing from the other users.
   */
  #dispatch (delivery: Delivery): void {
    // A delivery we hold already (claimed back from ourselves) is not processed twice.
    if (this.#owned.has(delivery.id)) return
    this.#owned.set(delivery.id, delivery)
    const user = delivery.message.FromUserName
    let waiting = this.#waiting.get(user)
    if (waiting === undefined) {
      waiting = []
      this.#waiting.set(user, waiting)
      if (!this.#active.has(user)) this.#ready.push(user)
    }
    waiting.push(delivery)
    this.#held++
    this.#startReady()
  }

  /** Starts the next message of ready users, in turn, while slots are free (never once stopping). */
  #startReady (): void {
    while (!this.#stopping && this.#inflight.size < this.#o.concurrency && this.#ready.length > 0) {
      const user = this.#ready.shift()!
      const waiting = this.#waiting.get(user)!
      const delivery = waiting.shift()!
      this.#held--
      if (waiting.length === 0) this.#waiting.delete(user)
      this.#active.add(user)
      const p: Promise<void> = this.#settle(delivery).finally(() => {
        this.#inflight.delete(p)
        this.#active.delete(user)
        this.#owned.delete(delivery.id)
        // Back of the line: the other ready users go first.
        if (this.#waiting.has(user)) this.#ready.push(user)
        this.#startReady()
      })
      this.#inflight.add(p)
    }
  }

  async #settle (delivery: Delivery): Promise<void> {
    const { queue, processor, maxAttempts, log, metrics } = this.#o
    const stopTimer = metrics.workerSeconds.startTimer()
    try {
      await processor.process(delivery)
    } catch (err) {
      stopTimer()
      const failures = delivery.attempt + 1
      const reason = describe(err)
      if (failures >= maxAttempts) {
        if (await this.#persist(delivery, 'dead-letter', async () => { await queue.deadLetter(delivery, reason) })) {
          metrics.workerFailed.inc({ next: 'dead_letter' })
          metrics.deadLettered.inc()
          log.error({ err, key: delivery.key, attempts: failures }, 'message dead-lettered')
        }
      } else {
        const delayMs = this.backoffMs(failures)
        if (await this.#persist(delivery, 'retry', async () => { await queue.retry(delivery, reason, delayMs) })) {
          metrics.workerFailed.inc({ next: 'retry' })
          log.warn({ err, key: delivery.key, attempts: failures, delayMs }, 'message processing failed; will retry')
        }
      }
      return
    }
    stopTimer()
    if (await this.#persist(delivery, 'ack', async () => { await queue.ack(delivery) })) metrics.workerProcessed.inc()
  }

  /**
   * Writes how a delivery ended (ack, retry, dead letter), trying again for up to half of claimIdleMs: a write
   * that failed (Redis away) or that no replica confirmed (PUSH_DURABILITY=replicated, the primary failing
   * over) is made again, on the new primary, before another worker would take the delivery as abandoned
   * and process it a second time. Given up: it stays pending and is taken over after claimIdleMs.
   */
  async #persist (delivery: Delivery, what: 'ack' | 'retry' | 'dead-letter', write: () => Promise<void>): Promise<boolean> {
    const { claimIdleMs, log } = this.#o
    // Monotonic: a step of the wall clock must neither cut the retries short nor stretch them.
    const deadline = performance.now() + Math.floor(claimIdleMs / 2)
    for (let attempt = 0; ; attempt++) {
      try {
        await write()
        return true
      } catch (err) {
        const pauseMs = Math.min(SETTLE_RETRY_MAX_MS, SETTLE_RETRY_BASE_MS * 2 ** attempt)
        if (this.#stopping || performance.now() + pauseMs >= deadline) {
          this.#o.metrics.workerUnsettled.inc({ what })
          log.error({ err, key: delivery.key, attempts: attempt + 1 }, `could not write the ${what}: the message stays pending`)
          return false
        }
        log.warn({ err, key: delivery.key, attempt: attempt + 1 }, `writing the ${what} failed; trying again`)
        await sleep(pauseMs)
      }
    }
  }
}
