import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { requireAgent } from '@weapp/common'
import { UserSchema, errorResponses } from '../../schemas.js'
import { UserNotFoundError } from '../../errors.js'
import { OpenidParams } from './schemas.js'

/** GET /api/console/users/:openid: the side panel's profile (never the session_key: UserSchema has none). */
const users: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/users/:openid', {
    schema: { params: OpenidParams, response: { 200: Type.Object({ user: UserSchema }), ...errorResponses(400, 401, 403, 404, 500) } }
  }, async (request) => {
    requireAgent(request)
    const user = await app.usersRepository.findByOpenid(request.params.openid)
    if (user === null) throw new UserNotFoundError()
    return { user }
  })
}

export default users
