import type { FastifyInstance } from 'fastify'
import type { Redis } from 'ioredis'
import Type, { type Static, type TObject, type TProperties } from 'typebox'
import { HealthRedisSchema, HealthStatusSchema, redisHealth } from '../health.js'

export interface HealthRouteSpec<P extends TProperties> {
  service: string
  /** The service's command connection, whose state `/healthz` reports (null without REDIS_URL). */
  redis: (app: FastifyInstance) => Redis | null
  /** What this service reports besides status, service and redis (realtime-ws: its open sockets). */
  fields?: P
  values?: (app: FastifyInstance) => Static<TObject<P>>
}

/**
 * `GET /healthz` of a service: liveness for the gateway and orchestrators, no internal credential needed.
 * Always 200 while the process serves; with REDIS_URL it says `redis: up|down` and `status: degraded` while
 * Redis (the command connection or the bus subscriber) is away. What degraded means for each service is
 * said where it registers this.
 */
export function healthRoute<P extends TProperties = Record<never, never>> (spec: HealthRouteSpec<P>) {
  const schema = Type.Object({
    status: HealthStatusSchema,
    service: Type.Literal(spec.service),
    ...spec.fields,
    redis: HealthRedisSchema
  })
  return async function health (app: FastifyInstance): Promise<void> {
    app.get('/healthz', { config: { public: true }, schema: { response: { 200: schema } } },
      async () => ({ ...redisHealth(spec.redis(app), app.bus), service: spec.service, ...spec.values?.(app) }))
  }
}
