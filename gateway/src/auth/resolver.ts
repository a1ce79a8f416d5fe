import { AGENT_RESOLVE_PATH, INTERNAL_TOKEN_HEADER, REQUEST_ID_HEADER, RESOLVE_PATH, encodeIdentity, parseAgentResolveResponse, parseResolveResponse, resolveRequestOf, type AgentIdentity, type AgentResolveRequest, type UserIdentity } from '@weapp/common'
import type { Pool } from 'undici'
import { UpstreamBadResponseError } from '../errors.js'
import type { GatewayMetrics } from '../metrics.js'
import { classifyUpstreamError, upstreamError } from '../proxy/upstream-errors.js'
import { TtlLru } from './cache.js'
import type { CachedCredential } from './credentials.js'
import type { AuthFailureLimiter } from './failure-limit.js'

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

export interface SessionResolverOptions {
  pool: Pool
  upstreamName: string
  internalToken: string
  timeoutMs: number
  /** 0 disables the cache (every request is resolved; concurrent ones still share one call). */
  cacheTtlMs: number
  cacheMax: number
  /** How long a refusal is remembered (0: not at all) and how many are. */
  refusalTtlMs: number
  refusalMax: number
  /** Failed lookups per client address. */
  limiter: AuthFailureLimiter
  metrics: GatewayMetrics
}

/**
 * Resolves credentials through the session service's `POST /internal/resolve` (the console cookie through
 * `POST /internal/agent-sessions/resolve`), once: positive
 * answers are cached (bounded LRU, AUTH_CACHE_TTL_MS, never past the session's own expiry) under
 * the credentialHash, and concurrent requests with the same credential share one call. Revocations
 * (logout here, or `session.revoked` from another gateway) evict at once.
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
   * client `address` used up its failed-lookup budget. Rejects with GATEWAY_UPSTREAM_* when the
   * session service cannot answer: that is never a 401.
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
    const { pool, upstreamName, internalToken, timeoutMs, metrics } = this.#options
    const started = performance.now()
    let statusCode: number
    let text: string
    try {
      const response = await pool.request({
        path: credential.kind === 'console' ? AGENT_RESOLVE_PATH : RESOLVE_PATH,
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          [INTERNAL_TOKEN_HEADER]: internalToken,
          [REQUEST_ID_HEADER]: requestId
        },
        body: JSON.stringify(credential.kind === 'console' ? { token: credential.token } satisfies AgentResolveRequest : resolveRequestOf(credential)),
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs
      })
      statusCode = response.statusCode
      text = await response.body.text()
    } catch (err) {
      const kind = classifyUpstreamError(err)
      metrics.upstreamError(upstreamName, kind)
      metrics.resolveObserved((performance.now() - started) / 1000, 'error')
      throw upstreamError(kind, upstreamName)
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
      // The session service says "Session invalid: <reason>"; the gateway's own errors add their prefix.
      const reason = typeof body.message === 'string' && body.message !== '' ? body.message.replace(/^(Console )?[Ss]ession invalid: /, '') : 'unknown session'
      return { ok: false, reason }
    }
    metrics.resolveObserved(seconds, 'error')
    metrics.upstreamError(upstreamName, 'bad_response')
    throw new UpstreamBadResponseError(upstreamName)
  }
}
