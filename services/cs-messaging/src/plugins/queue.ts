import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import type { InboundQueue } from '../queue/types.js'
import { MemoryInboundQueue } from '../queue/memory.js'
import { RedisInboundQueue } from '../queue/redis.js'
import { OptionsInvalidError } from '../errors.js'
import { MemorySendWindows, RedisSendWindows, type SendWindows } from '../windows/send-windows.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Dedupe + inbound queue + dead letters: Redis when REDIS_URL is set, memory otherwise. */
    inboundQueue: InboundQueue
    /** The users' send windows, kept from inbound events: Redis or memory. */
    sendWindows: SendWindows
  }
}

export interface QueuePluginOptions {
  /** Use this queue instead (tests: a queue that never answers). It is not closed here: its owner closes it. */
  queue?: InboundQueue
}

async function queuePlugin (app: FastifyInstance, opts: QueuePluginOptions): Promise<void> {
  const { APP_ID, DEDUP_TTL_SEC, DEAD_LETTER_RETENTION_DAYS, DEAD_LETTER_MAX, PUSH_DURABILITY, PUSH_REPLICA_WAIT_MS } = app.csConfig
  const now = app.clock
  const deadLetters = { retentionMs: DEAD_LETTER_RETENTION_DAYS * 86_400_000, max: DEAD_LETTER_MAX }
  let queue: InboundQueue
  if (opts.queue !== undefined) {
    if (typeof opts.queue?.enqueueOnce !== 'function') throw new OptionsInvalidError('queue must be an InboundQueue')
    app.decorate('inboundQueue', opts.queue)
    const windows: SendWindows = app.csRedis === null ? new MemorySendWindows() : new RedisSendWindows({ redis: app.csRedis, appId: APP_ID })
    app.decorate('sendWindows', windows)
    return
  }
  if (app.csRedis === null) {
    queue = new MemoryInboundQueue({ dedupTtlMs: DEDUP_TTL_SEC * 1000, deadLetters, now })
    app.decorate('sendWindows', new MemorySendWindows())
  } else {
    const replicaWait = PUSH_DURABILITY === 'replicated' ? { replicaWaitMs: PUSH_REPLICA_WAIT_MS } : {}
    queue = new RedisInboundQueue({ redis: app.csRedis, appId: APP_ID, dedupTtlSec: DEDUP_TTL_SEC, deadLetters, now, ...replicaWait })
    app.decorate('sendWindows', new RedisSendWindows({ redis: app.csRedis, appId: APP_ID }))
  }
  app.decorate('inboundQueue', queue)
  app.addHook('onClose', async () => { await queue.close() })
}

export default fp(queuePlugin, { name: 'cs-queue', fastify: '5.x', dependencies: ['cs-config', 'cs-redis'] })
