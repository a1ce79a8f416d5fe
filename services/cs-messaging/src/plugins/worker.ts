import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import fp from 'fastify-plugin'
import { dateClock } from '@weapp/common'
import type { FastifyInstance } from 'fastify'
import { MessageProcessor } from '../worker/processor.js'
import { InboundWorker, type WorkerOptions } from '../worker/worker.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The queue consumer of this instance (running only when WORKER_ENABLED). */
    inboundWorker: InboundWorker
  }
}

export interface WorkerPluginOptions {
  /** Tuning the tests need (short blocking reads, short stop timeout). */
  tuning?: Partial<Pick<WorkerOptions, 'blockMs' | 'stopTimeoutMs' | 'trimEveryMs'>>
}

/** Builds the processor and the worker; starts it once the app is ready and stops it before closing. */
async function workerPlugin (app: FastifyInstance, opts: WorkerPluginOptions): Promise<void> {
  const c = app.csConfig
  const log = app.log.child({ component: 'worker' })
  const processor = new MessageProcessor({
    messages: app.messagesRepository,
    bus: app.bus,
    windows: app.sendWindows,
    rules: app.autoReplyRules,
    sender: app.checkedSender,
    now: dateClock(app.clock),
    log,
    metrics: app.csMetrics,
    staleClaimMs: c.WORKER_CLAIM_IDLE_MS,
    tracker: app.conversationTracker
  })
  const worker = new InboundWorker({
    ...opts.tuning,
    queue: app.inboundQueue,
    processor,
    consumer: `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`,
    concurrency: c.WORKER_CONCURRENCY,
    maxAttempts: c.WORKER_MAX_ATTEMPTS,
    retryBaseMs: c.WORKER_RETRY_BASE_MS,
    retryMaxMs: c.WORKER_RETRY_MAX_MS,
    claimIdleMs: c.WORKER_CLAIM_IDLE_MS,
    log,
    metrics: app.csMetrics
  })
  app.decorate('inboundWorker', worker)
  if (!c.WORKER_ENABLED) return
  app.addHook('onReady', async () => { worker.start() })
  // Before the stores close: in-flight messages finish (or stay pending for another worker).
  app.addHook('preClose', async () => { await worker.stop() })
}

export default fp(workerPlugin, {
  name: 'cs-worker',
  fastify: '5.x',
  dependencies: ['cs-config', 'cs-queue', 'cs-repositories', '@weapp/bus', 'cs-outbound', 'cs-push', 'cs-metrics', 'cs-conversations']
})
