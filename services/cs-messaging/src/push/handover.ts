import type { FastifyBaseLogger } from 'fastify'
import type { InboundMessage } from '@weapp/common'
import { ConsoleNotFoundError } from '../errors.js'
import type { ConversationRecord, ConversationsRepository, Handover as HandoverState } from '../repositories/conversations.js'
import type { ConversationTracker } from '../conversations/tracker.js'
import type { HandoverRequests } from './handover-requests.js'

export interface HandoverOptions {
  requests: HandoverRequests
  conversations: ConversationsRepository
  tracker: ConversationTracker
  log: FastifyBaseLogger
}

/**
 * The hand-over to WeChat's official customer-service tool: an agent asks for it in the console
 * (`requested`), the user's next message is answered `transfer_customer_service` by the push route and the
 * conversation becomes `official`; "take back" returns it to `none` (WeChat tells us nothing when the
 * official tool's session ends: docs/console.md#the-hand-over).
 */
export class Handover {
  readonly #o: HandoverOptions

  constructor (options: HandoverOptions) {
    this.#o = options
  }

  /** `requested`; 404 CS_CONSOLE_NOT_FOUND for a user who never wrote. */
  async request (openid: string): Promise<ConversationRecord> {
    await this.#known(openid)
    await this.#o.requests.add(openid)
    return await this.#set(openid, 'requested')
  }

  /** Back to the console (`none`), whether the hand-over was only requested or done. */
  async release (openid: string): Promise<ConversationRecord> {
    await this.#known(openid)
    await this.#o.requests.remove(openid)
    return await this.#set(openid, 'none')
  }

  /**
   * For the push route: true when this user message is to be answered transfer_customer_service (a
   * requested hand-over, taken once). No I/O unless this user may have one. The conversation becomes
   * `official` after the answer is decided; that write never delays or fails the push.
   */
  async takeForPush (message: InboundMessage): Promise<boolean> {
    // Only a user's message is handed over (as WeChat does: events get no passive reply).
    if (message.MsgType === 'event') return false
    const openid = message.FromUserName
    const { requests, log } = this.#o
    if (!requests.mayHave(openid)) return false
    try {
      if (!await requests.take(openid)) return false
    } catch (err) {
      // The message is queued already: answered `success`, the request stays for the next message.
      log.error({ err, openid }, 'hand-over request not readable: answered success')
      return false
    }
    this.#set(openid, 'official').catch((err: unknown) => { log.error({ err, openid }, 'hand-over done but the conversation not marked official') })
    return true
  }

  /**
   * For the push route, on a retried copy (a duplicate): true when the conversation is `official`, so the
   * retry gets the first copy's transfer_customer_service. WeChat retries when it did not see the first
   * answer; answered `success`, the hand-over the first copy took would be lost. A duplicate of another
   * message while official is answered transfer too, which changes nothing (the user is with the official
   * tool already). Unreadable: `success`, as before.
   */
  async repeatForRetry (message: InboundMessage): Promise<boolean> {
    if (message.MsgType === 'event') return false
    try {
      return (await this.#o.conversations.get(message.FromUserName))?.handover === 'official'
    } catch (err) {
      this.#o.log.error({ err, openid: message.FromUserName }, 'conversation not readable for a retried push: answered success')
      return false
    }
  }

  async #known (openid: string): Promise<void> {
    if (await this.#o.conversations.get(openid) === null) throw new ConsoleNotFoundError(`conversation with ${openid}`)
  }

  async #set (openid: string, handover: HandoverState): Promise<ConversationRecord> {
    const conversation = await this.#o.conversations.setHandover(openid, handover)
    if (conversation === null) throw new ConsoleNotFoundError(`conversation with ${openid}`)
    this.#o.tracker.changed(conversation)
    return conversation
  }
}
