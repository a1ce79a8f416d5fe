import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { AuthRequiredError } from '@weapp/common'
import { errorResponses } from '../schemas.js'
import { assertSessionLive } from '../auth.js'

/**
 * POST /api/ws/tickets (through the gateway, with a session): a single-use ticket for `GET /ws?ticket=`,
 * for clients that cannot send headers on an upgrade (wx.connectSocket through nginx, browsers).
 * Admin identities (agent consoles behind the gateway's admin key) may have one too.
 */
const tickets: FastifyPluginAsyncTypebox = async (app) => {
  app.post('/ws/tickets', {
    schema: {
      response: {
        200: Type.Object({ ticket: Type.String(), expiresIn: Type.Integer(), url: Type.String() }),
        ...errorResponses(400, 401, 500, 503)
      }
    }
  }, async (request, reply) => {
    const identity = request.identity
    if (identity === null) throw new AuthRequiredError('a user session is required')
    assertSessionLive(app, identity)
    const ttlSec = app.wsConfig.TICKET_TTL_SEC
    const ticket = await app.wsTickets.issue({ purpose: 'ws', identity }, ttlSec * 1000)
    app.wsMetrics.ticketsIssued.inc({ purpose: 'ws' })
    reply.header('cache-control', 'no-store')
    return await reply.send({ ticket, expiresIn: ttlSec, url: `/ws?ticket=${ticket}` })
  })
}

export default tickets
