import type { onRequestHookHandler } from 'fastify'
import { AUTH_REQUIRED_HINTS, AdminDisabledError, AdminKeyInvalidError, AuthRequiredError } from '../errors.js'
import type { AdminKeyring } from './admin-keys.js'
import { bearerToken } from './credentials.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** `x-weapp-identity` of the admin key an `admin` route's request presented (set by its onRequest check). */
    adminIdentityHeader: string | null
  }
}

/**
 * The admin check, run when the request arrives (before its body is read: an upload without a
 * valid key costs the gateway nothing). Sets `request.adminIdentityHeader` or answers the refusal.
 */
export function adminCheck (keyring: AdminKeyring): onRequestHookHandler {
  return function checkAdminKey (request, reply, done) {
    if (!keyring.enabled) {
      reply.send(new AdminDisabledError())
      return
    }
    if (request.headers.authorization === undefined) {
      reply.send(new AuthRequiredError(AUTH_REQUIRED_HINTS.adminKey))
      return
    }
    const token = bearerToken(request.headers)
    if (token === undefined) {
      // Another scheme (Basic...), or "Bearer" with nothing usable after it: no admin key presented.
      reply.send(new AuthRequiredError(AUTH_REQUIRED_HINTS.adminKey))
      return
    }
    const key = keyring.match(token)
    if (key === undefined) {
      reply.send(new AdminKeyInvalidError())
      return
    }
    request.adminIdentityHeader = key.identityHeader
    done()
  }
}
