import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import type { CsConfig } from '../config.js'
import { OptionsInvalidError } from '../errors.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The validated service configuration. */
    csConfig: CsConfig
    /** The current time: push timestamps, windows and retries ask this, so tests can move time. */
    clock: () => Date
  }
}

export interface ConfigPluginOptions {
  config: CsConfig
  clock?: () => Date
}

const systemClock = (): Date => new Date()

async function configPlugin (app: FastifyInstance, opts: ConfigPluginOptions): Promise<void> {
  if (typeof opts.config !== 'object' || opts.config === null) throw new OptionsInvalidError('config is required')
  if (opts.clock !== undefined && typeof opts.clock !== 'function') throw new OptionsInvalidError('clock must be a function')
  app.decorate('csConfig', opts.config)
  app.decorate('clock', opts.clock ?? systemClock)
}

export default fp(configPlugin, { name: 'cs-config', fastify: '5.x' })
