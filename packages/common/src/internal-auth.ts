import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import type { AdminIdentity, AgentIdentity, Identity, UserIdentity } from './contracts/identity.js'
import { AuthRequiredError, ForbiddenError, InternalAuthInvalidError, InternalAuthMissingError } from './errors.js'
import { IDENTITY_HEADER, INTERNAL_TOKEN_HEADER, IdentityDecoder } from './identity-header.js'
import { internalTokenCheck } from './internal-token.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** Set when the gateway forwarded an authenticated identity. */
    identity: Identity | null
  }
  interface FastifyContextConfig {
    /** Routes that answer without the internal credential (health checks). */
    public?: boolean
  }
}

export interface InternalAuthOptions {
  internalToken: string
}

/**
 * Every service sits behind the gateway: a request must carry the internal credential, and the
 * identity header (if any) is trusted only because of it. Routes with `config.public` skip the check.
 */
async function internalAuth (app: FastifyInstance, opts: InternalAuthOptions): Promise<void> {
  const checkToken = internalTokenCheck(opts.internalToken)
  // A session's requests all carry the same header value: decoded once, then looked up (frozen identities).
  const identities = new IdentityDecoder()
  app.decorateRequest('identity', null)
  // Callback style: no promise per request (every request of every service passes here).
  app.addHook('onRequest', (request, _reply, done) => {
    if (request.routeOptions.config?.public === true) {
      done()
      return
    }
    const verdict = checkToken(request.headers[INTERNAL_TOKEN_HEADER])
    if (verdict !== 'ok') {
      done(verdict === 'missing' ? new InternalAuthMissingError() : new InternalAuthInvalidError())
      return
    }
    const forwarded = request.headers[IDENTITY_HEADER]
    try {
      if (typeof forwarded === 'string') request.identity = identities.decode(forwarded)
    } catch (err) {
      done(err as Error)
      return
    }
    done()
  })
}

export const internalAuthPlugin = fp(internalAuth, { name: '@weapp/internal-auth', fastify: '5.x' })

/** The user behind a request, or a 401 naming what is missing. */
export function requireUser (request: FastifyRequest): UserIdentity {
  const identity = request.identity
  if (identity === null || identity.kind !== 'user') throw new AuthRequiredError('a user session is required')
  return identity
}

/** The admin behind a request (the gateway checked the admin key), or 401/403. */
export function requireAdmin (request: FastifyRequest): AdminIdentity {
  const identity = request.identity
  if (identity === null) throw new AuthRequiredError('an admin key is required')
  if (identity.kind !== 'admin') throw new ForbiddenError('this route is for admin keys only')
  return identity
}

/**
 * The console agent behind a request (the gateway resolved the console cookie and checked CSRF), or
 * 401/403; `role: 'admin'` for what only console admins may do.
 */
export function requireAgent (request: FastifyRequest, role?: 'admin'): AgentIdentity {
  const identity = request.identity
  if (identity === null) throw new AuthRequiredError('a console session is required')
  if (identity.kind !== 'agent') throw new ForbiddenError('this route is for console agents only')
  if (role === 'admin' && identity.role !== 'admin') throw new ForbiddenError('this needs a console admin')
  return identity
}
