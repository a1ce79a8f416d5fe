import { loginStateSignature, signaturesEqual } from '@weapp/wechat'
import type { FastifyInstance } from 'fastify'
import { requireAccessToken } from '../access-token.js'
import { field, stringFields, wxErrorSchema } from '../schemas.js'
import { looksLikeOpenid, sessionKeyOf } from '../users.js'
import { WX_OK, wxError } from '../wx-errors.js'

/**
 * checkSessionKey (docs/wechat/api.md#checksession): signature = hex HMAC-SHA256 keyed with the session_key string, over "".
 * The key derives from the openid, so any openid this simulator could have issued can be checked.
 */
export async function checksessionRoutes (app: FastifyInstance): Promise<void> {
  app.get('/wxa/checksession', {
    attachValidation: true,
    preHandler: requireAccessToken,
    schema: { querystring: stringFields('access_token', 'openid', 'signature', 'sig_method'), response: { 200: wxErrorSchema } }
  }, async (request) => {
    const openid = field(request.query, 'openid')
    if (openid === undefined || !looksLikeOpenid(openid)) return wxError(40003)
    if (field(request.query, 'sig_method') !== 'hmac_sha256') return wxError(87009)
    const expected = loginStateSignature(sessionKeyOf(openid), '')
    if (!signaturesEqual(expected, field(request.query, 'signature'))) return wxError(87009)
    return WX_OK
  })
}
