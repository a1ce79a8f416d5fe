import type { Clock, SessionKind, User, WxUserInfo } from '@weapp/common'
import { OpenDataInvalidError, decryptOpenData } from '@weapp/wechat'
import type { UsersRepository } from '../repositories/types.js'
import { WaferUserUnknownError } from '../errors.js'
import type { CreatedSession, SessionService } from './session-service.js'

/** The one WeChat call a login needs (WechatClient.code2Session). */
export interface Code2SessionApi {
  code2Session (jsCode: string): Promise<{ openid: string, sessionKey: string, unionid?: string }>
}

export interface LoginServiceOptions {
  wechat: Code2SessionApi
  users: UsersRepository
  sessions: SessionService
  appId: string
  /** The current time (ms): expiries and last-seen times are computed from it. */
  now: Clock
}

/** What a wafer client sends from wx.getUserInfo. `iv` is absent for qcloud-weapp-client-sdk 0.7. */
export interface EncryptedUserInfo {
  encryptedData: string
  iv?: string
}

export interface LoginOutcome<K extends SessionKind> extends CreatedSession<K> {
  user: User
}

export interface WaferLoginOutcome<K extends SessionKind> extends LoginOutcome<K> {
  userInfo: WxUserInfo
}

/**
 * wx.login code → jscode2session → user upsert → a session of our own. Every failure happens before
 * the first write (WeChat is asked, open data decrypted, then the user and the session are stored).
 */
export class LoginService {
  readonly #wechat: Code2SessionApi
  readonly #users: UsersRepository
  readonly #sessions: SessionService
  readonly #appId: string
  readonly #now: Clock

  constructor ({ wechat, users, sessions, appId, now }: LoginServiceOptions) {
    this.#wechat = wechat
    this.#users = users
    this.#sessions = sessions
    this.#appId = appId
    this.#now = now
  }

  /** Plain login (POST /api/login): code only. */
  async login<K extends SessionKind> (kind: K, code: string): Promise<LoginOutcome<K>> {
    const { openid, unionid, sessionKey } = await this.#wechat.code2Session(code)
    const user = await this.#users.upsertOnLogin({ openid, ...(unionid !== undefined ? { unionid } : {}), sessionKey, now: new Date(this.#now()) })
    return { ...(await this.#sessions.create(kind, user)), user }
  }

  /** Wafer login with user info: the encrypted profile is decrypted with this login's session_key and stored. */
  async loginWithUserInfo<K extends 'wafer1' | 'wafer2'> (kind: K, code: string, encrypted: EncryptedUserInfo): Promise<WaferLoginOutcome<K>> {
    const { openid, unionid, sessionKey } = await this.#wechat.code2Session(code)
    const userInfo = decryptOpenData<WxUserInfo>({
      sessionKey,
      encryptedData: encrypted.encryptedData,
      // The oldest clients (encryptData, no iv) used the session_key as the iv.
      iv: encrypted.iv ?? sessionKey,
      appId: this.#appId
    })
    if (userInfo.openId !== undefined && userInfo.openId !== openid) {
      throw new OpenDataInvalidError('the user info belongs to another user')
    }
    const user = await this.#users.upsertOnLogin({
      openid,
      ...(unionid !== undefined ? { unionid } : {}),
      sessionKey,
      wxUserInfo: userInfo,
      now: new Date(this.#now())
    })
    return { ...(await this.#sessions.create(kind, user)), user, userInfo }
  }

  /** Wafer 2 loginWithCode: code only, for a user whose profile we already hold. */
  async loginWithCode (kind: 'wafer2', code: string): Promise<WaferLoginOutcome<'wafer2'>> {
    const { openid, unionid, sessionKey } = await this.#wechat.code2Session(code)
    const existing = await this.#users.findByOpenid(openid)
    if (existing?.wxUserInfo === undefined) throw new WaferUserUnknownError()
    const user = await this.#users.upsertOnLogin({ openid, ...(unionid !== undefined ? { unionid } : {}), sessionKey, now: new Date(this.#now()) })
    const userInfo = user.wxUserInfo ?? existing.wxUserInfo
    return { ...(await this.#sessions.create(kind, user)), user, userInfo }
  }
}
