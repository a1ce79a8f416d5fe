// Shapes every service agrees on. Pure types: no runtime code lives here.

import type { CustomMessage } from '@weapp/wechat'
import type { AgentRef, ConsoleEvent } from './contracts/console.js'

// The identities forwarded by the gateway (Identity, UserIdentity, AdminIdentity) are schemas with their
// types, in contracts/identity.ts.

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

/**
 * @weapp/wechat owns this shape: it is the body of WeChat's send API, which the protocol package validates and
 * sends; every service names it OutboundMessage.
 */
export type OutboundMessage = CustomMessage

// ---- Events on the bus (Redis pub/sub, or in-process in the embedded default) ----

export type BusEvent =
  | { type: 'session.revoked', sessionId: string, credentialHashes: string[] }
  | { type: 'cs.inbound', openid: string, message: InboundMessage, receivedAt: string }
  | { type: 'cs.outbound', openid: string, message: OutboundMessage, sentAt: string, ok: boolean }
  | { type: 'user.push', openid: string, event: string, data: unknown }
  | { type: 'channel.push', channel: string, event: string, data: unknown }
  /** Logout, disabling or a password reset ended these console sessions: evict them, close their sockets. */
  | { type: 'agent.sessions.ended', agentId: string, sessionIds: string[], credentialHashes: string[] }
  /** A change the agent console shows (contracts/console.ts), relayed by realtime-ws to console sockets. */
  | { type: 'console.event', event: ConsoleEvent }
  /** An agent's viewing / typing state, shared between realtime-ws instances. */
  | { type: 'console.presence', agent: AgentRef, openid: string | null, typing: boolean, at: string, instance: string }

/** Well-known bus channels. */
export const BusChannels = {
  sessions: 'weapp:sessions',
  cs: 'weapp:cs',
  users: 'weapp:users',
  channels: 'weapp:channels',
  console: 'weapp:console'
} as const
