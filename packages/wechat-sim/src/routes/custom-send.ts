import type { FastifyInstance, FastifyRequest } from 'fastify'
import { requireAccessToken } from '../access-token.js'
import type { SentMessage } from '../conversations.js'
import { jsonBody, stringFields, wxErrorSchema } from '../schemas.js'
import type { SimState } from '../state.js'
import { WX_OK, wxError, type WxErrorBody } from '../wx-errors.js'

type Body = Record<string, unknown>
/** A checked message: its content object (what the user receives), or the errcode WeChat answers. */
type Checked = { ok: true, content: Record<string, string> } | { ok: false, errcode: number }

const nonEmpty = (v: unknown): v is string => typeof v === 'string' && v !== ''

function fieldsOf (body: Body, msgtype: string): Record<string, unknown> | undefined {
  const value = body[msgtype]
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? value as Record<string, unknown> : undefined
}

/** Per msgtype (docs/wechat/api.md#sending-a-message): text.content; image.media_id; link's four fields; miniprogrampage's three. */
function checkContent (state: SimState, appId: string, body: Body): Checked {
  const msgtype = body.msgtype
  const now = state.now()
  const content = typeof msgtype === 'string' ? fieldsOf(body, msgtype) : undefined
  switch (msgtype) {
    case 'text':
      if (!nonEmpty(content?.content)) return { ok: false, errcode: 44004 }
      return { ok: true, content: { content: content.content } }
    case 'image':
      if (!state.media.usable(appId, content?.media_id, now)) return { ok: false, errcode: 40007 }
      return { ok: true, content: { media_id: content!.media_id as string } }
    case 'link': {
      const { title, description, url, thumb_url: thumbUrl } = content ?? {}
      if (!nonEmpty(title) || !nonEmpty(description) || !nonEmpty(url) || !nonEmpty(thumbUrl)) return { ok: false, errcode: 47001 }
      return { ok: true, content: { title, description, url, thumb_url: thumbUrl } }
    }
    case 'miniprogrampage': {
      const { title, pagepath, thumb_media_id: thumbMediaId } = content ?? {}
      if (!nonEmpty(title) || !nonEmpty(pagepath)) return { ok: false, errcode: 47001 }
      if (!state.media.usable(appId, thumbMediaId, now)) return { ok: false, errcode: 40007 }
      return { ok: true, content: { title, pagepath, thumb_media_id: thumbMediaId as string } }
    }
    default:
      return { ok: false, errcode: 40008 }
  }
}

/**
 * One send: the body must be JSON (47001), touser a user of the token's app (40003), the content valid
 * for its msgtype, then the window (45015 none, 45047 used up). A sent message clears typing.
 */
function send (state: SimState, request: FastifyRequest, body: Body, businessid?: string): WxErrorBody {
  const appId = request.simAppId
  const touser = body.touser
  if (!state.isUserOf(appId, touser)) return wxError(40003)
  const checked = checkContent(state, appId, body)
  if (!checked.ok) return wxError(checked.errcode)
  const now = state.now()
  const window = state.conversations.checkSend(appId, touser, now)
  if (!window.ok) return wxError(window.errcode)
  const msgtype = body.msgtype as string
  const message: SentMessage = { msgtype, [msgtype]: checked.content, sentAt: now }
  if (businessid !== undefined) message.businessid = businessid
  state.conversations.recordSend(appId, touser, message, now)
  return WX_OK
}

const schema = { querystring: stringFields('access_token'), response: { 200: wxErrorSchema } }

/** sendCustomMessage (docs/wechat/api.md#sending-a-message) and its business (客服子商户) variant. */
export async function customSendRoutes (app: FastifyInstance): Promise<void> {
  app.post('/cgi-bin/message/custom/send', { attachValidation: true, preHandler: requireAccessToken, schema }, async (request) => {
    const body = jsonBody(request.body)
    if (body === null) return wxError(47001)
    return send(app.simState, request, body)
  })

  app.post('/cgi-bin/message/custom/business/send', { attachValidation: true, preHandler: requireAccessToken, schema }, async (request) => {
    const body = jsonBody(request.body)
    if (body === null) return wxError(47001)
    // WeChat takes the id as a number or a string; without one the business variant has nothing to send for.
    const id = body.businessid
    if (!(nonEmpty(id) || (typeof id === 'number' && Number.isFinite(id)))) return wxError(40101)
    return send(app.simState, request, body, String(id))
  })
}
