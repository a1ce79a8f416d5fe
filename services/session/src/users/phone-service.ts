import type { PhoneInfo, User } from '@weapp/common'
import { WatermarkMismatchError } from '@weapp/wechat'
import type { UsersRepository } from '../repositories/types.js'
import { PhoneCodeInvalidError, UserNotFoundError } from '../errors.js'

/** WechatClient.getUserPhoneNumber, as this service uses it. */
export interface PhoneNumberApi {
  getUserPhoneNumber (input: { accessToken: string, code: string, openid?: string }): Promise<PhoneInfo & { watermark: { appid: string, timestamp: number } }>
}

/** AccessTokenProvider.withToken: runs fn with a valid token, refreshing once on a stale-token errcode. */
export interface TokenRunner {
  withToken<T> (fn: (accessToken: string) => Promise<T>): Promise<T>
}

export interface PhoneServiceOptions {
  wechat: PhoneNumberApi
  tokens: TokenRunner
  users: UsersRepository
  appId: string
}

/** Exchanges a getPhoneNumber button code for the user's number and stores it. */
export class PhoneService {
  readonly #wechat: PhoneNumberApi
  readonly #tokens: TokenRunner
  readonly #users: UsersRepository
  readonly #appId: string

  constructor ({ wechat, tokens, users, appId }: PhoneServiceOptions) {
    this.#wechat = wechat
    this.#tokens = tokens
    this.#users = users
    this.#appId = appId
  }

  async bind (openid: string, code: string): Promise<User> {
    let info: Awaited<ReturnType<PhoneNumberApi['getUserPhoneNumber']>>
    try {
      info = await this.#tokens.withToken(async (accessToken) => await this.#wechat.getUserPhoneNumber({ accessToken, code, openid }))
    } catch (err) {
      // 40029 on this call is about the phone code, not the caller's session: a 401 here would make
      // clients drop a perfectly good login. Report it as the bad input it is.
      const { code, errmsg, message } = err as { code?: unknown, errmsg?: unknown, message?: unknown }
      if (code === 'WECHAT_CODE_INVALID') throw new PhoneCodeInvalidError(typeof errmsg === 'string' ? errmsg : String(message))
      throw err
    }
    if (info.watermark?.appid !== this.#appId) throw new WatermarkMismatchError()
    const user = await this.#users.setPhone(openid, { phoneNumber: info.phoneNumber, purePhoneNumber: info.purePhoneNumber, countryCode: String(info.countryCode) })
    if (user === null) throw new UserNotFoundError()
    return user
  }
}
