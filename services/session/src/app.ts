import type { FastifyInstance, FastifyServerOptions } from 'fastify'
import { SESSION_BODY_LIMIT, acceptEmptyJsonBody, busHubOf, busPlugin, installErrorHandling, redisTopologyOf, internalAuthPlugin, serverOptions, VALIDATE_SCHEMAS, type Clock } from '@weapp/common'
import type { SessionConfig } from './config.js'
import configPlugin from './plugins/config.js'
import repositoriesPlugin from './plugins/repositories.js'
import wechatPlugin, { type WechatPluginOptions } from './plugins/wechat.js'
import servicesPlugin from './plugins/services.js'
import consoleAdminPlugin from './plugins/console-admin.js'
import type { PasswordHasherOptions } from './agents/passwords.js'
import metricsPlugin from './plugins/metrics.js'
import healthRoutes from './routes/health.js'
import metricsRoutes from './routes/metrics.js'
import apiRoutes from './routes/api/index.js'
import waferRoutes from './routes/wafer/index.js'
import internalRoutes from './routes/internal/index.js'
import consoleRoutes from './routes/console/index.js'

export const SERVICE_NAME = 'session'
/** Every body this service accepts is a few hundred bytes: anything past this is refused with 413. */
export const BODY_LIMIT = SESSION_BODY_LIMIT

export interface SessionAppOptions {
  config: SessionConfig
  /** The current time in ms (tests move it to check expiry). */
  clock?: Clock
  /** WeChat client tuning (tests shorten the retry back-off). */
  wechat?: WechatPluginOptions['client']
  /** Console password hashing (tests lower the scrypt cost; production keeps OWASP's). */
  passwords?: PasswordHasherOptions
}

/**
 * Fastify options for this service: the shared ones, plus body validation that neither coerces types
 * (a number is not a code) nor silently drops unknown properties (additionalProperties: false rejects).
 */
export function sessionServerOptions (config: Pick<SessionConfig, 'LOG_LEVEL'>): FastifyServerOptions {
  return {
    ...serverOptions({ service: SERVICE_NAME, logLevel: config.LOG_LEVEL, bodyLimit: BODY_LIMIT }),
    ajv: { customOptions: { validateSchema: VALIDATE_SCHEMAS, coerceTypes: false, removeAdditional: false } }
  }
}

/**
 * The session service as a plugin: register it (wrapped in fastify-plugin, so the error handler applies
 * to everything) on an instance made with sessionServerOptions().
 */
export default async function sessionApp (app: FastifyInstance, opts: SessionAppOptions): Promise<void> {
  installErrorHandling(app)

  acceptEmptyJsonBody(app)

  await app.register(configPlugin, { config: opts.config, ...(opts.clock !== undefined ? { clock: opts.clock } : {}) })
  await app.register(internalAuthPlugin, { internalToken: opts.config.INTERNAL_TOKEN })
  await app.register(repositoriesPlugin)
  await app.register(busPlugin, { redis: redisTopologyOf(opts.config), busHub: busHubOf(opts.config) })
  await app.register(metricsPlugin)
  await app.register(wechatPlugin, { ...(opts.wechat !== undefined ? { client: opts.wechat } : {}) })
  await app.register(servicesPlugin, { ...(opts.passwords !== undefined ? { passwords: opts.passwords } : {}) })
  await app.register(consoleAdminPlugin)

  await app.register(healthRoutes)
  await app.register(metricsRoutes)
  await app.register(apiRoutes, { prefix: '/api' })
  await app.register(consoleRoutes, { prefix: '/api/console' })
  await app.register(waferRoutes)
  await app.register(internalRoutes, { prefix: '/internal' })
}
