import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import resolve from './resolve.js'

/** Service-to-service routes, mounted under /internal: never routed to clients by the gateway. */
const internal: FastifyPluginAsyncTypebox = async (app) => {
  await app.register(resolve)
}

export default internal
