import type { FastifyInstance } from 'fastify'
import { requireAccessToken } from '../access-token.js'
import { field, stringFields, wxResponse } from '../schemas.js'
import { openidOf } from '../users.js'
import { wxError } from '../wx-errors.js'

const phoneSchema = {
  type: 'object',
  required: ['errcode', 'errmsg', 'phone_info'],
  properties: {
    errcode: { type: 'integer' },
    errmsg: { type: 'string' },
    phone_info: {
      type: 'object',
      required: ['phoneNumber', 'purePhoneNumber', 'countryCode', 'watermark'],
      properties: {
        phoneNumber: { type: 'string' },
        purePhoneNumber: { type: 'string' },
        countryCode: { type: 'string' },
        watermark: {
          type: 'object',
          required: ['timestamp', 'appid'],
          properties: { timestamp: { type: 'integer' }, appid: { type: 'string' } }
        }
      }
    }
  }
} as const

/** getuserphonenumber (docs/wechat/api.md#phone-number): single-use codes from /sim/phone-code, per-app minute quota. */
export async function phoneRoutes (app: FastifyInstance): Promise<void> {
  app.post('/wxa/business/getuserphonenumber', {
    attachValidation: true,
    preHandler: requireAccessToken,
    schema: { querystring: stringFields('access_token'), body: stringFields('code', 'openid'), response: wxResponse(phoneSchema) }
  }, async (request) => {
    const state = app.simState
    const appId = request.simAppId
    const now = state.now()
    if (!state.phoneLimiter.take(appId, now)) return wxError(45011)
    // A body that is not a JSON object (form-encoded, say) is what WeChat calls a data format error.
    const body = request.body
    if (typeof body !== 'object' || body === null) return wxError(47001)
    const code = field(body, 'code')
    if (code === undefined) return wxError(47001)
    const found = state.phoneCodes.peek(code, appId, now)
    if (!found.ok) return wxError(40029)
    const openid = field(body, 'openid')
    // The optional openid makes WeChat check the code belongs to that user; a mismatch leaves it unused.
    if (openid !== undefined && openid !== openidOf(appId, found.data.user)) return wxError(40029)
    state.phoneCodes.consume(code)
    const { phoneNumber, purePhoneNumber, countryCode } = found.data
    return {
      errcode: 0,
      errmsg: 'ok',
      phone_info: { phoneNumber, purePhoneNumber, countryCode, watermark: { timestamp: Math.floor(now / 1000), appid: appId } }
    }
  })
}
