import type { PhoneInfo, User } from '@weapp/common'
import type { ProfilePatch, SessionRecord, SessionsRepository, UpsertOnLoginInput, UsersRepository } from './types.js'

interface StoredUser {
  user: User
  sessionKey: string
  /** What findByOpenid hands out until the next write: a frozen copy, made once rather than per read. */
  snapshot: User | null
}

/** Copies values in and out, so callers can never mutate what is stored (as with a real database). */
const copy = <T>(value: T): T => structuredClone(value)

/** A copy nobody can change, not even its nested objects: shared by every reader until the user changes. */
function frozenCopy<T extends object> (value: T): T {
  const frozen = copy(value)
  const freeze = (o: object): void => {
    for (const v of Object.values(o)) if (typeof v === 'object' && v !== null) freeze(v)
    Object.freeze(o)
  }
  freeze(frozen)
  return frozen
}

/** Users in process memory: the embedded default when MONGO_URL is unset. */
export class MemoryUsersRepository implements UsersRepository {
  readonly #users = new Map<string, StoredUser>()

  async upsertOnLogin ({ openid, unionid, sessionKey, wxUserInfo, now }: UpsertOnLoginInput): Promise<User> {
    const at = now.toISOString()
    let stored = this.#users.get(openid)
    if (stored === undefined) {
      stored = { user: { openid, firstSeenAt: at, lastSeenAt: at }, sessionKey, snapshot: null }
      this.#users.set(openid, stored)
    }
    stored.snapshot = null
    stored.sessionKey = sessionKey
    stored.user.lastSeenAt = at
    if (unionid !== undefined) stored.user.unionid = unionid
    if (wxUserInfo !== undefined) stored.user.wxUserInfo = copy(wxUserInfo)
    return copy(stored.user)
  }

  /** Every `/me` reads here: the frozen snapshot, copied once per change of the user instead of once per read. */
  async findByOpenid (openid: string): Promise<User | null> {
    const stored = this.#users.get(openid)
    if (stored === undefined) return null
    stored.snapshot ??= frozenCopy(stored.user)
    return stored.snapshot
  }

  async updateProfile (openid: string, patch: ProfilePatch): Promise<User | null> {
    const stored = this.#users.get(openid)
    if (stored === undefined) return null
    stored.snapshot = null
    if (patch.nickname !== undefined) stored.user.nickname = patch.nickname
    if (patch.avatarUrl !== undefined) stored.user.avatarUrl = patch.avatarUrl
    return copy(stored.user)
  }

  async setPhone (openid: string, phone: PhoneInfo): Promise<User | null> {
    const stored = this.#users.get(openid)
    if (stored === undefined) return null
    stored.snapshot = null
    stored.user.phone = { phoneNumber: phone.phoneNumber, purePhoneNumber: phone.purePhoneNumber, countryCode: phone.countryCode }
    return copy(stored.user)
  }

  async getSessionKey (openid: string): Promise<string | null> {
    return this.#users.get(openid)?.sessionKey ?? null
  }
}

/** Sessions in process memory. Expired sessions are removed when found (resolve) or by an occasional sweep. */
export class MemorySessionsRepository implements SessionsRepository {
  readonly #byId = new Map<string, SessionRecord>()
  readonly #byHash = new Map<string, string>()

  async create (session: SessionRecord): Promise<void> {
    if (this.#byId.has(session.id)) throw new Error(`session id ${session.id} already exists`)
    if (session.credentialHashes.some((h) => this.#byHash.has(h))) throw new Error('credential hash already exists')
    this.#byId.set(session.id, copy(session))
    for (const h of session.credentialHashes) this.#byHash.set(h, session.id)
  }

  async findByCredentialHash (hash: string): Promise<SessionRecord | null> {
    const id = this.#byHash.get(hash)
    return id === undefined ? null : await this.findById(id)
  }

  async findById (id: string): Promise<SessionRecord | null> {
    const session = this.#byId.get(id)
    return session === undefined ? null : copy(session)
  }

  async touch (id: string, lastSeenAt: Date, expiresAt: Date): Promise<void> {
    const session = this.#byId.get(id)
    if (session === undefined) return
    session.lastSeenAt = new Date(lastSeenAt)
    session.expiresAt = new Date(expiresAt)
  }

  async delete (id: string): Promise<SessionRecord | null> {
    const session = this.#byId.get(id)
    if (session === undefined) return null
    this.#byId.delete(id)
    for (const h of session.credentialHashes) this.#byHash.delete(h)
    return session
  }

  /** Drops sessions whose idle or absolute expiry has passed (the TTL index does this in MongoDB). */
  sweep (now: Date): number {
    let removed = 0
    for (const session of [...this.#byId.values()]) {
      if (session.expiresAt <= now || session.absoluteExpiresAt <= now) {
        this.#byId.delete(session.id)
        for (const h of session.credentialHashes) this.#byHash.delete(h)
        removed++
      }
    }
    return removed
  }

  /** How many sessions are held (tests and metrics). */
  get size (): number { return this.#byId.size }
}
