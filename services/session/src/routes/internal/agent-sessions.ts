import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { AgentResolveRequestSchema, AgentResolveResponseSchema } from '@weapp/common'
import { errorResponses } from '../../schemas.js'

/**
 * POST /internal/agent-sessions/resolve (AGENT_RESOLVE_PATH): the gateway turns a console cookie into an agent
 * identity and the session's CSRF token; 401 SESSION_CONSOLE_SESSION_INVALID when it names no live session.
 */
const agentSessions: FastifyPluginAsyncTypebox = async (app) => {
  app.post('/agent-sessions/resolve', {
    schema: { body: AgentResolveRequestSchema, response: { 200: AgentResolveResponseSchema, ...errorResponses(400, 401, 413, 415, 500) } }
  }, async (request) => {
    const { identity, session } = await app.agentSessionService.resolve(request.body.token)
    return { identity, csrfToken: session.csrfToken, expiresAt: session.idleExpiresAt.toISOString() }
  })
}

export default agentSessions
