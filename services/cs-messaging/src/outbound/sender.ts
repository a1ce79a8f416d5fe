import type { OutboundMessage } from '@weapp/common'
import type { AccessTokenProvider } from '@weapp/wechat'
import { OutboundNotWiredError } from '../errors.js'

/**
 * Sends one customer-service message to a user (docs/wechat/api.md#sending-a-message). CheckedSender calls it for the
 * admin send API and the worker's auto-replies alike. It throws on failure: typed WeChat errors (45015 window closed, 45047
 * quota, -1 busy…) or OutboundNotWiredError when nothing can send.
 */
export interface OutboundSender {
  send (openid: string, message: OutboundMessage): Promise<void>
}

/**
 * The slice of WechatClient this service needs to send: POST /cgi-bin/message/custom/send. Structural,
 * so any client offering it can be used (the method lands in @weapp/wechat with the sending side).
 */
export interface CustomMessageApi {
  sendCustomMessage (input: { accessToken: string, touser: string, message: OutboundMessage }): Promise<unknown>
}

/** True when `client` offers sendCustomMessage (checked at runtime: older clients do not). */
export function hasCustomMessageApi (client: unknown): client is CustomMessageApi {
  return typeof (client as Partial<CustomMessageApi> | null)?.sendCustomMessage === 'function'
}

const BEFORE_SEND = Symbol('cs-messaging.failedBeforeSend')

/**
 * True for an error a send threw before any message/custom/send call could have delivered it: the
 * access_token could not be had (its own call's outcome may be 'unknown', the message's is not).
 */
export function failedBeforeSend (err: unknown): boolean {
  return (err as { [BEFORE_SEND]?: unknown } | null)?.[BEFORE_SEND] === true
}

/** The real sender: message/custom/send with an access_token from the shared provider (refreshed once on 40001/42001). */
export class WechatOutboundSender implements OutboundSender {
  readonly #api: CustomMessageApi
  readonly #tokens: AccessTokenProvider

  constructor ({ api, tokens }: { api: CustomMessageApi, tokens: AccessTokenProvider }) {
    this.#api = api
    this.#tokens = tokens
  }

  async send (openid: string, message: OutboundMessage): Promise<void> {
    const sendErrors = new Set<unknown>()
    try {
      await this.#tokens.withToken(async (accessToken) => {
        try {
          await this.#api.sendCustomMessage({ accessToken, touser: openid, message })
        } catch (err) {
          sendErrors.add(err)
          throw err
        }
      })
    } catch (err) {
      // Not thrown by a send call: the token fetch failed (first, or after a stale-token errcode, which WeChat
      // answers without delivering), so the message reached no one.
      if (!sendErrors.has(err) && typeof err === 'object' && err !== null) Object.defineProperty(err, BEFORE_SEND, { value: true, configurable: true })
      throw err
    }
  }
}

/**
 * Stands in where no sender can be wired (no APP_SECRET, or a WeChat client without sendCustomMessage):
 * every send fails with CS_OUTBOUND_NOT_WIRED, which the worker records as a skipped auto-reply. It
 * never pretends to have sent anything.
 */
export class UnwiredOutboundSender implements OutboundSender {
  readonly reason: string
  constructor (reason: string) { this.reason = reason }
  async send (): Promise<void> {
    throw new OutboundNotWiredError(this.reason)
  }
}
