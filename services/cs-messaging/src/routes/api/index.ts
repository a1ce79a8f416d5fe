import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { AuthRequiredError, ForbiddenError } from '@weapp/common'
import deadLetters from './dead-letters.js'

/**
 * The admin API, mounted under /api/cs: the internal credential (checked for every route) plus an admin
 * identity forwarded by the gateway. The send/typing/media routes will be registered here too.
 */
const api: FastifyPluginAsyncTypebox = async (app) => {
  app.addHook('onRequest', async (request) => {
    const identity = request.identity
    if (identity === null) throw new AuthRequiredError('an admin identity is required')
    if (identity.kind !== 'admin') throw new ForbiddenError('admin only')
  })
  await app.register(deadLetters)
}

export default api
