import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import { systemClock, type Clock } from '../clock.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The current time in ms (configPlugin; tests hand in their own clock). */
    clock: Clock
  }
}

export interface ConfigPluginOptions<C> {
  config: C
  clock?: Clock
}

export interface ConfigPluginSpec {
  /** The plugin's name, which the service's other plugins list as a dependency. */
  name: string
  /**
   * The decorator the validated configuration goes under. Prefixed with the service (`sessionConfig`,
   * `csConfig`, `wsConfig`): every service's FastifyInstance declarations meet in one TypeScript program,
   * where a plain `config` of three different types does not compile (TS2717).
   */
  decorator: string
  /** The service's own "invalid options" error. */
  optionsInvalid: new (message: string) => Error
}

/**
 * A service's configuration and clock as decorators, from the options its app was registered with: the
 * config validated at boot (loadConfig), the clock `Date.now` unless a test hands in one.
 */
export function configPlugin<C extends object> ({ name, decorator, optionsInvalid: OptionsInvalid }: ConfigPluginSpec): FastifyPluginAsync<ConfigPluginOptions<C>> {
  async function config (app: FastifyInstance, opts: ConfigPluginOptions<C>): Promise<void> {
    if (typeof opts.config !== 'object' || opts.config === null) throw new OptionsInvalid('config is required')
    if (opts.clock !== undefined && typeof opts.clock !== 'function') throw new OptionsInvalid('clock must be a function')
    app.decorate<unknown>(decorator, opts.config)
    app.decorate('clock', opts.clock ?? systemClock)
  }
  return fp(config, { name, fastify: '5.x' })
}
