import type { InboundMessage } from '@weapp/common'

/** One recorded push waiting to be processed. */
export interface QueuedMessage {
  /** The de-duplication key (msg:<MsgId> or evt:<from>:<time>:<event>): also the message's id downstream. */
  key: string
  message: InboundMessage
  /** When the push was answered (ISO). */
  receivedAt: string
  /** Processing attempts that failed so far (0 on the first delivery). */
  attempt: number
}

/** A message handed to a worker: ack it, retry it or dead-letter it, by its delivery id. */
export interface Delivery extends QueuedMessage {
  /** The queue entry id (a Redis stream id). */
  id: string
}

export interface DeadLetter extends QueuedMessage {
  /** The dead-letter entry id (what replay takes). */
  id: string
  /** The last failure, as the worker described it. */
  error: string
  failedAt: string
}

export interface QueueStats {
  /** Entries not yet acknowledged (new and in flight). */
  length: number
  /** Delivered to a worker, not yet acknowledged. */
  pending: number
  /** Waiting for a retry. */
  delayed: number
  deadLetters: number
  /** Age of the oldest unacknowledged entry in ms (0 when empty): the queue's lag. */
  oldestAgeMs: number
}

export type EnqueueResult = 'queued' | 'duplicate'

/** How long and how many dead letters a queue keeps (DEAD_LETTER_RETENTION_DAYS, DEAD_LETTER_MAX). */
export interface DeadLetterRetention {
  /** Dead letters older than this are deleted by trimDeadLetters(). */
  retentionMs: number
  /** At most this many are kept: adding one beyond it drops the oldest. */
  max: number
}

/**
 * The inbound queue with its de-duplication: Redis (a stream with a consumer group, one Lua script for
 * dedupe + enqueue) or process memory, both passing test/fixtures/queue-contract.ts.
 */
export interface InboundQueue {
  /**
   * Records the message unless its key was seen within the TTL: de-duplication and enqueue are one
   * atomic step, so either both happen or neither does (then it throws and nothing is recorded).
   */
  enqueueOnce (key: string, message: InboundMessage, receivedAt: Date): Promise<EnqueueResult>
  /** Up to `count` new entries for this consumer, waiting up to blockMs for the first one. */
  read (consumer: string, count: number, blockMs: number): Promise<Delivery[]>
  /** Takes over entries another consumer received and left unacknowledged for at least minIdleMs. */
  claimStale (consumer: string, minIdleMs: number, count: number): Promise<Delivery[]>
  /** Done: removes the entry for good. */
  ack (delivery: Delivery): Promise<void>
  /** Failed: removes the entry and schedules it again (attempt + 1) after delayMs, atomically. */
  retry (delivery: Delivery, error: string, delayMs: number): Promise<void>
  /** Moves retries that are due back into the queue; returns how many. */
  promoteDue (): Promise<number>
  /** Failed for good: removes the entry and parks it in the dead-letter list, atomically. */
  deadLetter (delivery: Delivery, error: string): Promise<void>
  /** Newest first; `before` is the id of the last entry of the previous page. */
  listDeadLetters (options: { limit: number, before?: string | undefined }): Promise<DeadLetter[]>
  /** Puts a dead letter back into the queue (attempt 0); null when there is no such dead letter. */
  replay (id: string): Promise<string | null>
  stats (): Promise<QueueStats>
  /** Deletes dead letters older than the queue's retention; returns how many (the count cap applies on every add). */
  trimDeadLetters (): Promise<number>
  /**
   * Keeps deliveries this consumer holds (received, not yet settled) from looking abandoned: their idle
   * time starts again, so claimStale elsewhere does not take them while they wait behind their user's
   * earlier messages. Deliveries another consumer took over meanwhile are left alone.
   */
  touch (consumer: string, deliveries: Delivery[]): Promise<void>
  /** Forgets consumers (workers that are gone) with nothing pending and idle longer than idleMs. */
  pruneConsumers? (idleMs: number): Promise<number>
  /** Ends a blocked read at once (a worker stopping); later reads work again. */
  interrupt? (): void
  /** Stops blocked reads; closes what the queue created itself. */
  close (): Promise<void>
}
