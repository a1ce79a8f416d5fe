// Shapes of the control API (/sim/*), shared by the routes, SimState and SimControl.

import type { SendWindow, SentMessage, UserActionKind } from './conversations.js'
import type { PushFormat, PushMessage, PushMode, PushResult, PushTamper } from './push-sender.js'

export interface LoginCodeRequest {
  /** Any label for a simulated WeChat user; the same label always gives the same openid per app. */
  user: string
  /** Defaults to the simulator's first app. */
  appId?: string
  /** Defaults to the user label. */
  nickName?: string
  avatarUrl?: string
  /** Lifetime of this code; defaults to the simulator's codeTtlMs. */
  ttlMs?: number
}

/** What wx.getUserInfo gives a client: encrypted with the user's session_key, rawData signed with it. */
export interface UserInfoBundle {
  encryptedData: string
  iv: string
  rawData: string
  signature: string
}

export interface LoginCodeResult {
  code: string
  openid: string
  unionid: string
  userInfo: UserInfoBundle
}

export interface PhoneCodeRequest {
  user: string
  appId?: string
  /** The number without country code; defaults to a 13x… number stable per user. */
  phoneNumber?: string
  /** Digits only, default '86'. */
  countryCode?: string
  ttlMs?: number
}

export interface PhoneCodeResult {
  code: string
  /** The phoneNumber getuserphonenumber will answer (with "+<countryCode>" in front outside China). */
  phoneNumber: string
}

export interface SimStats {
  /** Calls per simulated WeChat API path since the start or the last reset, faulted calls included. */
  calls: Record<string, number>
}

/** Names a simulated user of an app: by label (`user`, as in /sim/login-code) or by an openid already issued. */
export interface UserRef {
  user?: string
  openid?: string
  /** Defaults to the simulator's first app. */
  appId?: string
}

/** What the user did in WeChat; opens (resets) the customer-service send window. */
export interface UserActionRequest extends UserRef {
  kind: UserActionKind
}

export interface UserActionResult {
  openid: string
  kind: UserActionKind
  /** The window now open. */
  window: SendWindow
}

/** What a user sees in the customer-service conversation. */
export interface SentResult {
  openid: string
  /** The open send window, null when none (never opened, or expired). */
  window: SendWindow | null
  /** Whether the typing indicator shows right now. */
  typing: boolean
  /** Messages the user received, oldest first. */
  messages: SentMessage[]
}

/** An app's push configuration (the console's 消息推送配置). */
export interface PushConfig {
  url: string
  token: string
  encodingAESKey?: string
  /** Default: safe with an encodingAESKey, plaintext without. */
  mode?: PushMode
  /** Default json. */
  format?: PushFormat
}

export interface PushConfigRequest extends PushConfig {
  appId?: string
}

/**
 * A push to an app's URL, as WeChat sends it when a user acts. Missing message fields are filled:
 * ToUserName (the app's gh_ id), FromUserName (the openid of `user`), CreateTime (simulator clock),
 * MsgId (non-events), MediaId/PicUrl (image: a stored placeholder picture), ThumbMediaId/ThumbUrl
 * (miniprogrampage). Push settings given here override the app's configuration.
 */
export interface SimPushRequest extends Partial<PushConfig> {
  appId?: string
  /** The sender, by label; or give message.FromUserName. */
  user?: string
  message: PushMessage & { MsgType: string }
  tamper?: PushTamper
  timeoutMs?: number
  deliveries?: number
  retryDelayMs?: number
  resignRetries?: boolean
  /**
   * Default true: a user message or user_enter_tempsession opens the send window before the push goes
   * out, as WeChat does when the user acts. Never for tampered pushes (no user acted).
   */
  userAction?: boolean
}

export interface SimPushResult extends PushResult {
  /** The message as pushed (filled in), MsgId as a string. */
  message: PushMessage
  /** The window the push opened, when it opened one. */
  userAction?: UserActionResult
}

/** A picture the user sent (stored as temporary media, fetchable with media/get). */
export interface UserMediaRequest {
  appId?: string
  /** image/jpeg, image/png, image/gif or image/bmp. */
  contentType: string
  /** The bytes, base64. */
  data: string
}

export interface UserMediaResult {
  mediaId: string
  /** Unix seconds (simulator clock). */
  createdAt: number
}
