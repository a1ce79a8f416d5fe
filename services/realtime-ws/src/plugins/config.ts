import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import type { RealtimeConfig } from '../config.js'
import { WsOptionsInvalidError } from '../errors.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The validated service configuration. */
    wsConfig: RealtimeConfig
    /** The current time in ms (ticket expiry in memory asks this, so tests can move time). */
    wsNow: () => number
  }
}

export interface ConfigPluginOptions {
  config: RealtimeConfig
  now?: () => number
}

async function configPlugin (app: FastifyInstance, opts: ConfigPluginOptions): Promise<void> {
  if (typeof opts.config !== 'object' || opts.config === null) throw new WsOptionsInvalidError('config is required')
  if (opts.now !== undefined && typeof opts.now !== 'function') throw new WsOptionsInvalidError('now must be a function')
  app.decorate('wsConfig', opts.config)
  app.decorate('wsNow', opts.now ?? Date.now)
}

export default fp(configPlugin, { name: 'ws-config', fastify: '5.x' })
