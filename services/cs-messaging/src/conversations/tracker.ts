import { BusChannels, type Bus, type ConsoleEvent } from '@weapp/common'
import type { FastifyBaseLogger } from 'fastify'
import { conversationView, type ConversationRecord, type ConversationsRepository } from '../repositories/conversations.js'
import type { InboundRecord, MessagesRepository, NewOutboundRecord } from '../repositories/types.js'
import type { SendWindows } from '../windows/send-windows.js'
import { consoleMessage, inboundPreview, outboundPreview, windowView } from './views.js'

/** What the send path tells about its attempts (CheckedSender): never throws, never delays a send by failing. */
export interface SendObserver {
  /** An attempt was written to the message log (pending, or refused by our window check). */
  recorded (record: NewOutboundRecord): Promise<void>
  /** An attempt got its outcome. */
  completed (key: string): Promise<void>
}

export interface ConversationTrackerOptions {
  conversations: ConversationsRepository
  messages: MessagesRepository
  windows: SendWindows
  bus: Bus
  now: () => Date
  log: FastifyBaseLogger
}

/**
 * Keeps the conversations collection up to date with the messages in and out, and tells the consoles
 * (`console.event` on weapp:console) what changed. A lost event is logged, never a failed push or send:
 * the console reloads by REST when it misses events.
 */
export class ConversationTracker implements SendObserver {
  readonly #o: ConversationTrackerOptions

  constructor (options: ConversationTrackerOptions) {
    this.#o = options
  }

  /**
   * A stored inbound message (the worker's `published` step, at most once per message). Throws when the
   * conversation cannot be written, so the worker retries the message; a repeat counts nothing.
   */
  async inbound (record: InboundRecord, interaction: boolean): Promise<void> {
    const { conversations, windows, now } = this.#o
    const window = windowView(await windows.peek(record.openid, now()))
    const { conversation } = await conversations.recordInbound({
      openid: record.openid, key: record.key, at: record.createdAt, last: inboundPreview(record), interaction, window
    })
    this.publish({ type: 'message', message: consoleMessage(record) })
    this.changed(conversation)
  }

  async recorded (record: NewOutboundRecord): Promise<void> {
    const { conversations, windows, now, log } = this.#o
    try {
      const window = windowView(await windows.peek(record.openid, now()))
      const conversation = await conversations.recordOutbound({ openid: record.openid, key: record.key, at: record.createdAt, last: outboundPreview(record), window })
      this.publish({ type: 'message', message: consoleMessage({ ...record, direction: 'out' }) })
      this.changed(conversation)
    } catch (err) {
      log.error({ err, key: record.key }, 'conversation not updated with a send')
    }
  }

  async completed (key: string): Promise<void> {
    try {
      const record = await this.#o.messages.findOutbound(key)
      if (record !== null) this.publish({ type: 'message', message: consoleMessage(record) })
    } catch (err) {
      this.#o.log.error({ err, key }, 'send outcome not published')
    }
  }

  /** Tells the consoles a conversation changed (a message, a claim, a release, a status, a read). */
  changed (conversation: ConversationRecord): void {
    this.publish({ type: 'conversation', conversation: conversationView(conversation) })
  }

  /**
   * Not awaited, so no push or send waits for the bus; still published in the order of the calls (one
   * connection sends its commands in order). A failure is logged, never thrown.
   */
  publish (event: ConsoleEvent): void {
    this.#o.bus.publish(BusChannels.console, { type: 'console.event', event })
      .catch((err: unknown) => { this.#o.log.warn({ err, event: event.type }, 'could not publish console.event') })
  }
}
