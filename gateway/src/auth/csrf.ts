import { hash, timingSafeEqual } from 'node:crypto'
import { CSRF_HEADER, ConfigInvalidError } from '@weapp/common'
import type { FastifyRequest, onRequestHookHandler } from 'fastify'
import { CsrfRejectedError } from '../errors.js'

// Cross-site request forgery checks of the agent console (docs/console.md#sessions). The console cookie is
// SameSite=Strict already; these make a forged request fail even where a browser would send it anyway (a
// sibling subdomain is "same site") and refuse cross-site WebSocket hijacking, which SameSite does not cover.

/** Methods that change nothing: no CSRF check (the console never changes state with them). */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

/** Longest CSRF token compared (the session service issues 43 characters); longer is refused unhashed. */
export const MAX_CSRF_TOKEN_LENGTH = 256

/** Most entries of CONSOLE_ORIGINS (each request's Origin is looked up in a Set: the count is about config sanity). */
export const MAX_CONSOLE_ORIGINS = 32

/** Whether a request needs the CSRF checks: every method but GET/HEAD/OPTIONS. */
export function changesState (method: string): boolean {
  return !SAFE_METHODS.has(method)
}

/**
 * CONSOLE_ORIGINS: comma-separated origins (`https://console.example.com`), each an http(s) URL with no
 * path, query, fragment or credentials; stored as their serialised origin (lower case, default port
 * dropped). Throws COMMON_CONFIG_INVALID naming the bad entries.
 */
export function parseConsoleOrigins (value: string | undefined): Set<string> {
  const origins = new Set<string>()
  if (value === undefined) return origins
  const problems: string[] = []
  const entries = value.split(',').map((s) => s.trim())
  if (entries.length > MAX_CONSOLE_ORIGINS) problems.push(`CONSOLE_ORIGINS has ${entries.length} entries (at most ${MAX_CONSOLE_ORIGINS})`)
  entries.forEach((entry, i) => {
    const where = `CONSOLE_ORIGINS entry ${i + 1}`
    let url: URL
    try {
      url = new URL(entry)
    } catch {
      problems.push(`${where} is not a URL`)
      return
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') problems.push(`${where} must be http:// or https://`)
    else if (url.username !== '' || url.password !== '' || (url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.hash !== '' || entry.endsWith('/')) {
      problems.push(`${where} must be an origin (scheme://host[:port]) with nothing after it`)
    } else origins.add(url.origin)
  })
  if (problems.length > 0) throw new ConfigInvalidError(problems.join('; '))
  return origins
}

/** The Origin checks' settings: the gateway's own scheme (https when the cookie is Secure) and the extra origins. */
export interface OriginPolicy {
  readonly secure: boolean
  readonly allowed: ReadonlySet<string>
}

/**
 * Whether the request's `Origin` is the gateway's own (`http(s)://` + the Host it was called with) or one
 * of CONSOLE_ORIGINS. Missing, `null` (sandboxed or privacy-stripped contexts) or anything else: false.
 */
export function originAllowed (request: FastifyRequest, policy: OriginPolicy): boolean {
  const origin = request.headers.origin
  if (origin === undefined || origin === '' || origin === 'null') return false
  const presented = origin.toLowerCase()
  const host = request.headers.host
  if (host !== undefined && host !== '' && presented === `${policy.secure ? 'https' : 'http'}://${host.toLowerCase()}`) return true
  return policy.allowed.has(presented)
}

const digest = (value: string): Buffer => hash('sha256', value, 'buffer')

/** Whether `x-csrf-token` equals the session's token (compared as digests: neither length nor content leaks through timing). */
export function csrfTokenMatches (request: FastifyRequest, expected: string): boolean {
  const presented = request.headers[CSRF_HEADER]
  if (typeof presented !== 'string' || presented.length === 0 || presented.length > MAX_CSRF_TOKEN_LENGTH) return false
  return timingSafeEqual(digest(presented), digest(expected))
}

export const ORIGIN_REFUSAL = 'the Origin header is missing or not an allowed origin'
export const TOKEN_REFUSAL = `the ${CSRF_HEADER} header is missing or does not match the session`

/**
 * The console login's check (login CSRF: a forged login would put the victim in the attacker's session):
 * a state-changing request needs an allowed Origin, refused on arrival, before its body is read.
 */
export function loginOriginCheck (policy: OriginPolicy): onRequestHookHandler {
  return function checkLoginOrigin (request, reply, done) {
    if (changesState(request.method) && !originAllowed(request, policy)) {
      reply.send(new CsrfRejectedError(ORIGIN_REFUSAL))
      return
    }
    done()
  }
}
