import type { FastifyReply, FastifyRequest } from 'fastify'
import { field } from './schemas.js'
import { wxError } from './wx-errors.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** The app whose access_token the call carried; set by requireAccessToken. */
    simAppId: string
  }
}

/**
 * preHandler for every API that takes `?access_token=` (docs/wechat/errors.md#token-errors): 41001 missing, 40014 malformed,
 * 40001 unknown or superseded, 42001 expired. On success `request.simAppId` names the token's app.
 */
export async function requireAccessToken (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
  const token = field(request.query, 'access_token')
  if (token === undefined) return reply.send(wxError(41001))
  const state = request.server.simState
  const check = state.tokens.check(token, state.now())
  if (!check.ok) return reply.send(wxError(check.errcode))
  request.simAppId = check.appId
  return undefined
}
