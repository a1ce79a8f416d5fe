import type { PhoneInfo, SessionKind, User, WxUserInfo } from '@weapp/common'

export interface UpsertOnLoginInput {
  openid: string
  unionid?: string
  /** WeChat's session_key from this login: stored server-side (latest per user), never returned. */
  sessionKey: string
  /** Decrypted userInfo sent by a wafer client; left unchanged when absent. */
  wxUserInfo?: WxUserInfo
  now: Date
}

export interface ProfilePatch {
  nickname?: string
  avatarUrl?: string
}

export interface UsersRepository {
  /** Creates the user on first login (firstSeenAt) or refreshes it (lastSeenAt, session_key, unionid, wxUserInfo). */
  upsertOnLogin (input: UpsertOnLoginInput): Promise<User>
  findByOpenid (openid: string): Promise<User | null>
  /** null when there is no such user. */
  updateProfile (openid: string, patch: ProfilePatch): Promise<User | null>
  /** null when there is no such user. */
  setPhone (openid: string, phone: PhoneInfo): Promise<User | null>
  /** The latest session_key of the user: for server-side use only (decrypting open data). */
  getSessionKey (openid: string): Promise<string | null>
}

/** A session as stored: the credential itself never is, only its hash(es). */
export interface SessionRecord {
  id: string
  openid: string
  unionid?: string
  kind: SessionKind
  /** credentialHash() of every credential form of the session (one today). */
  credentialHashes: string[]
  createdAt: Date
  lastSeenAt: Date
  /** Idle expiry: slides forward on use, never past absoluteExpiresAt. */
  expiresAt: Date
  /** Hard cap fixed at login. */
  absoluteExpiresAt: Date
}

export interface SessionsRepository {
  /** Throws if the id or a credential hash is already taken (never happens with random credentials). */
  create (session: SessionRecord): Promise<void>
  findByCredentialHash (hash: string): Promise<SessionRecord | null>
  findById (id: string): Promise<SessionRecord | null>
  touch (id: string, lastSeenAt: Date, expiresAt: Date): Promise<void>
  /** Returns the deleted session, or null when there was none. */
  delete (id: string): Promise<SessionRecord | null>
}
