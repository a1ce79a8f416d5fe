import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'

/** Liveness for the gateway and orchestrators: no internal credential needed. */
const health: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/healthz', {
    config: { public: true },
    schema: { response: { 200: Type.Object({ status: Type.Literal('ok'), service: Type.Literal('cs-messaging') }) } }
  }, async () => ({ status: 'ok' as const, service: 'cs-messaging' as const }))
}

export default health
