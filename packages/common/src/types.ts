// Shapes every service agrees on. Pure types: no runtime code lives here.

/** Who a request is from, as established once by the gateway and forwarded to services. */
export type Identity = UserIdentity | AdminIdentity

export interface UserIdentity {
  kind: 'user'
  openid: string
  unionid?: string
  /** Opaque id of the server-side session (never the token itself). */
  sessionId: string
  /** Which credential proved it: our bearer token, wafer generation 1 (id+skey), wafer 2 (skey) or a ws ticket. */
  via: 'bearer' | 'wafer1' | 'wafer2' | 'ticket'
  /**
   * The session's absolute expiry (ISO 8601; login + SESSION_MAX_TTL_SEC), so a long-lived use of the
   * identity (an open WebSocket) can end when the session does. Absent in identities made before it existed.
   */
  absoluteExpiresAt?: string
}

export interface AdminIdentity {
  kind: 'admin'
  /** Short, non-secret label of the admin key that was used. */
  keyId: string
}

export interface PhoneInfo {
  phoneNumber: string
  purePhoneNumber: string
  countryCode: string
}

/** A mini-program user as the API shows it. session_key is never part of it. */
export interface User {
  openid: string
  unionid?: string
  nickname?: string
  avatarUrl?: string
  phone?: PhoneInfo
  /** The profile a wafer client sent at login (decrypted userInfo), kept for the wafer routes. */
  wxUserInfo?: WxUserInfo
  firstSeenAt: string
  lastSeenAt: string
}

/** userInfo as decrypted from wx.getUserInfo's encryptedData. */
export interface WxUserInfo {
  openId: string
  nickName: string
  gender?: number
  language?: string
  city?: string
  province?: string
  country?: string
  avatarUrl?: string
  unionId?: string
  watermark?: { appid: string, timestamp: number }
}

export type SessionKind = 'bearer' | 'wafer1' | 'wafer2'

/** The answer to a login: our own session, never WeChat's session_key. */
export interface LoginResult {
  token: string
  expiresAt: string
  user: User
}

// ---- WeChat customer-service push payloads (docs/wechat/push.md#payloads) ----

interface InboundBase {
  ToUserName: string
  FromUserName: string
  CreateTime: number
}

export interface InboundText extends InboundBase { MsgType: 'text', Content: string, MsgId: string }
export interface InboundImage extends InboundBase { MsgType: 'image', PicUrl: string, MediaId: string, MsgId: string }
export interface InboundMiniprogramPage extends InboundBase {
  MsgType: 'miniprogrampage'
  MsgId: string
  Title: string
  AppId: string
  PagePath: string
  ThumbUrl: string
  ThumbMediaId: string
}
export interface InboundEnterSession extends InboundBase { MsgType: 'event', Event: 'user_enter_tempsession', SessionFrom: string }
/** Anything else WeChat may send to the push URL: recorded and acknowledged, never rejected. */
export interface InboundOther extends InboundBase { MsgType: string, Event?: string, MsgId?: string, [field: string]: unknown }

export type InboundMessage = InboundText | InboundImage | InboundMiniprogramPage | InboundEnterSession | InboundOther

// ---- Outbound customer-service messages (docs/wechat/api.md#sending-a-message) ----

export type OutboundMessage =
  | { msgtype: 'text', text: { content: string } }
  | { msgtype: 'image', image: { media_id: string } }
  | { msgtype: 'link', link: { title: string, description: string, url: string, thumb_url: string } }
  | { msgtype: 'miniprogrampage', miniprogrampage: { title: string, pagepath: string, thumb_media_id: string } }

// ---- Events on the bus (Redis pub/sub, or in-process in the embedded default) ----

export type BusEvent =
  | { type: 'session.revoked', sessionId: string, credentialHashes: string[] }
  | { type: 'cs.inbound', openid: string, message: InboundMessage, receivedAt: string }
  | { type: 'cs.outbound', openid: string, message: OutboundMessage, sentAt: string, ok: boolean }
  | { type: 'user.push', openid: string, event: string, data: unknown }
  | { type: 'channel.push', channel: string, event: string, data: unknown }

/** Well-known bus channels. */
export const BusChannels = {
  sessions: 'weapp:sessions',
  cs: 'weapp:cs',
  users: 'weapp:users',
  channels: 'weapp:channels'
} as const
