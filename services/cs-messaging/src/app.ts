import type { FastifyInstance, FastifyServerOptions } from 'fastify'
import { busHubOf, busPlugin, installErrorHandling, redisTopologyOf, internalAuthPlugin, serverOptions, type Clock } from '@weapp/common'
import type { CsConfig } from './config.js'
import configPlugin from './plugins/config.js'
import redisPlugin from './plugins/redis.js'
import repositoriesPlugin from './plugins/repositories.js'
import queuePlugin from './plugins/queue.js'
import conversationsPlugin from './plugins/conversations.js'
import metricsPlugin from './plugins/metrics.js'
import wechatPlugin, { type WechatPluginOptions } from './plugins/wechat.js'
import outboundPlugin from './plugins/outbound.js'
import pushPlugin from './plugins/push.js'
import workerPlugin, { type WorkerPluginOptions } from './plugins/worker.js'
import healthRoutes from './routes/health.js'
import metricsRoutes from './routes/metrics.js'
import pushRoutes from './routes/push.js'
import apiRoutes from './routes/api/index.js'
import consoleRoutes from './routes/console/index.js'
import type { OutboundSender } from './outbound/sender.js'
import type { InboundQueue } from './queue/types.js'

export const SERVICE_NAME = 'cs-messaging'

export interface CsAppOptions {
  config: CsConfig
  /** The current time in ms (tests move it: push timestamps, windows, retry due times). */
  clock?: Clock
  /** Send through this instead of WeChat (tests record what would be sent). */
  sender?: OutboundSender
  /** Use this queue instead of Redis/memory (tests); closed by its owner. */
  queue?: InboundQueue
  /** Worker tuning (tests shorten the blocking read and the stop timeout). */
  worker?: WorkerPluginOptions['tuning']
  /** WeChat client tuning (tests shorten the retry back-off). */
  wechat?: WechatPluginOptions['client']
}

/** Fastify options for this service: the shared ones, with the push body limit as the server's limit. */
export function csServerOptions (config: Pick<CsConfig, 'LOG_LEVEL' | 'PUSH_BODY_LIMIT'>): FastifyServerOptions {
  return serverOptions({ service: SERVICE_NAME, logLevel: config.LOG_LEVEL, bodyLimit: config.PUSH_BODY_LIMIT })
}

/**
 * The cs-messaging service as a plugin: register it (wrapped in fastify-plugin, so the error handler
 * applies to everything) on an instance made with csServerOptions().
 */
export default async function csApp (app: FastifyInstance, opts: CsAppOptions): Promise<void> {
  installErrorHandling(app)

  await app.register(configPlugin, { config: opts.config, ...(opts.clock !== undefined ? { clock: opts.clock } : {}) })
  await app.register(internalAuthPlugin, { internalToken: opts.config.INTERNAL_TOKEN })
  await app.register(redisPlugin)
  await app.register(busPlugin, { redis: redisTopologyOf(opts.config), busHub: busHubOf(opts.config) })
  await app.register(repositoriesPlugin)
  await app.register(queuePlugin, { ...(opts.queue !== undefined ? { queue: opts.queue } : {}) })
  await app.register(metricsPlugin)
  await app.register(conversationsPlugin)
  await app.register(wechatPlugin, { ...(opts.wechat !== undefined ? { client: opts.wechat } : {}) })
  await app.register(outboundPlugin, { ...(opts.sender !== undefined ? { sender: opts.sender } : {}) })
  await app.register(pushPlugin)
  await app.register(workerPlugin, { ...(opts.worker !== undefined ? { tuning: opts.worker } : {}) })

  await app.register(healthRoutes)
  await app.register(metricsRoutes)
  await app.register(pushRoutes)
  await app.register(apiRoutes, { prefix: '/api/cs' })
  await app.register(consoleRoutes, { prefix: '/api/console' })
}
