import {
  ENTER_SESSION_WINDOW_MS, SENT_LOG_PER_USER, TYPING_DURATION_MS, TYPING_EXCHANGE_MS, USER_MESSAGE_WINDOW_MS
} from './defaults.js'

/** What the user did in WeChat: sent a message, or entered the customer-service session. */
export type UserActionKind = 'message' | 'enter_session'

export interface SendWindow {
  /** The action that opened it. */
  kind: UserActionKind
  openedAt: number
  expiresAt: number
  allowance: number
  remaining: number
}

/** A message the app sent to a user, shaped like the send body: `{ msgtype, text: { content } }` etc. */
export interface SentMessage {
  msgtype: string
  /** ms since epoch (simulator clock). */
  sentAt: number
  /** Set when sent through /cgi-bin/message/custom/business/send. */
  businessid?: string
  [content: string]: unknown
}

interface Conversation {
  window?: SendWindow
  /** Last user action or message sent: typing needs one within 30 s. */
  lastExchangeAt?: number
  typingUntil?: number
  sent: SentMessage[]
}

export interface ConversationLimits {
  userMessageAllowance: number
  enterSessionAllowance: number
}

export type SendCheck = { ok: true } | { ok: false, errcode: 45015 | 45047 }
export type TypingCheck = { ok: true } | { ok: false, errcode: 45080 | 45081 }

/**
 * Customer-service state per (app, openid): the send window the user's last action opened
 * (docs/wechat/limits.md#send-windows), the typing indicator (docs/wechat/api.md#typing) and the messages the user received.
 */
export class Conversations {
  readonly #limits: ConversationLimits
  readonly #items = new Map<string, Conversation>()

  constructor (limits: ConversationLimits) {
    this.#limits = limits
  }

  /**
   * The user acted: the window resets to that action's maximum (quotas never add up). Entering the
   * session never shortens an open user-message window that still has at least as many messages left.
   */
  userAction (appId: string, openid: string, kind: UserActionKind, now: number): SendWindow {
    const c = this.#get(appId, openid)
    c.lastExchangeAt = now
    const current = c.window
    if (kind === 'enter_session' && current !== undefined && current.kind === 'message' && now < current.expiresAt &&
      current.remaining >= this.#limits.enterSessionAllowance) {
      return { ...current }
    }
    const allowance = kind === 'message' ? this.#limits.userMessageAllowance : this.#limits.enterSessionAllowance
    const duration = kind === 'message' ? USER_MESSAGE_WINDOW_MS : ENTER_SESSION_WINDOW_MS
    c.window = { kind, openedAt: now, expiresAt: now + duration, allowance, remaining: allowance }
    return { ...c.window }
  }

  /** 45015 without an open window, 45047 when it is used up. */
  checkSend (appId: string, openid: string, now: number): SendCheck {
    const w = this.#items.get(key(appId, openid))?.window
    if (w === undefined || now >= w.expiresAt) return { ok: false, errcode: 45015 }
    if (w.remaining <= 0) return { ok: false, errcode: 45047 }
    return { ok: true }
  }

  /** Records a message that passed checkSend: one less in the window, typing cleared. */
  recordSend (appId: string, openid: string, message: SentMessage, now: number): void {
    const c = this.#get(appId, openid)
    if (c.window !== undefined) c.window.remaining--
    c.lastExchangeAt = now
    delete c.typingUntil
    c.sent.push(message)
    if (c.sent.length > SENT_LOG_PER_USER) c.sent.shift()
  }

  /** Typing needs an open window and an exchange within 30 s (45080), and not to be typing already (45081). */
  startTyping (appId: string, openid: string, now: number): TypingCheck {
    const c = this.#items.get(key(appId, openid))
    if (c?.window === undefined || now >= c.window.expiresAt || c.lastExchangeAt === undefined || now - c.lastExchangeAt > TYPING_EXCHANGE_MS) {
      return { ok: false, errcode: 45080 }
    }
    if (c.typingUntil !== undefined && now < c.typingUntil) return { ok: false, errcode: 45081 }
    c.typingUntil = now + TYPING_DURATION_MS
    return { ok: true }
  }

  cancelTyping (appId: string, openid: string): void {
    const c = this.#items.get(key(appId, openid))
    if (c !== undefined) delete c.typingUntil
  }

  /** The open window (expired ones read as none), whether typing shows, and the messages received. */
  view (appId: string, openid: string, now: number): { window: SendWindow | null, typing: boolean, messages: SentMessage[] } {
    const c = this.#items.get(key(appId, openid))
    const w = c?.window
    return {
      window: w === undefined || now >= w.expiresAt ? null : { ...w },
      typing: c?.typingUntil !== undefined && now < c.typingUntil,
      messages: c === undefined ? [] : c.sent.map((m) => ({ ...m }))
    }
  }

  clear (): void {
    this.#items.clear()
  }

  #get (appId: string, openid: string): Conversation {
    const k = key(appId, openid)
    let c = this.#items.get(k)
    if (c === undefined) {
      c = { sent: [] }
      this.#items.set(k, c)
    }
    return c
  }
}

function key (appId: string, openid: string): string {
  return `${appId}\0${openid}`
}
