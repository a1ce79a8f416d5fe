import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyPluginAsync } from 'fastify'

export interface MetricsPluginSpec<M> {
  /** The plugin's name, which the service's other plugins list as a dependency. */
  name: string
  /** `sessionMetrics`, `csMetrics`, `wsMetrics`: the type is the service's own (see configPlugin). */
  decorator: string
  /** The service's metrics, one registry per app instance (so tests can run several). */
  create: (app: FastifyInstance) => M
  dependencies?: string[]
}

/** A service's metrics object as a decorator, for its routes and plugins to count on and `/metrics` to serve. */
export function metricsPlugin<M> ({ name, decorator, create, dependencies = [] }: MetricsPluginSpec<M>): FastifyPluginAsync {
  async function metrics (app: FastifyInstance): Promise<void> {
    app.decorate<unknown>(decorator, create(app))
  }
  return fp(metrics, { name, fastify: '5.x', dependencies })
}
