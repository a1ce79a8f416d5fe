import { Cluster, type Redis } from 'ioredis'
import { defineRedisScripts, duplicateRedis, type RedisClient, type RedisScript, type RedisScriptArg, type RedisScriptCaller } from '@weapp/common'
import { OptionsInvalidError, PushNotReplicatedError } from '../errors.js'

/** The most replicas a write may be asked to reach (a primary rarely has more). */
const MAX_REPLICAS = 16
/** WAIT's own limit: the push must be answered within WeChat's 5 s. */
const MAX_WAIT_MS = 4500

export interface ReplicatedWriteOptions<Result> {
  /** The service's client (one server, Sentinel or Cluster). A connection of its own is made from it. */
  redis: RedisClient
  /** The script whose writes must be on a replica before its result is returned. */
  script: RedisScript<Result>
  /** How many replicas must confirm. Default 1. */
  replicas?: number
  /** How long WAIT may block (PUSH_REPLICA_WAIT_MS). */
  timeoutMs: number
  /** The error thrown when too few replicas confirmed (default PushNotReplicatedError). */
  notReplicated?: (detail: string) => Error
}

/**
 * Runs one script and returns its result only once its writes are on `replicas` replicas (`WAIT`), or
 * throws PushNotReplicatedError. WAIT covers every write made before it on the same connection and blocks
 * that connection, so the writes go through a connection of their own (the shared one keeps serving the
 * worker while a replica is away):
 * - one server or Sentinel: the script, then one WAIT per event-loop turn for every script answered
 *   before it (a WAIT sent after a script's answer covers that script's write);
 * - Cluster: WAIT must reach the node that owns the keys' slot: the script and WAIT go in one pipeline,
 *   which ioredis sends to the node of the pipeline's keys (WAIT has none).
 * A script that writes nothing makes WAIT return at once; a caller whose reply stands for an earlier
 * write (a duplicate) must have the script write again (the replication stream is in order: a replica
 * past the new write has the earlier one too).
 */
export class ReplicatedWrite<Result> {
  readonly #conn: RedisClient
  readonly #run: RedisScriptCaller<Result>
  readonly #scriptName: string
  readonly #replicas: number
  readonly #timeoutMs: number
  readonly #notReplicated: (detail: string) => Error
  #nextWait: Promise<number> | null = null

  constructor ({ redis, script, replicas = 1, timeoutMs, notReplicated = (detail) => new PushNotReplicatedError(detail) }: ReplicatedWriteOptions<Result>) {
    if (typeof redis?.duplicate !== 'function') throw new OptionsInvalidError('redis must be an ioredis client')
    if (!Number.isInteger(replicas) || replicas < 1 || replicas > MAX_REPLICAS) throw new OptionsInvalidError(`replicas must be an integer from 1 to ${MAX_REPLICAS}`)
    if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_WAIT_MS) throw new OptionsInvalidError(`timeoutMs must be an integer from 1 to ${MAX_WAIT_MS}`)
    this.#replicas = replicas
    this.#timeoutMs = timeoutMs
    this.#scriptName = script.name
    this.#notReplicated = notReplicated
    // Queued while connecting (the first pushes after boot): the push route's deadline bounds the wait.
    this.#conn = duplicateRedis(redis, { enableOfflineQueue: true })
    this.#conn.on('error', () => {}) // the shared client logs the outages
    this.#run = defineRedisScripts(this.#conn, { run: script }).run
  }

  async run (keys: readonly string[], args: readonly RedisScriptArg[]): Promise<Result> {
    let result: Result
    let confirmed: number
    if (this.#conn instanceof Cluster) {
      const pipeline = this.#conn.pipeline() as unknown as Record<string, (...a: RedisScriptArg[]) => unknown> & { call: (...a: RedisScriptArg[]) => unknown, exec: () => Promise<Array<[Error | null, unknown]> | null> }
      pipeline[this.#scriptName]!(...keys, ...args)
      pipeline.call('WAIT', this.#replicas, this.#timeoutMs)
      const replies = await pipeline.exec()
      const [scriptReply, waitReply] = replies ?? []
      if (scriptReply === undefined || waitReply === undefined) throw new Error('no answer from the pipeline')
      if (scriptReply[0] !== null) throw scriptReply[0]
      if (waitReply[0] !== null) throw waitReply[0]
      result = scriptReply[1] as Result
      confirmed = Number(waitReply[1])
    } else {
      result = await this.#run(keys, args)
      confirmed = await this.#wait(this.#conn)
    }
    if (confirmed < this.#replicas) throw this.#notReplicated(`${confirmed} of ${this.#replicas} replicas within ${this.#timeoutMs} ms`)
    return result
  }

  /** Every caller of one event-loop turn shares one WAIT, sent after all their scripts were answered. */
  async #wait (conn: Redis): Promise<number> {
    if (this.#nextWait === null) {
      this.#nextWait = new Promise<void>((resolve) => { setImmediate(resolve) }).then(async () => {
        this.#nextWait = null
        return Number(await conn.call('WAIT', this.#replicas, this.#timeoutMs))
      })
    }
    return await this.#nextWait
  }

  close (): void {
    this.#conn.disconnect()
  }
}
