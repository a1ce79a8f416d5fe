import type { FastifyInstance } from 'fastify'
import { field, stringFields, wxResponse } from '../schemas.js'
import { deriveUser } from '../users.js'
import { wxError } from '../wx-errors.js'

const sessionSchema = {
  type: 'object',
  required: ['openid', 'session_key'],
  properties: { openid: { type: 'string' }, session_key: { type: 'string' }, unionid: { type: 'string' } }
} as const

/** code2Session (docs/wechat/api.md#jscode2session). Success carries no errcode, as the real API answers today. */
export async function jscode2sessionRoutes (app: FastifyInstance): Promise<void> {
  app.get('/sns/jscode2session', {
    attachValidation: true,
    schema: { querystring: stringFields('appid', 'secret', 'js_code', 'grant_type'), response: wxResponse(sessionSchema) }
  }, async (request) => {
    const state = app.simState
    const appId = field(request.query, 'appid')
    const secret = field(request.query, 'secret')
    const code = field(request.query, 'js_code')
    if (appId === undefined) return wxError(41002)
    if (secret === undefined) return wxError(41004)
    if (code === undefined) return wxError(41008)
    if (field(request.query, 'grant_type') !== 'authorization_code') return wxError(40002)
    const expected = state.apps.get(appId)
    if (expected === undefined) return wxError(40013)
    if (secret !== expected) return wxError(40125)

    const now = state.now()
    const found = state.loginCodes.peek(code, appId, now)
    if (!found.ok) return wxError(found.reason === 'used' ? 40163 : 40029)
    // The quota is per user, so it can only be checked once the code names one; a refused call keeps the code.
    if (!state.code2SessionLimiter.take(`${appId}\0${found.data.user}`, now)) return wxError(45011)
    state.loginCodes.consume(code)
    const u = deriveUser(appId, found.data.user)
    return { openid: u.openid, session_key: u.session_key, unionid: u.unionid }
  })
}
