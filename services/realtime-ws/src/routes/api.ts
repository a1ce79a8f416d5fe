import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import tickets from './tickets.js'

const api: FastifyPluginAsyncTypebox = async (app) => {
  await app.register(tickets)
}

export default api
