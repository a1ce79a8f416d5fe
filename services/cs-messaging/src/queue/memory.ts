import { setTimeout as sleep } from 'node:timers/promises'
import type { InboundMessage } from '@weapp/common'
import type { DeadLetter, DeadLetterRetention, Delivery, EnqueueResult, InboundQueue, QueueStats, QueuedMessage } from './types.js'

interface Entry extends QueuedMessage {
  id: string
  addedAt: number
  consumer?: string
  deliveredAt?: number
}

interface Delayed { dueAt: number, item: QueuedMessage }

export interface MemoryInboundQueueOptions {
  dedupTtlMs: number
  /** Default: kept for 30 days, at most 10,000 (the configuration's defaults). */
  deadLetters?: DeadLetterRetention
  now?: () => number
}

const DEFAULT_DEAD_LETTERS: DeadLetterRetention = { retentionMs: 30 * 86_400_000, max: 10_000 }

const SWEEP_INTERVAL_MS = 60_000
const copy = <T>(value: T): T => structuredClone(value)

/**
 * The embedded queue (no REDIS_URL): the same semantics as the Redis stream, in process memory.
 * Everything in it is lost if the process dies, which is what "embedded" means.
 */
export class MemoryInboundQueue implements InboundQueue {
  readonly #ttlMs: number
  readonly #deadLetters: DeadLetterRetention
  readonly #now: () => number
  readonly #seen = new Map<string, number>()
  readonly #entries = new Map<string, Entry>()
  readonly #fresh: string[] = []
  readonly #delayed: Delayed[] = []
  readonly #dead = new Map<string, DeadLetter>()
  readonly #waiters = new Set<() => void>()
  #seq = 0
  #lastMs = 0
  #lastSweep = 0
  #closed = false

  constructor ({ dedupTtlMs, deadLetters = DEFAULT_DEAD_LETTERS, now = Date.now }: MemoryInboundQueueOptions) {
    this.#ttlMs = dedupTtlMs
    this.#deadLetters = deadLetters
    this.#now = now
  }

  async enqueueOnce (key: string, message: InboundMessage, receivedAt: Date): Promise<EnqueueResult> {
    const now = this.#now()
    this.#sweep(now)
    const until = this.#seen.get(key)
    if (until !== undefined && until > now) return 'duplicate'
    this.#seen.set(key, now + this.#ttlMs)
    this.#add({ key, message: copy(message), receivedAt: receivedAt.toISOString(), attempt: 0 })
    return 'queued'
  }

  async read (consumer: string, count: number, blockMs: number): Promise<Delivery[]> {
    if (this.#fresh.length === 0 && blockMs > 0 && !this.#closed) {
      const ac = new AbortController()
      let wake = (): void => {}
      const woken = new Promise<void>((resolve) => { wake = resolve })
      this.#waiters.add(wake)
      await Promise.race([woken, sleep(blockMs, undefined, { signal: ac.signal }).catch(() => {})])
      ac.abort()
      this.#waiters.delete(wake)
    }
    const out: Delivery[] = []
    while (out.length < count && this.#fresh.length > 0) {
      const entry = this.#entries.get(this.#fresh.shift()!)
      if (entry === undefined) continue
      entry.consumer = consumer
      entry.deliveredAt = this.#now()
      out.push(this.#delivery(entry))
    }
    return out
  }

  async claimStale (consumer: string, minIdleMs: number, count: number): Promise<Delivery[]> {
    const now = this.#now()
    const out: Delivery[] = []
    for (const entry of this.#entries.values()) {
      if (out.length >= count) break
      if (entry.deliveredAt === undefined || now - entry.deliveredAt < minIdleMs) continue
      entry.consumer = consumer
      entry.deliveredAt = now
      out.push(this.#delivery(entry))
    }
    return out
  }

  async ack (delivery: Delivery): Promise<void> {
    this.#entries.delete(delivery.id)
  }

  async retry (delivery: Delivery, _error: string, delayMs: number): Promise<void> {
    const entry = this.#entries.get(delivery.id)
    if (entry === undefined) return
    this.#entries.delete(delivery.id)
    this.#delayed.push({ dueAt: this.#now() + delayMs, item: { key: entry.key, message: entry.message, receivedAt: entry.receivedAt, attempt: delivery.attempt + 1 } })
  }

  async promoteDue (): Promise<number> {
    const now = this.#now()
    let moved = 0
    for (let i = 0; i < this.#delayed.length;) {
      const d = this.#delayed[i]!
      if (d.dueAt <= now) {
        this.#delayed.splice(i, 1)
        this.#add(d.item)
        moved++
      } else i++
    }
    return moved
  }

  async deadLetter (delivery: Delivery, error: string): Promise<void> {
    const entry = this.#entries.get(delivery.id)
    if (entry === undefined) return
    this.#entries.delete(delivery.id)
    const id = this.#nextId()
    this.#dead.set(id, { id, key: entry.key, message: entry.message, receivedAt: entry.receivedAt, attempt: delivery.attempt + 1, error, failedAt: new Date(this.#now()).toISOString() })
    // The Map keeps insertion order: the first keys are the oldest dead letters.
    for (const oldest of this.#dead.keys()) {
      if (this.#dead.size <= this.#deadLetters.max) break
      this.#dead.delete(oldest)
    }
  }

  async trimDeadLetters (): Promise<number> {
    const cutoff = this.#now() - this.#deadLetters.retentionMs
    let removed = 0
    for (const [id, dead] of this.#dead) {
      if (Date.parse(dead.failedAt) >= cutoff) continue
      this.#dead.delete(id)
      removed++
    }
    return removed
  }

  async touch (consumer: string, deliveries: Delivery[]): Promise<void> {
    const now = this.#now()
    for (const d of deliveries) {
      const entry = this.#entries.get(d.id)
      if (entry?.consumer === consumer) entry.deliveredAt = now
    }
  }

  async listDeadLetters ({ limit, before }: { limit: number, before?: string | undefined }): Promise<DeadLetter[]> {
    const all = [...this.#dead.values()].reverse()
    const start = before === undefined ? 0 : all.findIndex((d) => compareIds(d.id, before) < 0)
    if (start === -1) return []
    return all.slice(start, start + limit).map(copy)
  }

  async replay (id: string): Promise<string | null> {
    const dead = this.#dead.get(id)
    if (dead === undefined) return null
    this.#dead.delete(id)
    return this.#add({ key: dead.key, message: dead.message, receivedAt: dead.receivedAt, attempt: 0 })
  }

  async stats (): Promise<QueueStats> {
    const now = this.#now()
    let pending = 0
    let oldest = Infinity
    for (const e of this.#entries.values()) {
      if (e.consumer !== undefined) pending++
      oldest = Math.min(oldest, Date.parse(e.receivedAt))
    }
    return {
      length: this.#entries.size,
      pending,
      delayed: this.#delayed.length,
      deadLetters: this.#dead.size,
      oldestAgeMs: oldest === Infinity ? 0 : Math.max(0, now - oldest)
    }
  }

  interrupt (): void {
    this.#wake()
  }

  async close (): Promise<void> {
    this.#closed = true
    this.#wake()
  }

  #add (item: QueuedMessage): string {
    const id = this.#nextId()
    this.#entries.set(id, { ...item, id, addedAt: this.#now() })
    this.#fresh.push(id)
    this.#wake()
    return id
  }

  #wake (): void {
    for (const resolve of this.#waiters) resolve()
    this.#waiters.clear()
  }

  #delivery (entry: Entry): Delivery {
    return { id: entry.id, key: entry.key, message: copy(entry.message), receivedAt: entry.receivedAt, attempt: entry.attempt }
  }

  /** Stream-like ids (ms-seq), increasing even if the clock is moved back. */
  #nextId (): string {
    const ms = Math.max(this.#now(), this.#lastMs)
    if (ms !== this.#lastMs) { this.#lastMs = ms; this.#seq = 0 }
    return `${ms}-${this.#seq++}`
  }

  #sweep (now: number): void {
    if (now - this.#lastSweep < SWEEP_INTERVAL_MS) return
    this.#lastSweep = now
    for (const [key, until] of this.#seen) if (until <= now) this.#seen.delete(key)
  }
}

/** Orders stream ids (ms-seq) numerically. */
export function compareIds (a: string, b: string): number {
  const [am = 0, as = 0] = a.split('-').map(Number)
  const [bm = 0, bs = 0] = b.split('-').map(Number)
  return am !== bm ? am - bm : as - bs
}
