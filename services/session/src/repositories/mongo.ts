import type { Collection, Db } from 'mongodb'
import { MongoServerError } from 'mongodb'
import { DEFAULT_MONGO_OP_TIMEOUT_MS, ensureIndexes, type MongoRepositoryOptions, type PhoneInfo, type User } from '@weapp/common'
import type { ProfilePatch, SessionRecord, SessionsRepository, UpsertOnLoginInput, UsersRepository } from './types.js'

export const USERS_COLLECTION = 'users'
export const SESSIONS_COLLECTION = 'sessions'

/** A user as stored in MongoDB: dates are BSON dates, the session_key sits beside the public fields. */
type UserDoc = Omit<User, 'firstSeenAt' | 'lastSeenAt'> & {
  sessionKey: string
  firstSeenAt: Date
  lastSeenAt: Date
}

/** _id is the session id; TTL index on expiresAt lets MongoDB drop idle sessions by itself. */
type SessionDoc = Omit<SessionRecord, 'id'> & { _id: string }

/** Never read the session_key (or _id) back unless asked for it explicitly. */
const USER_PROJECTION = { _id: 0, sessionKey: 0 } as const

function toUser (doc: Omit<UserDoc, 'sessionKey'>): User {
  const user: User = { openid: doc.openid, firstSeenAt: doc.firstSeenAt.toISOString(), lastSeenAt: doc.lastSeenAt.toISOString() }
  if (doc.unionid != null) user.unionid = doc.unionid
  if (doc.nickname != null) user.nickname = doc.nickname
  if (doc.avatarUrl != null) user.avatarUrl = doc.avatarUrl
  if (doc.phone != null) user.phone = { phoneNumber: doc.phone.phoneNumber, purePhoneNumber: doc.phone.purePhoneNumber, countryCode: doc.phone.countryCode }
  if (doc.wxUserInfo != null) user.wxUserInfo = doc.wxUserInfo
  return user
}

function toSession (doc: SessionDoc): SessionRecord {
  const session: SessionRecord = {
    id: doc._id,
    openid: doc.openid,
    kind: doc.kind,
    credentialHashes: [...doc.credentialHashes],
    createdAt: doc.createdAt,
    lastSeenAt: doc.lastSeenAt,
    expiresAt: doc.expiresAt,
    absoluteExpiresAt: doc.absoluteExpiresAt
  }
  if (doc.unionid != null) session.unionid = doc.unionid
  return session
}

const isDuplicateKey = (err: unknown): boolean => err instanceof MongoServerError && err.code === 11000

export class MongoUsersRepository implements UsersRepository {
  readonly #users: Collection<UserDoc>
  /** A read the server has not finished in MONGO_OP_TIMEOUT_MS is stopped (a stalled primary holds no request forever). */
  readonly #maxTimeMS: number

  constructor (db: Db, { opTimeoutMs = DEFAULT_MONGO_OP_TIMEOUT_MS }: MongoRepositoryOptions = {}) {
    this.#users = db.collection<UserDoc>(USERS_COLLECTION)
    this.#maxTimeMS = opTimeoutMs
  }

  async ensureIndexes (): Promise<void> {
    await ensureIndexes(this.#users, [{ key: { openid: 1 }, unique: true, name: 'openid_unique' }])
  }

  async upsertOnLogin ({ openid, unionid, sessionKey, wxUserInfo, now }: UpsertOnLoginInput): Promise<User> {
    const set: Partial<UserDoc> = { sessionKey, lastSeenAt: now }
    if (unionid !== undefined) set.unionid = unionid
    if (wxUserInfo !== undefined) set.wxUserInfo = wxUserInfo
    const run = async (): Promise<User> => {
      const doc = await this.#users.findOneAndUpdate(
        { openid },
        { $set: set, $setOnInsert: { firstSeenAt: now } },
        { upsert: true, returnDocument: 'after', projection: USER_PROJECTION, maxTimeMS: this.#maxTimeMS }
      )
      if (doc === null) throw new Error('upsert returned no document')
      return toUser(doc as unknown as UserDoc)
    }
    try {
      return await run()
    } catch (err) {
      // Two first logins of one user at the same moment: one insert wins, the other becomes an update.
      if (isDuplicateKey(err)) return await run()
      throw err
    }
  }

  async findByOpenid (openid: string): Promise<User | null> {
    const doc = await this.#users.findOne({ openid }, { projection: USER_PROJECTION, maxTimeMS: this.#maxTimeMS })
    return doc === null ? null : toUser(doc as unknown as UserDoc)
  }

  async updateProfile (openid: string, patch: ProfilePatch): Promise<User | null> {
    const set: Partial<UserDoc> = {}
    if (patch.nickname !== undefined) set.nickname = patch.nickname
    if (patch.avatarUrl !== undefined) set.avatarUrl = patch.avatarUrl
    if (Object.keys(set).length === 0) return await this.findByOpenid(openid)
    const doc = await this.#users.findOneAndUpdate({ openid }, { $set: set }, { returnDocument: 'after', projection: USER_PROJECTION, maxTimeMS: this.#maxTimeMS })
    return doc === null ? null : toUser(doc as unknown as UserDoc)
  }

  async setPhone (openid: string, phone: PhoneInfo): Promise<User | null> {
    const stored: PhoneInfo = { phoneNumber: phone.phoneNumber, purePhoneNumber: phone.purePhoneNumber, countryCode: phone.countryCode }
    const doc = await this.#users.findOneAndUpdate({ openid }, { $set: { phone: stored } }, { returnDocument: 'after', projection: USER_PROJECTION, maxTimeMS: this.#maxTimeMS })
    return doc === null ? null : toUser(doc as unknown as UserDoc)
  }

  async getSessionKey (openid: string): Promise<string | null> {
    const doc = await this.#users.findOne({ openid }, { projection: { _id: 0, sessionKey: 1 }, maxTimeMS: this.#maxTimeMS })
    return doc?.sessionKey ?? null
  }
}

export class MongoSessionsRepository implements SessionsRepository {
  readonly #sessions: Collection<SessionDoc>
  readonly #maxTimeMS: number

  constructor (db: Db, { opTimeoutMs = DEFAULT_MONGO_OP_TIMEOUT_MS }: MongoRepositoryOptions = {}) {
    this.#sessions = db.collection<SessionDoc>(SESSIONS_COLLECTION)
    this.#maxTimeMS = opTimeoutMs
  }

  async ensureIndexes (): Promise<void> {
    await ensureIndexes(this.#sessions, [
      { key: { credentialHashes: 1 }, unique: true, name: 'credential_hashes_unique' },
      // Idle expiry never passes the absolute one, so one TTL index removes every expired session.
      { key: { expiresAt: 1 }, expireAfterSeconds: 0, name: 'expires_at_ttl' },
      { key: { openid: 1 }, name: 'openid' }
    ])
  }

  async create (session: SessionRecord): Promise<void> {
    const doc: SessionDoc = {
      _id: session.id,
      openid: session.openid,
      kind: session.kind,
      credentialHashes: [...session.credentialHashes],
      createdAt: session.createdAt,
      lastSeenAt: session.lastSeenAt,
      expiresAt: session.expiresAt,
      absoluteExpiresAt: session.absoluteExpiresAt
    }
    if (session.unionid !== undefined) doc.unionid = session.unionid
    await this.#sessions.insertOne(doc)
  }

  async findByCredentialHash (hash: string): Promise<SessionRecord | null> {
    const doc = await this.#sessions.findOne({ credentialHashes: hash }, { maxTimeMS: this.#maxTimeMS })
    return doc === null ? null : toSession(doc)
  }

  async findById (id: string): Promise<SessionRecord | null> {
    const doc = await this.#sessions.findOne({ _id: id }, { maxTimeMS: this.#maxTimeMS })
    return doc === null ? null : toSession(doc)
  }

  async touch (id: string, lastSeenAt: Date, expiresAt: Date): Promise<void> {
    await this.#sessions.updateOne({ _id: id }, { $set: { lastSeenAt, expiresAt } })
  }

  async delete (id: string): Promise<SessionRecord | null> {
    const doc = await this.#sessions.findOneAndDelete({ _id: id }, { maxTimeMS: this.#maxTimeMS })
    return doc === null ? null : toSession(doc)
  }
}
