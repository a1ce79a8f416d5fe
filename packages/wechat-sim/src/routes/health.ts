import type { FastifyInstance } from 'fastify'

/** Liveness for the start script and orchestrators; not a WeChat API, so neither counted nor faultable. */
export async function healthRoutes (app: FastifyInstance): Promise<void> {
  app.get('/healthz', {
    schema: { response: { 200: { type: 'object', required: ['ok'], properties: { ok: { type: 'boolean' } } } } }
  }, async () => ({ ok: true }))
}
