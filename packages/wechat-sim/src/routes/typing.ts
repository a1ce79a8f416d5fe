import type { FastifyInstance } from 'fastify'
import { requireAccessToken } from '../access-token.js'
import { jsonBody, stringFields, wxErrorSchema } from '../schemas.js'
import { WX_OK, wxError } from '../wx-errors.js'

const schema = { querystring: stringFields('access_token'), response: { 200: wxErrorSchema } }

/**
 * setTyping (docs/wechat/api.md#typing) on the mini-program path (business/typing) and the older one (typing),
 * which behave the same. Typing needs an open window and a message exchanged within 30 s (45080), lasts
 * 15 s and cannot be re-sent while it shows (45081); CancelTyping always succeeds.
 */
export async function typingRoutes (app: FastifyInstance): Promise<void> {
  const handler = async (request: { simAppId: string, body: unknown }): Promise<object> => {
    const state = app.simState
    const body = jsonBody(request.body)
    if (body === null) return wxError(47001)
    const appId = request.simAppId
    const touser = body.touser
    if (!state.isUserOf(appId, touser)) return wxError(40003)
    if (body.command === 'CancelTyping') {
      state.conversations.cancelTyping(appId, touser)
      return WX_OK
    }
    if (body.command !== 'Typing') return wxError(45072)
    const started = state.conversations.startTyping(appId, touser, state.now())
    return started.ok ? WX_OK : wxError(started.errcode)
  }
  for (const url of ['/cgi-bin/message/custom/business/typing', '/cgi-bin/message/custom/typing']) {
    app.post(url, { attachValidation: true, preHandler: requireAccessToken, schema }, handler)
  }
}
