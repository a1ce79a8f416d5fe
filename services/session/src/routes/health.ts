import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { HealthRedisSchema, HealthStatusSchema, redisHealth } from '@weapp/common'
import Type from 'typebox'

/**
 * Liveness for the gateway and orchestrators: no internal credential needed. Always 200 while the
 * process serves; with REDIS_URL it says `redis: up|down` and `status: degraded` while Redis is away
 * (logins and sessions do not need it; access tokens and revocation events wait for it).
 */
const health: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/healthz', {
    config: { public: true },
    schema: {
      response: {
        200: Type.Object({
          status: HealthStatusSchema,
          service: Type.Literal('session'),
          redis: HealthRedisSchema
        })
      }
    }
  }, async () => ({ ...redisHealth(app.sessionRedis, app.bus), service: 'session' as const }))
}

export default health
