import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import type { SessionConfig } from '../config.js'
import { OptionsInvalidError } from '../errors.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The validated service configuration. */
    config: SessionConfig
    /** The current time. Everything that computes expiries asks this, so tests can move time. */
    clock: () => Date
  }
}

export interface ConfigPluginOptions {
  config: SessionConfig
  clock?: () => Date
}

const systemClock = (): Date => new Date()

async function configPlugin (app: FastifyInstance, opts: ConfigPluginOptions): Promise<void> {
  if (typeof opts.config !== 'object' || opts.config === null) throw new OptionsInvalidError('config is required')
  if (opts.clock !== undefined && typeof opts.clock !== 'function') throw new OptionsInvalidError('clock must be a function')
  app.decorate('config', opts.config)
  app.decorate('clock', opts.clock ?? systemClock)
}

export default fp(configPlugin, { name: 'session-config', fastify: '5.x' })
