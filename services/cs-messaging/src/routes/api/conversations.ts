import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type, { type Static } from 'typebox'
import { requireAdmin } from '@weapp/common'
import { CursorSchema, MessageItemSchema, OpenidSchema, errorResponses } from '../../schemas.js'
import {
  decodeConversationCursor, decodeMessageCursor, encodeConversationCursor, encodeMessageCursor
} from '../../repositories/cursor.js'
import type { MessageRecord } from '../../repositories/types.js'
import { consoleMessage } from '../../conversations/views.js'

export const DEFAULT_PAGE_SIZE = 50
export const MAX_PAGE_SIZE = 200

const PageQuery = Type.Object({
  limit: Type.Integer({ minimum: 1, maximum: MAX_PAGE_SIZE, default: DEFAULT_PAGE_SIZE }),
  /** `next` of the previous page. */
  before: Type.Optional(CursorSchema)
})

const Next = Type.Union([Type.String(), Type.Null()], { description: 'Pass as before= for the next (older) page; null on the last page' })

/** A log record as the admin API shows it: the console's view (dates as ISO strings) plus the admin's fields. */
export function messageItem (r: MessageRecord): Static<typeof MessageItemSchema> {
  // The console's `outcome` is a plain string in its contract; here it is r.outcome, one of the enum's values.
  const item = consoleMessage(r) as Static<typeof MessageItemSchema>
  if (r.direction === 'in') {
    item.receivedAt = r.receivedAt.toISOString()
  } else {
    item.forced = r.forced
    if (r.completedAt !== undefined) item.completedAt = r.completedAt.toISOString()
  }
  return item
}

/** The conversations (by their last message) and each one's history from the message log, newest first, cursor-paged. */
const conversations: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/conversations', {
    schema: {
      querystring: PageQuery,
      response: {
        200: Type.Object({
          items: Type.Array(Type.Object({ openid: Type.String(), lastAt: Type.String({ format: 'date-time' }), last: MessageItemSchema })),
          next: Next
        }),
        ...errorResponses(400, 401, 403, 500)
      }
    }
  }, async (request) => {
    requireAdmin(request)
    const { limit, before } = request.query
    // The conversations collection (index last_at_id), never a grouping of the message log; the last
    // message of each is then read by its key.
    const page = await app.conversationsRepository.list({ view: 'all', agentId: '', limit, before: before === undefined ? undefined : decodeConversationCursor(before) })
    const lastMessages = new Map((await app.messagesRepository.findMany(page.map((c) => c.lastKey))).map((r) => [r.key, r]))
    const last = page.at(-1)
    return {
      // A conversation whose last message the retention just deleted goes with it (MongoDB's TTL runs a minute apart).
      items: page.flatMap((c) => {
        const message = lastMessages.get(c.lastKey)
        return message === undefined ? [] : [{ openid: c.openid, lastAt: c.lastAt.toISOString(), last: messageItem(message) }]
      }),
      next: page.length === limit && last !== undefined ? encodeConversationCursor({ lastAt: last.lastAt, openid: last.openid }) : null
    }
  })

  app.get('/conversations/:openid/messages', {
    schema: {
      params: Type.Object({ openid: OpenidSchema }),
      querystring: PageQuery,
      response: {
        200: Type.Object({ items: Type.Array(MessageItemSchema), next: Next }),
        ...errorResponses(400, 401, 403, 500)
      }
    }
  }, async (request) => {
    requireAdmin(request)
    const { limit, before } = request.query
    const page = await app.messagesRepository.listConversation(request.params.openid, { limit, before: before === undefined ? undefined : decodeMessageCursor(before) })
    const last = page.at(-1)
    return {
      items: page.map(messageItem),
      next: page.length === limit && last !== undefined ? encodeMessageCursor({ createdAt: last.createdAt, key: last.key }) : null
    }
  })
}

export default conversations
