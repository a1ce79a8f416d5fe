import type { FastifyInstance } from 'fastify'
import Type, { type Static, type TObject, type TProperties } from 'typebox'
import { HealthRedisSchema, HealthRedisTopologySchema, HealthStatusSchema, redisHealth } from '../health.js'
import type { RedisClient } from '../redis.js'
import { describeRedisTopology, type RedisTopology } from '../redis-topology.js'

export interface HealthRouteSpec<P extends TProperties> {
  service: string
  /** The service's command connection, whose state `/healthz` reports (null without a Redis topology). */
  redis: (app: FastifyInstance) => RedisClient | null
  /** Where that Redis is (redisTopologyOf(config)): `/healthz` names it, without passwords. */
  topology?: (app: FastifyInstance) => RedisTopology | undefined
  /** What this service reports besides status, service and redis (realtime-ws: its open sockets). */
  fields?: P
  values?: (app: FastifyInstance) => Static<TObject<P>>
}

/**
 * `GET /healthz` of a service: liveness for the gateway and orchestrators, no internal credential needed.
 * Always 200 while the process serves; with a Redis topology it names it (`redisTopology`, no password) and says `redis: up|down` and `status: degraded` while
 * Redis (the command connection or the bus subscriber) is away. What degraded means for each service is
 * said where it registers this.
 */
export function healthRoute<P extends TProperties = Record<never, never>> (spec: HealthRouteSpec<P>) {
  const schema = Type.Object({
    status: HealthStatusSchema,
    service: Type.Literal(spec.service),
    ...spec.fields,
    redis: HealthRedisSchema,
    redisTopology: HealthRedisTopologySchema
  })
  return async function health (app: FastifyInstance): Promise<void> {
    app.get('/healthz', { config: { public: true }, schema: { response: { 200: schema } } },
      async () => {
        const topology = spec.topology?.(app)
        return {
          ...redisHealth(spec.redis(app), app.bus),
          ...(topology === undefined ? {} : { redisTopology: describeRedisTopology(topology) }),
          service: spec.service,
          ...spec.values?.(app)
        }
      })
  }
}
