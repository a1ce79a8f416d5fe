import { BusChannels, type Bus, type InboundMessage, type OutboundMessage } from '@weapp/common'
import type { FastifyBaseLogger } from 'fastify'
import { isSessionEntry, isUserMessage, type AutoReplyRules } from '../auto-reply/rules.js'
import type { MessagesRepository } from '../repositories/types.js'
import type { CheckedSender, SendAttempt } from '../outbound/checked-sender.js'
import { OutboundNotWiredError } from '../errors.js'
import type { SendWindows } from '../windows/send-windows.js'
import type { CsMetrics } from '../metrics.js'
import type { Delivery } from '../queue/types.js'
import type { ConversationTracker } from '../conversations/tracker.js'

/** WeChat errcodes that mean "this send can never succeed as it is": recorded, not retried. */
const STALE_TOKEN_ERRCODES = new Set([40001, 40014, 42001])
/** 45015 window closed, 45047 quota used up (WeChat's own view of the send window). */
const WINDOW_ERRCODES = new Set([45015, 45047])

export interface ProcessorOptions {
  messages: MessagesRepository
  bus: Bus
  windows: SendWindows
  rules: AutoReplyRules
  /** The send path shared with the admin API (window, message log, metrics, the quota rule). */
  sender: CheckedSender
  now: () => Date
  log: FastifyBaseLogger
  metrics: CsMetrics
  /** A step claimed longer ago than this belongs to a dead worker and is run again. */
  staleClaimMs: number
  /** Updates the user's conversation and tells the consoles (console.event), with the cs.inbound event. */
  tracker: ConversationTracker
}

function errcodeOf (err: unknown): number | undefined {
  const code = (err as { errcode?: unknown } | null)?.errcode
  return typeof code === 'number' ? code : undefined
}

/**
 * What the worker does with one message: store it (once), open the user's send window, tell the
 * consoles (cs.inbound on the bus), auto-reply. Every step is idempotent, so a redelivered message
 * (a worker that died before acknowledging) changes nothing that was already done.
 */
export class MessageProcessor {
  readonly #o: ProcessorOptions

  constructor (options: ProcessorOptions) {
    this.#o = options
  }

  async process (delivery: Delivery): Promise<void> {
    const { messages, bus, windows, now } = this.#o
    const { key, message, receivedAt } = delivery
    const openid = message.FromUserName
    const createdAt = new Date(message.CreateTime * 1000)
    const event = (message as { Event?: unknown }).Event
    await messages.insertInbound({
      key,
      openid,
      msgType: message.MsgType,
      ...(typeof event === 'string' ? { event } : {}),
      message,
      createdAt,
      receivedAt: new Date(receivedAt),
      storedAt: now()
    })

    // Opening is idempotent by the action's time: a redelivery never resets a quota already used.
    const interaction = isSessionEntry(message) || isUserMessage(message)
    if (isSessionEntry(message)) await windows.open(openid, 'session', createdAt)
    else if (isUserMessage(message)) await windows.open(openid, 'message', createdAt)

    const record = await messages.findByKey(key)
    if (record !== null && record.steps.published === undefined) {
      // The conversation counts each key once, so a retry after a failure here counts nothing twice.
      await this.#o.tracker.inbound(record, interaction)
      await bus.publish(BusChannels.cs, { type: 'cs.inbound', openid, message, receivedAt })
      await messages.completeStep(key, 'published', { status: 'done', at: now() })
    }

    await this.#autoReply(key, message)
  }

  /**
   * Sends the welcome or keyword reply, at most once per inbound message, through the same send path as
   * the admin API and recorded in the message log like any other send (`out:auto:<inbound key>`, sentBy
   * `auto:welcome` / `auto:keyword`): a retry after a failed attempt updates the same record, so the log
   * shows one reply with its latest outcome.
   */
  async #autoReply (key: string, message: InboundMessage): Promise<void> {
    const { messages, sender, now, log, metrics, rules, bus } = this.#o
    const decision = rules.decide(message)
    if (decision.reply === undefined) return
    const openid = message.FromUserName
    const at = now()
    if (!await messages.claimStep(key, 'autoReply', at, new Date(at.getTime() - this.#o.staleClaimMs))) return
    const skip = async (result: string, detail: string): Promise<void> => {
      metrics.autoReplies.inc({ result })
      log.info({ key, result }, 'auto-reply skipped')
      await messages.completeStep(key, 'autoReply', { status: 'skipped', at: now(), detail })
    }

    const outbound: OutboundMessage = { msgtype: 'text', text: { content: decision.reply.text } }
    let attempt: SendAttempt
    try {
      attempt = await sender.send({ key: `out:auto:${key}`, openid, message: outbound, sentBy: `auto:${decision.reply.reason}`, force: false, retried: true })
    } catch (err) {
      if (err instanceof OutboundNotWiredError) return await skip('not_wired', 'no outbound sender')
      // Nothing was attempted (the log could not record it): let the queue retry the message.
      await messages.releaseStep(key, 'autoReply')
      throw err
    }
    if (attempt.outcome === 'refused') return await skip(`window_${attempt.reason}`, `send window ${attempt.reason}`)
    if (attempt.outcome !== 'sent') {
      const errcode = errcodeOf(attempt.error)
      if (errcode !== undefined && WINDOW_ERRCODES.has(errcode)) return await skip(errcode === 45015 ? 'window_closed' : 'window_exhausted', `WeChat errcode ${errcode}`)
      if (errcode !== undefined && errcode !== -1 && !STALE_TOKEN_ERRCODES.has(errcode)) return await skip('rejected', `WeChat errcode ${errcode}`)
      // Busy, timeout, network, token trouble: let the queue retry the message with back-off.
      metrics.autoReplies.inc({ result: 'failed' })
      await messages.releaseStep(key, 'autoReply')
      throw attempt.error
    }
    metrics.autoReplies.inc({ result: 'sent' })
    await messages.completeStep(key, 'autoReply', { status: 'sent', at: now(), detail: decision.reply.reason })
    await bus.publish(BusChannels.cs, { type: 'cs.outbound', openid, message: outbound, sentAt: attempt.at.toISOString(), ok: true })
      .catch((err: unknown) => { log.warn({ err }, 'could not publish cs.outbound') })
  }
}
