import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { busState, redisState } from '@weapp/common'
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
          status: Type.Union([Type.Literal('ok'), Type.Literal('degraded')]),
          service: Type.Literal('cs-messaging'),
          redis: Type.Optional(Type.Union([Type.Literal('up'), Type.Literal('down')]))
        })
      }
    }
  }, async () => {
    const redis = app.csRedis
    if (redis === null) return { status: 'ok' as const, service: 'cs-messaging' as const }
    const up = redisState(redis) === 'up' && busState(app.bus) === 'up'
    return { status: up ? 'ok' as const : 'degraded' as const, service: 'cs-messaging' as const, redis: up ? 'up' as const : 'down' as const }
  })
}

export default health
