import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type, { type Static } from 'typebox'
import { ConsoleMessageSchema, WindowViewSchema, requireAgent, type OutboundMessage } from '@weapp/common'
import { CursorSchema, MediaIdSchema, OpenidSchema, TEXT_MAX_CHARS, errorResponses } from '../../schemas.js'
import { discriminatedBodyCompiler } from '../../validation.js'
import { ConsoleCardInvalidError } from '../../errors.js'
import { attemptIdOf } from '../../outbound/service.js'
import { decodeMessageCursor, encodeMessageCursor } from '../../repositories/cursor.js'
import { consoleMessage, windowView } from '../../conversations/views.js'
import { MESSAGE_ID_HEADER } from '../api/messages.js'
import { CONSOLE_PAGE_DEFAULT, CONSOLE_PAGE_MAX } from './conversations.js'

/** A card's limits (WeChat's miniprogrampage; docs/console.md). */
export const CARD_TITLE_MAX = 64
export const CARD_PAGEPATH_MAX = 512
/** 2048 characters of 3-byte UTF-8, JSON-escaped, with room to spare. */
const BODY_LIMIT = 32 * 1024

const Params = Type.Object({ openid: OpenidSchema })

const TextBody = Type.Object({ type: Type.Literal('text'), text: Type.String({ minLength: 1, maxLength: TEXT_MAX_CHARS }) }, { additionalProperties: false })
const ImageBody = Type.Object({ type: Type.Literal('image'), mediaId: MediaIdSchema }, { additionalProperties: false })
/** The card's fields are checked by the handler, so a missing one is CS_CONSOLE_CARD_INVALID (naming it). */
const CardBody = Type.Object({
  type: Type.Literal('miniprogrampage'),
  title: Type.Optional(Type.String({ maxLength: 1024 })),
  pagepath: Type.Optional(Type.String({ maxLength: 2048 })),
  thumbMediaId: Type.Optional(Type.String({ maxLength: 1024 }))
}, { additionalProperties: false })
const SendBody = Type.Union([TextBody, ImageBody, CardBody])

/** The card as WeChat takes it, or CS_CONSOLE_CARD_INVALID naming the first field that is missing, empty or too long. */
export function cardMessage ({ title, pagepath, thumbMediaId }: Static<typeof CardBody>): OutboundMessage {
  if (title === undefined || title.trim() === '') throw new ConsoleCardInvalidError('title is missing')
  if ([...title].length > CARD_TITLE_MAX) throw new ConsoleCardInvalidError(`title is longer than ${CARD_TITLE_MAX} characters`)
  if (pagepath === undefined || pagepath === '') throw new ConsoleCardInvalidError('pagepath is missing')
  if (pagepath.length > CARD_PAGEPATH_MAX || /\s/.test(pagepath)) throw new ConsoleCardInvalidError(`pagepath must be a page path without spaces, at most ${CARD_PAGEPATH_MAX} characters`)
  if (thumbMediaId === undefined || thumbMediaId === '') throw new ConsoleCardInvalidError('thumbMediaId is missing')
  if (!/^[A-Za-z0-9_-]{1,256}$/.test(thumbMediaId)) throw new ConsoleCardInvalidError('thumbMediaId is not a media_id')
  return { msgtype: 'miniprogrampage', miniprogrampage: { title, pagepath, thumb_media_id: thumbMediaId } }
}

function outboundOf (body: Static<typeof SendBody>): OutboundMessage {
  switch (body.type) {
    case 'text': return { msgtype: 'text', text: { content: body.text } }
    case 'image': return { msgtype: 'image', image: { media_id: body.mediaId } }
    case 'miniprogrampage': return cardMessage(body)
  }
}

/**
 * A conversation's messages (the message log, newest first) and the agent's sends: the admin API's send
 * path (window check, message log, outcome, events), recorded as `agent:<agentId>` with the agent's
 * name, never forced. The window's atomic consume decides a race for its last message: one send
 * reaches WeChat, the other is CS_SEND_QUOTA_EXCEEDED.
 */
const messages: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/conversations/:openid/messages', {
    schema: {
      params: Params,
      querystring: Type.Object({
        limit: Type.Integer({ minimum: 1, maximum: CONSOLE_PAGE_MAX, default: CONSOLE_PAGE_DEFAULT }),
        before: Type.Optional(CursorSchema)
      }, { additionalProperties: false }),
      response: { 200: Type.Object({ items: Type.Array(ConsoleMessageSchema), next: Type.Union([Type.String(), Type.Null()]) }), ...errorResponses(400, 401, 403, 500) }
    }
  }, async (request) => {
    requireAgent(request)
    const { limit, before } = request.query
    const page = await app.messagesRepository.listConversation(request.params.openid, { limit, before: before === undefined ? undefined : decodeMessageCursor(before) })
    const last = page.at(-1)
    return {
      items: page.map(consoleMessage),
      next: page.length === limit && last !== undefined ? encodeMessageCursor({ createdAt: last.createdAt, key: last.key }) : null
    }
  })

  app.post('/conversations/:openid/messages', {
    bodyLimit: BODY_LIMIT,
    validatorCompiler: discriminatedBodyCompiler('type', { text: TextBody, image: ImageBody, miniprogrampage: CardBody }),
    schema: {
      params: Params,
      body: SendBody,
      response: {
        201: Type.Object({ message: ConsoleMessageSchema, window: Type.Union([WindowViewSchema, Type.Null()]) }),
        ...errorResponses(400, 401, 403, 409, 413, 415, 429, 500, 501, 502, 503, 504)
      }
    }
  }, async (request, reply) => {
    const agent = requireAgent(request)
    const { openid } = request.params
    const message = outboundOf(request.body)
    let id: string
    try {
      // An image or card thumbnail uploaded through the console is sent with its current media_id, and
      // uploaded again once from the kept bytes when WeChat has forgotten it (40007).
      ({ id } = await app.consoleMedia.sendWithFreshMedia(message, async (fresh) =>
        await app.outboundService.send({ openid, message: fresh, force: false, sentBy: `agent:${agent.agentId}`, sentByName: agent.displayName })))
    } catch (err) {
      const attempt = attemptIdOf(err)
      if (attempt !== undefined) void reply.header(MESSAGE_ID_HEADER, attempt)
      throw err
    }
    const record = await app.messagesRepository.findOutbound(id)
    if (record === null) throw new Error(`send ${id} is not in the message log`)
    return await reply.code(201).header(MESSAGE_ID_HEADER, id).send({
      message: consoleMessage(record),
      window: windowView(await app.sendWindows.peek(openid, new Date(app.clock())))
    })
  })
}

export default messages
