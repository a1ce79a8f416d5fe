import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'

/** Liveness for the gateway and orchestrators: no internal credential needed. */
const health: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/healthz', {
    config: { public: true },
    schema: { response: { 200: Type.Object({ status: Type.Literal('ok'), service: Type.Literal('realtime-ws'), sockets: Type.Integer() }) } }
  }, async () => ({ status: 'ok' as const, service: 'realtime-ws' as const, sockets: app.wsHub.size }))
}

export default health
