import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import login from './login.js'
import me from './me.js'

/** Our own JSON API, mounted under /api. */
const api: FastifyPluginAsyncTypebox = async (app) => {
  await app.register(login)
  await app.register(me)
}

export default api
