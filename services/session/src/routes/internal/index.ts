import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import resolve from './resolve.js'
import agentSessions from './agent-sessions.js'
import agents from './agents.js'

/** Service-to-service routes, mounted under /internal: never routed to clients by the gateway. */
const internal: FastifyPluginAsyncTypebox = async (app) => {
  await app.register(resolve)
  await app.register(agentSessions)
  await app.register(agents)
}

export default internal
