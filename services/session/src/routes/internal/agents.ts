import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { AgentViewSchema } from '@weapp/common'
import { errorResponses } from '../../schemas.js'
import { toAgentView } from '../../agents/agent-view.js'
import { AgentLogin, DisplayName, NewPassword } from '../console/schemas.js'

export const AGENT_BOOTSTRAP_PATH = '/internal/agents/bootstrap'

/**
 * POST /internal/agents/bootstrap (`pnpm console:admin`, internal token only): creates the console admin, or
 * makes the existing account an enabled admin with this password and ends its sessions (the way back in).
 */
const agents: FastifyPluginAsyncTypebox = async (app) => {
  app.post('/agents/bootstrap', {
    schema: {
      body: Type.Object({ login: AgentLogin, displayName: Type.Optional(DisplayName), password: NewPassword }, { additionalProperties: false }),
      response: { 200: Type.Object({ agent: AgentViewSchema, created: Type.Boolean() }), ...errorResponses(400, 401, 413, 415, 500, 503) }
    }
  }, async (request) => {
    const { login, displayName, password } = request.body
    const { agent, created } = await app.agentService.bootstrap({ login, password, ...(displayName !== undefined ? { displayName: displayName.trim() } : {}) })
    return { agent: toAgentView(agent), created }
  })
}

export default agents
