import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { ConversationSchema, ForbiddenError, WindowViewSchema, requireAgent, type AgentIdentity } from '@weapp/common'
import { CursorSchema, OpenidSchema, errorResponses } from '../../schemas.js'
import { strictValidatorCompiler } from '../../validation.js'
import { ConsoleClaimedError, ConsoleNotFoundError } from '../../errors.js'
import { decodeConversationCursor, encodeConversationCursor } from '../../repositories/cursor.js'
import { conversationView, type AssignResult, type ConversationRecord } from '../../repositories/conversations.js'
import { windowView } from '../../conversations/views.js'
import { TYPING_AFTER_INTERACTION_MS } from '../../conversations/typing-throttle.js'

export const CONSOLE_PAGE_DEFAULT = 50
export const CONSOLE_PAGE_MAX = 100

const Params = Type.Object({ openid: OpenidSchema })
const Next = Type.Union([Type.String(), Type.Null()], { description: 'Pass as before= for the next (older) page; null on the last page' })
const ConversationAnswer = Type.Object({ conversation: ConversationSchema })
/** The state-changing routes take no body, or an empty JSON object (claim: `{force?}`). */
const NoBody = Type.Object({}, { additionalProperties: false })
const ClaimBody = Type.Object({ force: Type.Optional(Type.Boolean()) }, { additionalProperties: false })

function notFound (openid: string): Error {
  return new ConsoleNotFoundError(`no conversation with ${openid}`)
}

function assigned (result: AssignResult, openid: string): ConversationRecord {
  if (result.outcome === 'missing') throw notFound(openid)
  if (result.outcome === 'claimed') throw new ConsoleClaimedError(result.conversation.assignee?.displayName ?? 'another agent')
  return result.conversation
}

/**
 * The conversations of the console (docs/console.md): the list, one conversation with its live send
 * window, and what agents do to one (read, claim, release, resolve, reopen). Each change is published
 * as a console event.
 */
const conversations: FastifyPluginAsyncTypebox = async (app) => {
  const now = (): Date => new Date(app.clock())
  const changed = async (record: ConversationRecord): Promise<{ conversation: ReturnType<typeof conversationView> }> => {
    await app.conversationTracker.changed(record)
    return { conversation: conversationView(record) }
  }

  app.get('/conversations', {
    schema: {
      querystring: Type.Object({
        view: Type.Union([Type.Literal('mine'), Type.Literal('unassigned'), Type.Literal('all')], { default: 'all' }),
        status: Type.Union([Type.Literal('open'), Type.Literal('resolved')], { default: 'open' }),
        limit: Type.Integer({ minimum: 1, maximum: CONSOLE_PAGE_MAX, default: CONSOLE_PAGE_DEFAULT }),
        before: Type.Optional(CursorSchema)
      }, { additionalProperties: false }),
      response: { 200: Type.Object({ items: Type.Array(ConversationSchema), next: Next }), ...errorResponses(400, 401, 403, 500) }
    }
  }, async (request) => {
    const agent = requireAgent(request)
    const { view, status, limit, before } = request.query
    const page = await app.conversationsRepository.list({
      view, status, limit, agentId: agent.agentId, before: before === undefined ? undefined : decodeConversationCursor(before)
    })
    const last = page.at(-1)
    return {
      items: page.map(conversationView),
      next: page.length === limit && last !== undefined ? encodeConversationCursor({ lastAt: last.lastAt, openid: last.openid }) : null
    }
  })

  app.get('/conversations/:openid', {
    schema: {
      params: Params,
      response: {
        200: Type.Object({ conversation: ConversationSchema, window: Type.Union([WindowViewSchema, Type.Null()]), typingUntil: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]) }),
        ...errorResponses(400, 401, 403, 404, 500)
      }
    }
  }, async (request) => {
    requireAgent(request)
    const { openid } = request.params
    const record = await app.conversationsRepository.get(openid)
    if (record === null) throw notFound(openid)
    const at = now()
    const until = record.lastInteractionAt === null ? null : record.lastInteractionAt.getTime() + TYPING_AFTER_INTERACTION_MS
    return {
      conversation: conversationView(record),
      // Read live: the stored one is as of the conversation's last change.
      window: windowView(await app.sendWindows.peek(openid, at)),
      typingUntil: until !== null && until > at.getTime() ? new Date(until).toISOString() : null
    }
  })

  const action = (path: string, run: (openid: string, agent: AgentIdentity, body: { force?: boolean }) => Promise<ConversationRecord | Unchanged>, Body: typeof NoBody | typeof ClaimBody = NoBody): void => {
    app.post(`/conversations/:openid/${path}`, {
      bodyLimit: 1024,
      validatorCompiler: strictValidatorCompiler,
      // A POST without a body is an empty one.
      preValidation: async (request) => { if (request.body === undefined) request.body = {} },
      schema: { params: Params, body: Body, response: { 200: ConversationAnswer, ...errorResponses(400, 401, 403, 404, 409, 413, 415, 500) } }
    }, async (request) => {
      const agent = requireAgent(request)
      const result = await run(request.params.openid, agent, request.body as { force?: boolean })
      return result instanceof Unchanged ? { conversation: conversationView(result.record) } : await changed(result)
    })
  }

  action('read', async (openid, agent) => {
    // Nothing unread for this agent: no write, and no event to every console (each open console reads as
    // messages arrive; a read that changes nothing must not cost the others a frame).
    const current = await app.conversationsRepository.get(openid) ?? notFoundThrow(openid)
    if ((current.readCounts[agent.agentId] ?? 0) >= current.inboundCount) return new Unchanged(current)
    return await app.conversationsRepository.markRead(openid, agent.agentId) ?? notFoundThrow(openid)
  })
  action('claim', async (openid, agent, body) => {
    const force = body.force === true
    // Taking a conversation from another agent is for console admins.
    if (force) requireAgentAdmin(agent)
    return assigned(await app.conversationsRepository.claim(openid, { agentId: agent.agentId, displayName: agent.displayName }, { force }), openid)
  }, ClaimBody)
  action('release', async (openid, agent) => {
    return assigned(await app.conversationsRepository.release(openid, agent.agentId, { force: agent.role === 'admin' }), openid)
  })
  action('resolve', async (openid) => await app.conversationsRepository.setStatus(openid, 'resolved') ?? notFoundThrow(openid))
  action('reopen', async (openid) => await app.conversationsRepository.setStatus(openid, 'open') ?? notFoundThrow(openid))
}

/** An action that changed nothing: answered with the conversation, not published. */
class Unchanged {
  constructor (readonly record: ConversationRecord) {}
}

function notFoundThrow (openid: string): never {
  throw notFound(openid)
}

function requireAgentAdmin (agent: AgentIdentity): void {
  if (agent.role !== 'admin') throw new ForbiddenError('forcing a claim needs a console admin')
}

export default conversations
