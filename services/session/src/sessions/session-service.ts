import { randomUUID } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import { BusChannels, type Bus, type Clock, type SessionKind, type UserIdentity } from '@weapp/common'
import type { SessionRecord, SessionsRepository } from '../repositories/types.js'
import { SessionInvalidError } from '../errors.js'
import { type Credential, type CredentialOf, credentialHash, generateCredential } from './credentials.js'
import { type ExpiryPolicy, evaluateExpiry, initialExpiry } from './expiry.js'

export interface SessionServiceOptions {
  sessions: SessionsRepository
  bus: Bus
  policy: ExpiryPolicy
  /** The current time; injectable so tests can move it. */
  /** The current time (ms): expiries and last-seen times are computed from it. */
  now: Clock
  log: FastifyBaseLogger
}

export interface CreatedSession<K extends SessionKind = SessionKind> {
  /** The credential in clear: handed to the client once, never stored. */
  credential: CredentialOf<K>
  session: SessionRecord
}

export interface ResolvedSession {
  identity: UserIdentity
  expiresAt: Date
}

/** Our own sessions: creation, resolution with sliding expiry, revocation. Routes never touch the store directly. */
export class SessionService {
  readonly #sessions: SessionsRepository
  readonly #bus: Bus
  readonly #policy: ExpiryPolicy
  readonly #now: Clock
  readonly #log: FastifyBaseLogger

  constructor ({ sessions, bus, policy, now, log }: SessionServiceOptions) {
    this.#sessions = sessions
    this.#bus = bus
    this.#policy = policy
    this.#now = now
    this.#log = log
  }

  get policy (): ExpiryPolicy { return this.#policy }

  /** A new session of the given kind for a user who just logged in. */
  async create<K extends SessionKind> (kind: K, user: { openid: string, unionid?: string | undefined }): Promise<CreatedSession<K>> {
    const now = new Date(this.#now())
    const credential = generateCredential(kind)
    const session: SessionRecord = {
      id: randomUUID(),
      openid: user.openid,
      kind,
      credentialHashes: [credentialHash(credential)],
      createdAt: now,
      lastSeenAt: now,
      ...initialExpiry(now, this.#policy)
    }
    if (user.unionid !== undefined) session.unionid = user.unionid
    await this.#sessions.create(session)
    return { credential, session }
  }

  /**
   * The identity behind a credential. Unknown → SESSION_INVALID; expired → deleted, then SESSION_INVALID.
   * A valid use slides the idle expiry, written at most once per touch interval.
   */
  async resolve (credential: Credential): Promise<ResolvedSession> {
    const session = await this.#sessions.findByCredentialHash(credentialHash(credential))
    if (session === null) throw new SessionInvalidError('unknown session')
    const now = new Date(this.#now())
    const verdict = evaluateExpiry(session, now, this.#policy)
    if (!verdict.valid) {
      await this.#sessions.delete(session.id)
      throw new SessionInvalidError(verdict.reason)
    }
    if (verdict.touch) await this.#sessions.touch(session.id, now, verdict.expiresAt)
    return { identity: toIdentity(session), expiresAt: verdict.expiresAt }
  }

  /**
   * Ends a session now and tells every gateway to drop it from its cache. Returns false when there was
   * no such session (already logged out or expired): logging out twice is not an error.
   */
  async revoke (sessionId: string): Promise<boolean> {
    const session = await this.#sessions.delete(sessionId)
    if (session === null) return false
    try {
      await this.#bus.publish(BusChannels.sessions, { type: 'session.revoked', sessionId: session.id, credentialHashes: session.credentialHashes })
    } catch (err) {
      // The session is gone from the store: gateways fall back to their cache TTL. Worth an alert, not a failed logout.
      this.#log.error({ err, sessionId: session.id }, 'could not publish session.revoked')
    }
    return true
  }
}

function toIdentity (session: SessionRecord): UserIdentity {
  const identity: UserIdentity = { kind: 'user', openid: session.openid, sessionId: session.id, via: session.kind }
  if (session.unionid !== undefined) identity.unionid = session.unionid
  identity.absoluteExpiresAt = session.absoluteExpiresAt.toISOString()
  return identity
}
