import type { FastifyInstance } from 'fastify'
import { field, stringFields, tokenSuccessSchema, wxResponse } from '../schemas.js'
import { wxError } from '../wx-errors.js'

/** getAccessToken (docs/wechat/api.md#classic-token): every success supersedes the app's previous classic token. */
export async function tokenRoutes (app: FastifyInstance): Promise<void> {
  app.get('/cgi-bin/token', {
    attachValidation: true,
    schema: { querystring: stringFields('grant_type', 'appid', 'secret'), response: wxResponse(tokenSuccessSchema) }
  }, async (request) => {
    const state = app.simState
    const appId = field(request.query, 'appid')
    const secret = field(request.query, 'secret')
    if (appId === undefined) return wxError(41002)
    if (secret === undefined) return wxError(41004)
    if (field(request.query, 'grant_type') !== 'client_credential') return wxError(40002)
    const expected = state.apps.get(appId)
    if (expected === undefined) return wxError(40013)
    // On this endpoint a wrong AppSecret is 40001, not 40125 (docs/wechat/errors.md#credentials).
    if (secret !== expected) return wxError(40001)
    return state.tokens.issueClassic(appId, state.now())
  })
}
