import { AGENT_RESOLVE_PATH, parseAgentResolveResponse, type AgentResolveRequest } from '../contracts/console.js'
import type { AgentIdentity, UserIdentity } from '../contracts/identity.js'
import { RESOLVE_PATH, parseResolveResponse, resolveRequestOf } from '../contracts/resolve.js'
import { INTERNAL_TOKEN_HEADER, REQUEST_ID_HEADER, encodeIdentity } from '../identity-header.js'
import type { CachedCredential } from './credentials.js'
import type { AuthFailureLimiter } from './failure-limit.js'
import { TtlLru } from './ttl-lru.js'

/** A credential the session service vouched for, ready to forward. */
export interface ResolvedSession {
  /** A user's for the session credentials, an agent's for the console cookie. */
  readonly identity: UserIdentity | AgentIdentity
  /** `x-weapp-identity` value, encoded once per resolve rather than once per request. */
  readonly identityHeader: string
  /** An agent session's CSRF token (auth/csrf.ts); absent for user sessions. */
  readonly csrfToken?: string
}

/**
 * The session service's verdict: a session, or why there is none (unknown, expired...); or no lookup
 * at all because the client address used up its failed-lookup budget (retry after `retryAfterMs`).
 */
export type ResolveResult =
  | { ok: true, session: ResolvedSession }
  | { ok: false, reason: string }
  | { ok: false, retryAfterMs: number }

interface InFlight {
  promise: Promise<ResolveResult>
  /** Set when the credential was revoked while its resolve was under way: do not cache the answer. */
  revoked: boolean
}

/** One call to the session service: the answer's status and body text, or a rejection when there was none. */
export interface ResolveCall {
  readonly path: string
  readonly headers: Record<string, string>
  readonly body: string
}
export type ResolveTransport = (call: ResolveCall) => Promise<{ statusCode: number, text: string }>

export type ResolveOutcome = 'ok' | 'invalid' | 'error'
/**
 * Why a presented credential was refused: `malformed` (not the shape the session service issues: no
 * lookup), `refused` (the session service said no), `cached_refusal` (it said no lately: no lookup),
 * `rate_limited` (the client address used up its failed-lookup budget: no lookup, 429).
 */
export type AuthFailureReason = 'malformed' | 'refused' | 'cached_refusal' | 'rate_limited'

/** What the resolver counts (the gateway's and realtime-ws's metrics each implement it). */
export interface SessionResolverMetrics {
  authCacheHit: () => void
  authCacheMiss: () => void
  authFailure: (reason: AuthFailureReason) => void
  resolveObserved: (seconds: number, outcome: ResolveOutcome) => void
}

export interface SessionResolverOptions {
  /** Sends one call to the session service (its base URL, timeouts and connection pool are the caller's). */
  transport: ResolveTransport
  /** The error a call that got no answer rejects with (the transport's failure given); the caller counts it too. */
  unreachable: (err: unknown) => Error
  /** The error for an answer that is not the contract's (a 502, never a session). */
  badResponse: () => Error
  internalToken: string
  /** 0 disables the cache (every request is resolved; concurrent ones still share one call). */
  cacheTtlMs: number
  cacheMax: number
  /** How long a refusal is remembered (0: not at all) and how many are. */
  refusalTtlMs: number
  refusalMax: number
  /** Failed lookups per client address. */
  limiter: AuthFailureLimiter
  metrics: SessionResolverMetrics
}

/**
 * Resolves credentials through the session service's `POST /internal/resolve` (the console cookie through
 * `POST /internal/agent-sessions/resolve`), once, for the gateway and for realtime-ws's direct upgrades: positive
 * answers are cached (bounded LRU, AUTH_CACHE_TTL_MS, never past the session's own expiry) under
 * the credentialHash, and concurrent requests with the same credential share one call. Revocations
 * (`session.revoked` and `agent.sessions.ended` on the bus) evict at once.
 *
 * Refusals are remembered too (AUTH_REFUSAL_CACHE_TTL_MS, bounded): a credential the session service
 * refused cannot become valid later, because every login mints a fresh random credential (at least
 * 160 bits, services/session/src/sessions/credentials.ts) and never revives an unknown, expired or
 * revoked one, so no login can make a remembered refusal wrong. The TTL stays short anyway: it bounds
 * the one window where the verdict could be stale, a session store read that lags behind the login
 * that wrote it (a replica), and the memory an attacker's random credentials take.
 */
export class SessionResolver {
  readonly #options: SessionResolverOptions
  readonly #cache: TtlLru<ResolvedSession>
  readonly #refusals: TtlLru<string>
  readonly #inFlight = new Map<string, InFlight>()

  constructor (options: SessionResolverOptions) {
    this.#options = options
    this.#cache = new TtlLru(options.cacheMax)
    this.#refusals = new TtlLru(options.refusalMax)
  }

  get cacheSize (): number { return this.#cache.size }

  /** Hot path: a cached session or undefined, synchronously. */
  cached (hash: string): ResolvedSession | undefined {
    if (this.#options.cacheTtlMs === 0) return undefined
    const session = this.#cache.get(hash, Date.now())
    if (session !== undefined) this.#options.metrics.authCacheHit()
    return session
  }

  /** Why the session service refused this credential lately, or undefined (then resolve()). */
  refused (hash: string): string | undefined {
    if (this.#options.refusalTtlMs === 0) return undefined
    const reason = this.#refusals.get(hash, Date.now())
    if (reason !== undefined) this.#options.metrics.authFailure('cached_refusal')
    return reason
  }

  /**
   * Asks the session service (or joins the call already under way for this credential), unless the
   * client `address` used up its failed-lookup budget. Rejects with the `unreachable` or `badResponse`
   * error when the session service cannot answer: that is never a 401.
   */
  resolve (credential: CachedCredential, requestId: string, address: string): Promise<ResolveResult> {
    const running = this.#inFlight.get(credential.hash)
    if (running !== undefined) return running.promise
    const { limiter, metrics } = this.#options
    const retryAfterMs = limiter.admit(address)
    if (retryAfterMs > 0) {
      metrics.authFailure('rate_limited')
      return Promise.resolve({ ok: false, retryAfterMs })
    }
    metrics.authCacheMiss()
    const entry: InFlight = { promise: undefined as unknown as Promise<ResolveResult>, revoked: false }
    entry.promise = this.#call(credential, requestId).then(async (result): Promise<ResolveResult> => {
      if (this.#inFlight.get(credential.hash) === entry) this.#inFlight.delete(credential.hash)
      if (!result.ok) {
        metrics.authFailure('refused')
        this.#rememberRefusal(credential.hash, result.reason)
        await limiter.settle(address, true)
        return result
      }
      void limiter.settle(address, false)
      if (!entry.revoked) this.#remember(credential.hash, result.session, result.expiresAt)
      return { ok: true, session: result.session }
    }, (err: unknown) => {
      if (this.#inFlight.get(credential.hash) === entry) this.#inFlight.delete(credential.hash)
      void limiter.settle(address, false)
      throw err
    })
    this.#inFlight.set(credential.hash, entry)
    return entry.promise
  }

  /** Forget a credential now (it was logged out); an answer still on its way is not cached. */
  evict (hash: string): void {
    this.#cache.delete(hash)
    const running = this.#inFlight.get(hash)
    if (running !== undefined) {
      running.revoked = true
      this.#inFlight.delete(hash)
    }
  }

  clear (): void {
    this.#cache.clear()
    this.#refusals.clear()
    for (const entry of this.#inFlight.values()) entry.revoked = true
    this.#inFlight.clear()
  }

  #remember (hash: string, session: ResolvedSession, expiresAt: number): void {
    const ttl = this.#options.cacheTtlMs
    if (ttl === 0) return
    const deadline = Math.min(Date.now() + ttl, expiresAt)
    if (deadline > Date.now()) this.#cache.set(hash, session, deadline)
  }

  #rememberRefusal (hash: string, reason: string): void {
    const ttl = this.#options.refusalTtlMs
    if (ttl > 0) this.#refusals.set(hash, reason, Date.now() + ttl)
  }

  async #call (credential: CachedCredential, requestId: string): Promise<{ ok: true, session: ResolvedSession, expiresAt: number } | { ok: false, reason: string }> {
    const { transport, internalToken, metrics } = this.#options
    const started = performance.now()
    let statusCode: number
    let text: string
    try {
      const answer = await transport({
        path: credential.kind === 'console' ? AGENT_RESOLVE_PATH : RESOLVE_PATH,
        headers: {
          'content-type': 'application/json',
          [INTERNAL_TOKEN_HEADER]: internalToken,
          [REQUEST_ID_HEADER]: requestId
        },
        body: JSON.stringify(credential.kind === 'console' ? { token: credential.token } satisfies AgentResolveRequest : resolveRequestOf(credential))
      })
      statusCode = answer.statusCode
      text = answer.text
    } catch (err) {
      metrics.resolveObserved((performance.now() - started) / 1000, 'error')
      throw this.#options.unreachable(err)
    }
    const seconds = (performance.now() - started) / 1000
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch {
      parsed = undefined
    }
    if (statusCode === 200 && credential.kind === 'console') {
      // Checked against the contract (@weapp/common contracts/console.ts): anything else is a 502, never a session.
      const answer = parseAgentResolveResponse(parsed)
      if (answer !== null) {
        metrics.resolveObserved(seconds, 'ok')
        return {
          ok: true,
          session: { identity: answer.identity, identityHeader: encodeIdentity(answer.identity), csrfToken: answer.csrfToken },
          expiresAt: Date.parse(answer.expiresAt)
        }
      }
    } else if (statusCode === 200) {
      // Checked against the contract (@weapp/common contracts/resolve.ts): anything else is a 502, never a session.
      const answer = parseResolveResponse(parsed)
      if (answer !== null) {
        metrics.resolveObserved(seconds, 'ok')
        return {
          ok: true,
          session: { identity: answer.identity, identityHeader: encodeIdentity(answer.identity) },
          expiresAt: Date.parse(answer.expiresAt)
        }
      }
    }
    const body = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Record<string, unknown>
    if (statusCode === 400 || statusCode === 401 || statusCode === 403) {
      metrics.resolveObserved(seconds, 'invalid')
      // The session service says "Session invalid: <reason>"; the callers' errors add their prefix.
      const reason = typeof body.message === 'string' && body.message !== '' ? body.message.replace(/^(Console )?[Ss]ession invalid: /, '') : 'unknown session'
      return { ok: false, reason }
    }
    metrics.resolveObserved(seconds, 'error')
    throw this.#options.badResponse()
  }
}
