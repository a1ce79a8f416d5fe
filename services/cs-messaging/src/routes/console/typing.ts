import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { requireAgent } from '@weapp/common'
import { isWechatApiError } from '@weapp/wechat'
import { OpenidSchema, errorResponses } from '../../schemas.js'
import { ConsoleNotFoundError } from '../../errors.js'
import { TYPING_AFTER_INTERACTION_MS } from '../../conversations/typing-throttle.js'

/** WeChat's "no exchange within 30 s" and "already typing": expected, never an error for the console. */
const TYPING_REFUSALS = new Set([45080, 45081])

const TypingAnswer = Type.Object({
  sent: Type.Boolean(),
  /** Why not: no-interaction (nothing from the user within 30 s), throttled (sent less than 15 s ago), wechat-refused (45080/45081), failed. */
  reason: Type.Optional(Type.Union([Type.Literal('no-interaction'), Type.Literal('throttled'), Type.Literal('wechat-refused'), Type.Literal('failed')]))
})

/**
 * POST /api/console/conversations/:openid/typing: shows "typing…" in the user's chat while an agent
 * types. Only within 30 s of the user's last message or session entry (WeChat refuses later), at most
 * once per 15 s per conversation (it shows for 15 s). Answers what happened; only an unknown
 * conversation is an error.
 */
const typing: FastifyPluginAsyncTypebox = async (app) => {
  app.post('/conversations/:openid/typing', {
    bodyLimit: 1024,
    schema: { params: Type.Object({ openid: OpenidSchema }), response: { 200: TypingAnswer, ...errorResponses(400, 401, 403, 404, 413, 500) } }
  }, async (request) => {
    requireAgent(request)
    const { openid } = request.params
    const conversation = await app.conversationsRepository.get(openid)
    if (conversation === null) throw new ConsoleNotFoundError(`no conversation with ${openid}`)
    const now = new Date(app.clock())
    const last = conversation.lastInteractionAt
    if (last === null || now.getTime() - last.getTime() > TYPING_AFTER_INTERACTION_MS) return { sent: false, reason: 'no-interaction' as const }
    if (!await app.typingThrottle.take(openid, now)) return { sent: false, reason: 'throttled' as const }
    try {
      await app.outboundService.typing(openid, 'Typing')
    } catch (err) {
      if (isWechatApiError(err) && TYPING_REFUSALS.has(err.errcode)) return { sent: false, reason: 'wechat-refused' as const }
      request.log.warn({ err, openid }, 'typing not shown')
      return { sent: false, reason: 'failed' as const }
    }
    return { sent: true }
  })
}

export default typing
