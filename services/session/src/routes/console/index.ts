import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import session from './session.js'
import agents from './agents.js'
import users from './users.js'

/** The agent console's routes of this service (docs/console.md#http-api), mounted under /api/console. */
const consoleRoutes: FastifyPluginAsyncTypebox = async (app) => {
  await app.register(session)
  await app.register(agents)
  await app.register(users)
}

export default consoleRoutes
