import type { FastifyInstance } from 'fastify'
import { field, tokenSuccessSchema, wxResponse } from '../schemas.js'
import { wxError } from '../wx-errors.js'

const bodySchema = {
  type: 'object',
  properties: {
    grant_type: { type: 'string' },
    appid: { type: 'string' },
    secret: { type: 'string' },
    force_refresh: { type: 'boolean' }
  }
} as const

/**
 * getStableAccessToken (docs/wechat/api.md#stable-token). The body must be JSON: anything else reads as "no fields",
 * hence 41002 appid missing, as WeChat reports form-encoded bodies.
 */
export async function stableTokenRoutes (app: FastifyInstance): Promise<void> {
  app.post('/cgi-bin/stable_token', {
    attachValidation: true,
    schema: { body: bodySchema, response: wxResponse(tokenSuccessSchema) }
  }, async (request) => {
    const state = app.simState
    const body = request.body
    const appId = field(body, 'appid')
    const secret = field(body, 'secret')
    if (appId === undefined) return wxError(41002)
    if (secret === undefined) return wxError(41004)
    if (field(body, 'grant_type') !== 'client_credential') return wxError(40002)
    const expected = state.apps.get(appId)
    if (expected === undefined) return wxError(40013)
    if (secret !== expected) return wxError(40001)
    const force = (body as { force_refresh?: unknown }).force_refresh === true
    return state.tokens.stable(appId, force, state.now())
  })
}
