import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { HealthRedisSchema, HealthStatusSchema, redisHealth } from '@weapp/common'
import Type from 'typebox'

/**
 * Liveness for the gateway and orchestrators: no internal credential needed. Always 200 while the
 * process serves; with REDIS_URL it says `redis: up|down` and `status: degraded` while Redis is away
 * (pushes are then answered 503 and WeChat retries them).
 */
const health: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/healthz', {
    config: { public: true },
    schema: {
      response: {
        200: Type.Object({
          status: HealthStatusSchema,
          service: Type.Literal('cs-messaging'),
          redis: HealthRedisSchema
        })
      }
    }
  }, async () => ({ ...redisHealth(app.csRedis, app.bus), service: 'cs-messaging' as const }))
}

export default health
