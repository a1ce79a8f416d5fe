import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { ConsoleSessionSchema, clearConsoleCookie, requireAgent, serializeConsoleCookie, type ConsoleSession } from '@weapp/common'
import { errorResponses } from '../../schemas.js'
import { AgentDisabledError, ConsoleLoginFailedError } from '../../errors.js'
import { toAgentView } from '../../agents/agent-view.js'
import type { AgentRecord, AgentSessionRecord } from '../../repositories/agents.js'
import type { ConsoleLoginOutcome } from '../../metrics.js'
import { LoginBody } from './schemas.js'

function consoleSession (agent: AgentRecord, session: AgentSessionRecord): ConsoleSession {
  return {
    agent: toAgentView(agent),
    csrfToken: session.csrfToken,
    expiresAt: session.idleExpiresAt.toISOString(),
    absoluteExpiresAt: session.absoluteExpiresAt.toISOString()
  }
}

function outcomeOf (err: unknown): ConsoleLoginOutcome {
  if (err instanceof ConsoleLoginFailedError) return 'failed'
  if (err instanceof AgentDisabledError) return 'disabled'
  return 'error'
}

/** POST /api/console/login, POST /api/console/logout, GET /api/console/me. */
const session: FastifyPluginAsyncTypebox = async (app) => {
  const { CONSOLE_COOKIE_SECURE: secure, CONSOLE_SESSION_MAX_SEC: maxAgeSec } = app.sessionConfig

  app.post('/login', {
    schema: { body: LoginBody, response: { 200: ConsoleSessionSchema, ...errorResponses(400, 401, 403, 413, 415, 500, 503) } }
  }, async (request, reply) => {
    try {
      const { token, session, agent } = await app.agentSessionService.login(request.body.login, request.body.password)
      app.sessionMetrics.consoleLogins.inc({ outcome: 'ok' })
      void reply.header('set-cookie', serializeConsoleCookie(token, { secure, maxAgeSec }))
      return consoleSession(agent, session)
    } catch (err) {
      app.sessionMetrics.consoleLogins.inc({ outcome: outcomeOf(err) })
      throw err
    }
  })

  app.post('/logout', {
    schema: { response: { 204: Type.Null(), ...errorResponses(400, 401, 403, 500) } }
  }, async (request, reply) => {
    const identity = requireAgent(request)
    await app.agentSessionService.logout(identity.sessionId)
    return await reply.code(204).header('set-cookie', clearConsoleCookie(secure)).send(null)
  })

  app.get('/me', {
    schema: { response: { 200: ConsoleSessionSchema, ...errorResponses(400, 401, 403, 500) } }
  }, async (request) => {
    const identity = requireAgent(request)
    const { session, agent } = await app.agentSessionService.sessionById(identity.sessionId)
    return consoleSession(agent, session)
  })
}

export default session
