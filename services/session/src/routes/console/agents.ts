import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import Type from 'typebox'
import { AgentViewSchema, ForbiddenError, requireAgent, type AgentIdentity } from '@weapp/common'
import { errorResponses } from '../../schemas.js'
import { CurrentPasswordWrongError } from '../../errors.js'
import { toAgentView } from '../../agents/agent-view.js'
import type { AgentChange } from '../../agents/agent-service.js'
import { AgentIdParams, AgentPatchBody, NewAgentBody, PasswordBody } from './schemas.js'

/**
 * A console admin, as the store says now: the identity comes from the gateway's cache (seconds old), and an
 * admin demoted or disabled since then must not manage agents any more.
 */
async function requireConsoleAdmin (app: FastifyInstance, request: FastifyRequest): Promise<AgentIdentity> {
  const identity = requireAgent(request, 'admin')
  const caller = await app.agentsRepository.findById(identity.agentId)
  if (caller === null || caller.disabled || caller.role !== 'admin') throw new ForbiddenError('this needs a console admin')
  return identity
}

/** /api/console/agents: the accounts, managed by console admins. */
const agents: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/agents', {
    schema: { response: { 200: Type.Object({ items: Type.Array(AgentViewSchema) }), ...errorResponses(400, 401, 403, 500) } }
  }, async (request) => {
    await requireConsoleAdmin(app, request)
    return { items: (await app.agentService.list()).map(toAgentView) }
  })

  app.post('/agents', {
    schema: { body: NewAgentBody, response: { 201: AgentViewSchema, ...errorResponses(400, 401, 403, 409, 413, 415, 500, 503) } }
  }, async (request, reply) => {
    await requireConsoleAdmin(app, request)
    const { login, displayName, role, password } = request.body
    const agent = await app.agentService.create({ login, displayName: displayName.trim(), role, password })
    return await reply.code(201).send(toAgentView(agent))
  })

  app.patch('/agents/:id', {
    schema: { params: AgentIdParams, body: AgentPatchBody, response: { 200: AgentViewSchema, ...errorResponses(400, 401, 403, 404, 409, 413, 415, 500) } }
  }, async (request) => {
    await requireConsoleAdmin(app, request)
    const change: AgentChange = {}
    if (request.body.displayName !== undefined) change.displayName = request.body.displayName.trim()
    if (request.body.role !== undefined) change.role = request.body.role
    if (request.body.disabled !== undefined) change.disabled = request.body.disabled
    return toAgentView(await app.agentService.update(request.params.id, change))
  })

  // A console admin resets anyone's password; an agent changes its own with its current one. Either way the
  // agent's other sessions end (the caller's own session, when it is that agent's, stays).
  app.put('/agents/:id/password', {
    schema: { params: AgentIdParams, body: PasswordBody, response: { 204: Type.Null(), ...errorResponses(400, 401, 403, 404, 413, 415, 500, 503) } }
  }, async (request, reply) => {
    const identity = requireAgent(request)
    const self = identity.agentId === request.params.id
    const caller = await app.agentsRepository.findById(identity.agentId)
    const isAdmin = caller !== null && !caller.disabled && caller.role === 'admin'
    if (!isAdmin && !self) throw new ForbiddenError('this needs a console admin')
    const target = await app.agentService.get(request.params.id)
    const { password, currentPassword } = request.body
    if (!isAdmin || currentPassword !== undefined) {
      if (currentPassword === undefined || !(await app.agentService.checkPassword(target, currentPassword))) throw new CurrentPasswordWrongError()
    }
    await app.agentService.setPassword(target.id, password, self ? identity.sessionId : undefined)
    return await reply.code(204).send(null)
  })
}

export default agents
