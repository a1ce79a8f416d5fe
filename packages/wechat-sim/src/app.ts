import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import { installErrorHandling, loggerOptions, serverOptions } from '@weapp/common'
import { controlRoutes } from './routes/control.js'
import { customerServiceControlRoutes } from './routes/control-customer-service.js'
import { healthRoutes } from './routes/health.js'
import { SimState, type SimStateOptions } from './state.js'
import { wechatApi } from './wechat-api.js'

export { DEFAULT_SIM_APP } from './defaults.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The simulator's memory; tests drive it in-process (faults, codes, clock) without HTTP. */
    simState: SimState
  }
}

export interface SimulatorOptions extends SimStateOptions {
  /** false (default) is silent, true logs at info with the shared settings, an object is pino options. */
  logger?: boolean | Exclude<FastifyServerOptions['logger'], boolean | undefined>
}

const SERVICE = 'wechat-sim'

function resolveLogger (logger: SimulatorOptions['logger']): FastifyServerOptions['logger'] {
  if (logger === true) return loggerOptions(SERVICE, 'info')
  return logger ?? false
}

/**
 * A local stand-in for api.weixin.qq.com (docs/wechat/api.md), a message-push sender (docs/wechat/push.md), plus the /sim control API
 * (docs/internals.md). State lives in memory. Does not listen: server.ts or the caller does.
 */
export async function buildSimulator (opts: SimulatorOptions = {}): Promise<FastifyInstance> {
  const state = new SimState(opts)
  const logger = resolveLogger(opts.logger)
  const level = typeof logger === 'object' && typeof logger.level === 'string' ? logger.level : 'info'
  const app = Fastify({ ...serverOptions({ service: SERVICE, logLevel: level }), logger })
  app.decorate('simState', state)
  installErrorHandling(app)
  // Awaited one by one so that every API path is known (for fault validation) when this returns.
  await app.register(wechatApi)
  await app.register(controlRoutes, { prefix: '/sim' })
  await app.register(customerServiceControlRoutes, { prefix: '/sim' })
  await app.register(healthRoutes)
  return app
}
