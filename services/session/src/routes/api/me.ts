import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { requireUser } from '@weapp/common'
import { DISPLAY_NAME_PATTERN, UserSchema, WxCode, errorResponses } from '../../schemas.js'
import { UserNotFoundError } from '../../errors.js'
import type { ProfilePatch } from '../../repositories/types.js'

const ProfilePatchBody = Type.Object({
  // Trimmed before it is stored; must keep at least one visible character.
  nickname: Type.Optional(Type.String({ minLength: 1, maxLength: 64, pattern: DISPLAY_NAME_PATTERN })),
  avatarUrl: Type.Optional(Type.String({ minLength: 9, maxLength: 1024, format: 'uri', pattern: '^https://[^\\s]+$' }))
}, { additionalProperties: false, minProperties: 1 })

/** The signed-in user's own record. */
const me: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/me', {
    schema: { response: { 200: UserSchema, ...errorResponses(400, 401, 404, 500) } }
  }, async (request) => {
    const identity = requireUser(request)
    const user = await app.usersRepository.findByOpenid(identity.openid)
    if (user === null) throw new UserNotFoundError()
    return user
  })

  // PUT is the same partial update: wx.request cannot send PATCH (its methods are OPTIONS, GET, HEAD, POST,
  // PUT, DELETE, TRACE, CONNECT), so mini-programs use PUT. Applying it twice gives the same profile.
  app.route({
    method: ['PATCH', 'PUT'],
    url: '/me',
    schema: { body: ProfilePatchBody, response: { 200: UserSchema, ...errorResponses(400, 401, 404, 413, 415, 500) } },
    handler: async (request) => {
      const identity = requireUser(request)
      const patch: ProfilePatch = {}
      if (request.body.nickname !== undefined) patch.nickname = request.body.nickname.trim()
      if (request.body.avatarUrl !== undefined) patch.avatarUrl = request.body.avatarUrl
      const user = await app.usersRepository.updateProfile(identity.openid, patch)
      if (user === null) throw new UserNotFoundError()
      return user
    }
  })

  app.post('/me/phone', {
    schema: {
      // Other fields are ignored: clients often forward the getPhoneNumber event's whole detail.
      body: Type.Object({ code: WxCode }),
      response: { 200: UserSchema, ...errorResponses(400, 401, 404, 413, 415, 429, 500, 502, 503, 504) }
    }
  }, async (request) => {
    const identity = requireUser(request)
    return await app.phoneService.bind(identity.openid, request.body.code)
  })
}

export default me
