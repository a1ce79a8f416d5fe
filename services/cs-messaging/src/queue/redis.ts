import { Cluster } from 'ioredis'
import { defineRedisScripts, duplicateRedis, type InboundMessage, type RedisClient, type RedisScriptCallers } from '@weapp/common'
import { AckNotReplicatedError, OptionsInvalidError } from '../errors.js'
import { ACK, ENQUEUE_ONCE, QUEUE_SCRIPTS } from './scripts.js'
import { ReplicatedWrite } from './replicated-write.js'
import type { DeadLetter, DeadLetterRetention, Delivery, EnqueueResult, InboundQueue, QueueStats } from './types.js'

/** How long past its BLOCK a read may go unanswered before its connection is taken as dead. */
export const BLOCKING_READ_GRACE_MS = 5_000

export const CONSUMER_GROUP = 'workers'
/** How many due retries one promotion moves (the rest follow on the next tick). */
const PROMOTE_BATCH = 100
/** Entry ids per TOUCH script call (the script unpacks them into one XCLAIM). */
const TOUCH_BATCH = 500
/** Dead letters one trim deletes at most (the rest go on the next one: the worker trims every minute). */
const TRIM_BATCH = 1000
const DEFAULT_DEAD_LETTERS: DeadLetterRetention = { retentionMs: 30 * 86_400_000, max: 10_000 }
const STREAM_ID = /^\d{1,20}-\d{1,20}$/

/** The Redis keys of one app's queue. The {hash tag} keeps them in one cluster slot, as the scripts need. */
export function queueKeys (appId: string): { prefix: string, stream: string, retry: string, dead: string, dedup: (key: string) => string } {
  const prefix = `cs:{${appId}}`
  return {
    prefix,
    stream: `${prefix}:inbound`,
    retry: `${prefix}:retry`,
    dead: `${prefix}:dead`,
    dedup: (key) => `${prefix}:dedup:${key}`
  }
}

export interface RedisInboundQueueOptions {
  /** Commands (shared, auto-pipelined). Closed by its owner, not by the queue. */
  redis: RedisClient
  appId: string
  dedupTtlSec: number
  /** Default: kept for 30 days, at most 10,000 (the configuration's defaults). */
  deadLetters?: DeadLetterRetention
  /**
   * PUSH_DURABILITY=replicated: enqueueOnce answers only once its write (or, for a duplicate, a write
   * after the first copy's) is on a replica, waiting at most this long (PUSH_REPLICA_WAIT_MS), else it
   * throws PushNotReplicatedError. Absent: `local`, answered once the primary has it.
   */
  replicaWaitMs?: number
  now?: () => number
}

type Fields = Record<string, string>

function toFields (flat: unknown): Fields | null {
  if (!Array.isArray(flat)) return null
  const out: Fields = {}
  for (let i = 0; i + 1 < flat.length; i += 2) out[String(flat[i])] = String(flat[i + 1])
  return out
}

/** A queue entry as the worker sees it; null when it cannot be one (written by something else than us). */
function toDelivery (id: string, f: Fields): Delivery | null {
  let message: unknown
  try { message = JSON.parse(f.msg ?? '') } catch { return null }
  if (typeof message !== 'object' || message === null || typeof f.key !== 'string' || f.key === '') return null
  return { id, key: f.key, message: message as InboundMessage, receivedAt: f.at ?? '', attempt: Number(f.n ?? 0) }
}

/** Dead letters are listed even when unreadable (they are what an operator must look at). */
function toDeadLetter (id: string, f: Fields): DeadLetter {
  const d = toDelivery(id, f)
  const message = d?.message ?? { ToUserName: '', FromUserName: '', CreateTime: 0, MsgType: 'malformed', raw: f.msg ?? '' }
  return { id, key: f.key ?? '', message, receivedAt: f.at ?? '', attempt: Number(f.n ?? 0), error: f.err ?? '', failedAt: f.failedAt ?? '' }
}

/**
 * The production queue: a Redis Stream with one consumer group (at-least-once delivery, pending entries
 * of a dead consumer taken over with XAUTOCLAIM), a sorted set of delayed retries and a dead-letter
 * stream. Acknowledged entries are deleted, so the stream's length is the work still to do.
 */
export class RedisInboundQueue implements InboundQueue {
  readonly #redis: RedisClient
  readonly #scripts: RedisScriptCallers<typeof QUEUE_SCRIPTS>
  readonly #keys: ReturnType<typeof queueKeys>
  readonly #ttlSec: number
  readonly #deadLetters: DeadLetterRetention
  readonly #now: () => number
  readonly #replicated: ReplicatedWrite<string | null> | null
  /** Replicated: acknowledgements too, or a failover undoes them and the other instance processes again. */
  readonly #replicatedAck: ReplicatedWrite<number> | null
  /** Replicated: how long a read waits for a replica to have its deliveries (PUSH_REPLICA_WAIT_MS). */
  readonly #readWaitMs: number | undefined
  /** Blocking reads hold a connection: they get their own, created on the first read. */
  #blocking: RedisClient | null = null
  #groupReady = false
  #closed = false

  constructor ({ redis, appId, dedupTtlSec, deadLetters = DEFAULT_DEAD_LETTERS, now = Date.now, replicaWaitMs }: RedisInboundQueueOptions) {
    if (typeof redis?.defineCommand !== 'function') throw new OptionsInvalidError('redis must be an ioredis client')
    if (!Number.isInteger(dedupTtlSec) || dedupTtlSec < 1) throw new OptionsInvalidError('dedupTtlSec must be a positive integer')
    if (!Number.isInteger(deadLetters.max) || deadLetters.max < 1) throw new OptionsInvalidError('deadLetters.max must be a positive integer')
    if (!(deadLetters.retentionMs > 0)) throw new OptionsInvalidError('deadLetters.retentionMs must be positive')
    this.#redis = redis
    this.#keys = queueKeys(appId)
    this.#ttlSec = dedupTtlSec
    this.#deadLetters = deadLetters
    this.#now = now
    this.#scripts = defineRedisScripts(redis, QUEUE_SCRIPTS)
    this.#replicated = replicaWaitMs === undefined ? null : new ReplicatedWrite({ redis, script: ENQUEUE_ONCE, timeoutMs: replicaWaitMs })
    this.#replicatedAck = replicaWaitMs === undefined ? null : new ReplicatedWrite({ redis, script: ACK, timeoutMs: replicaWaitMs, notReplicated: (detail) => new AckNotReplicatedError(detail) })
    this.#readWaitMs = replicaWaitMs
  }

  /** `replicated` when pushes are answered only once a replica has them. */
  get durability (): 'local' | 'replicated' { return this.#replicated === null ? 'local' : 'replicated' }

  get keys (): ReturnType<typeof queueKeys> { return this.#keys }

  async enqueueOnce (key: string, message: InboundMessage, receivedAt: Date): Promise<EnqueueResult> {
    const keys = [this.#keys.dedup(key), this.#keys.stream]
    const args = [this.#ttlSec, key, JSON.stringify(message), receivedAt.toISOString()]
    // Replicated: a duplicate rewrites its de-dup key, so the WAIT after it also covers the first copy.
    const id = this.#replicated === null
      ? await this.#scripts.enqueueOnce(keys, args)
      : await this.#replicated.run(keys, [...args, 1])
    return id === null ? 'duplicate' : 'queued'
  }

  async read (consumer: string, count: number, blockMs: number): Promise<Delivery[]> {
    await this.#ensureGroup()
    const conn = this.#blockingConnection()
    const args: Array<string | number> = ['GROUP', CONSUMER_GROUP, consumer, 'COUNT', count]
    if (blockMs > 0) args.push('BLOCK', blockMs)
    args.push('STREAMS', this.#keys.stream, '>')
    const reply = await this.#withGroup(async () => await this.#bounded(conn, blockMs, conn.call('XREADGROUP', ...args))) as Array<[string, Array<[string, unknown]>]> | null
    if (reply === null) return []
    if (this.#readWaitMs !== undefined) await this.#replicateRead(conn, this.#readWaitMs)
    const out: Delivery[] = []
    for (const [, entries] of reply) {
      for (const [id, flat] of entries) {
        const fields = toFields(flat)
        if (fields === null) continue
        const delivery = toDelivery(id, fields)
        if (delivery === null) await this.#parkMalformed(id, fields)
        else out.push(delivery)
      }
    }
    return out
  }

  async claimStale (consumer: string, minIdleMs: number, count: number): Promise<Delivery[]> {
    await this.#ensureGroup()
    const out: Delivery[] = []
    let cursor = '0-0'
    // Walk the pending list once; entries deleted meanwhile come back without fields (Redis 6.2) or
    // in the third element (7.x) and are simply dropped from the pending list by XAUTOCLAIM itself.
    for (let pages = 0; pages < 10 && out.length < count; pages++) {
      const reply = await this.#withGroup(async () => await this.#redis.call('XAUTOCLAIM', this.#keys.stream, CONSUMER_GROUP, consumer, minIdleMs, cursor, 'COUNT', count - out.length)) as [string, Array<[string, unknown] | null>]
      const [next, entries] = reply
      for (const entry of entries) {
        if (entry === null) continue
        const fields = toFields(entry[1])
        if (fields === null) {
          await this.#scripts.ack([this.#keys.stream], [CONSUMER_GROUP, entry[0]])
          continue
        }
        const delivery = toDelivery(entry[0], fields)
        if (delivery === null) await this.#parkMalformed(entry[0], fields)
        else out.push(delivery)
      }
      if (next === '0-0') break
      cursor = next
    }
    return out
  }

  async ack (delivery: Delivery): Promise<void> {
    if (this.#replicatedAck === null) await this.#scripts.ack([this.#keys.stream], [CONSUMER_GROUP, delivery.id])
    else await this.#replicatedAck.run([this.#keys.stream], [CONSUMER_GROUP, delivery.id])
  }

  async retry (delivery: Delivery, error: string, delayMs: number): Promise<void> {
    const member = JSON.stringify({ id: delivery.id, key: delivery.key, msg: JSON.stringify(delivery.message), at: delivery.receivedAt, n: delivery.attempt + 1, err: error.slice(0, 500) })
    await this.#scripts.retry([this.#keys.stream, this.#keys.retry], [CONSUMER_GROUP, delivery.id, this.#now() + delayMs, member])
  }

  async promoteDue (): Promise<number> {
    return await this.#scripts.promoteDue([this.#keys.retry, this.#keys.stream, this.#keys.dead], [this.#now(), PROMOTE_BATCH, new Date(this.#now()).toISOString(), this.#deadLetters.max])
  }

  async deadLetter (delivery: Delivery, error: string): Promise<void> {
    await this.#scripts.deadLetter([this.#keys.stream, this.#keys.dead], [
      CONSUMER_GROUP, delivery.id, delivery.key, JSON.stringify(delivery.message), delivery.receivedAt,
      delivery.attempt + 1, error.slice(0, 2000), new Date(this.#now()).toISOString(), this.#deadLetters.max
    ])
  }

  /** By each dead letter's failedAt (our clock, as everything else the queue decides by time). */
  async trimDeadLetters (): Promise<number> {
    const cutoff = new Date(Math.max(0, this.#now() - this.#deadLetters.retentionMs)).toISOString()
    return await this.#scripts.trimDeadLetters([this.#keys.dead], [cutoff, TRIM_BATCH])
  }

  async touch (consumer: string, deliveries: Delivery[]): Promise<void> {
    for (let i = 0; i < deliveries.length; i += TOUCH_BATCH) {
      const ids = deliveries.slice(i, i + TOUCH_BATCH).map((d) => d.id)
      await this.#scripts.touch([this.#keys.stream], [CONSUMER_GROUP, consumer, ...ids])
    }
  }

  async listDeadLetters ({ limit, before }: { limit: number, before?: string | undefined }): Promise<DeadLetter[]> {
    if (before !== undefined && !STREAM_ID.test(before)) return []
    const end = before === undefined ? '+' : `(${before}`
    const reply = await this.#redis.xrevrange(this.#keys.dead, end, '-', 'COUNT', limit)
    return reply.map(([id, flat]) => toDeadLetter(id, toFields(flat) ?? {}))
  }

  async replay (id: string): Promise<string | null> {
    if (!STREAM_ID.test(id)) return null
    return await this.#scripts.replay([this.#keys.dead, this.#keys.stream], [id])
  }

  async stats (): Promise<QueueStats> {
    const [length, pendingSummary, delayed, dead, oldest] = await Promise.all([
      this.#redis.xlen(this.#keys.stream),
      this.#redis.call('XPENDING', this.#keys.stream, CONSUMER_GROUP).catch(() => null) as Promise<[number] | null>,
      this.#redis.zcard(this.#keys.retry),
      this.#redis.xlen(this.#keys.dead),
      this.#redis.xrange(this.#keys.stream, '-', '+', 'COUNT', 1)
    ])
    const first = oldest[0]
    const at = first === undefined ? NaN : Date.parse(toFields(first[1])?.at ?? '')
    return {
      length,
      pending: Number(pendingSummary?.[0] ?? 0),
      delayed,
      deadLetters: dead,
      oldestAgeMs: Number.isNaN(at) ? 0 : Math.max(0, this.#now() - at)
    }
  }

  async pruneConsumers (idleMs: number): Promise<number> {
    const consumers = await this.#redis.call('XINFO', 'CONSUMERS', this.#keys.stream, CONSUMER_GROUP) as unknown[][]
    let removed = 0
    for (const flat of consumers) {
      const info = toFields(flat) ?? {}
      if (Number(info.pending) === 0 && Number(info.idle) > idleMs && info.name !== undefined) {
        await this.#redis.xgroup('DELCONSUMER', this.#keys.stream, CONSUMER_GROUP, info.name)
        removed++
      }
    }
    return removed
  }

  /**
   * The blocking connection has no command timeout (BLOCK outlasts any): a read unanswered BLOCKING_READ_GRACE_MS
   * past its BLOCK means a dead connection no RST announced (a frozen or partitioned primary), which TCP
   * would notice only after hours. That connection is dropped, and the next read opens a new one.
   */
  async #bounded<T> (conn: RedisClient, blockMs: number, call: Promise<T>, command = 'XREADGROUP'): Promise<T> {
    let timer: NodeJS.Timeout | undefined
    const limitMs = blockMs + BLOCKING_READ_GRACE_MS
    const stalled = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        if (this.#blocking === conn) this.#blocking = null
        conn.disconnect()
        reject(new Error(`no answer to ${command} within ${limitMs} ms: its connection was dropped`))
      }, limitMs)
    })
    call.catch(() => {}) // rejected by the disconnect once the race is lost
    try {
      return await Promise.race([call, stalled])
    } finally {
      clearTimeout(timer)
    }
  }

  /**
   * Replicated: a read is a write too (the group's last-delivered id, this consumer's pending entries). Not
   * yet on the replica when the primary dies, the promoted replica hands the same entries to another
   * instance as new while this one processes them: processed twice (seen in the failover test). So the
   * deliveries are processed only after WAIT on the connection that read them. Its connection lost (the
   * primary died): throws, and the entries stay pending, taken over once after WORKER_CLAIM_IDLE_MS, or, if
   * the read never reached the replica, delivered again once. A live primary with no replica confirming in
   * time: processed all the same (pushes are refused meanwhile, so only the backlog waits on it).
   */
  async #replicateRead (conn: RedisClient, waitMs: number): Promise<void> {
    // On a Cluster, WAIT must reach the node the read went to: in a pipeline with a command on the stream's key.
    const waited = conn instanceof Cluster
      ? conn.pipeline().xlen(this.#keys.stream).call('WAIT', 1, waitMs).exec().then((replies) => {
        const reply = replies?.[1]
        if (reply === undefined) throw new Error('no answer to WAIT')
        if (reply[0] !== null) throw reply[0]
        return reply[1]
      })
      : conn.call('WAIT', 1, waitMs)
    await this.#bounded(conn, waitMs, waited, 'WAIT')
  }

  interrupt (): void {
    // A blocked XREADGROUP ends with its connection; the next read opens a new one.
    const conn = this.#blocking
    this.#blocking = null
    if (conn !== null) conn.disconnect()
  }

  async close (): Promise<void> {
    this.#closed = true
    // The shared client belongs to whoever made it; the blocking one and the replicated writes' are ours.
    this.interrupt()
    this.#replicated?.close()
    this.#replicatedAck?.close()
  }

  /** An entry no worker can process is moved to the dead-letter stream as it is, so it blocks nothing. */
  async #parkMalformed (id: string, fields: Fields): Promise<void> {
    await this.#scripts.parkMalformed([this.#keys.stream, this.#keys.dead], [CONSUMER_GROUP, id, JSON.stringify(fields), new Date(this.#now()).toISOString(), this.#deadLetters.max])
  }

  #blockingConnection (): RedisClient {
    if (this.#closed) throw new Error('queue is closed')
    if (this.#blocking === null) {
      // On a Cluster, XREADGROUP BLOCK goes to the node that owns the stream's slot (the app's hash tag).
      this.#blocking = duplicateRedis(this.#redis, { enableAutoPipelining: false, commandTimeout: undefined, enableOfflineQueue: true, lazyConnect: false })
      this.#blocking.on('error', () => {})
    }
    return this.#blocking
  }

  async #ensureGroup (): Promise<void> {
    if (this.#groupReady) return
    try {
      await this.#redis.xgroup('CREATE', this.#keys.stream, CONSUMER_GROUP, '0', 'MKSTREAM')
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('BUSYGROUP')) throw err
    }
    this.#groupReady = true
  }

  /** Re-creates the group once if it vanished (a flushed or restored Redis). */
  async #withGroup<T> (fn: () => Promise<T>): Promise<T> {
    try {
      return await fn()
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOGROUP')) throw err
      this.#groupReady = false
      await this.#ensureGroup()
      return await fn()
    }
  }
}
