import type { FastifyBaseLogger } from 'fastify'
import type { OutboundMessage } from '@weapp/common'
import { isWechatApiError, outcomeOf } from '@weapp/wechat'
import { OutboundNotWiredError, SendQuotaExceededError, SendWindowClosedError } from '../errors.js'
import type { CsMetrics } from '../metrics.js'
import type { MessagesRepository, NewOutboundRecord, OutboundCompletion, OutboundOutcome } from '../repositories/types.js'
import type { SendWindows } from '../windows/send-windows.js'
import { UnwiredOutboundSender, failedBeforeSend, type OutboundSender } from './sender.js'
import type { SendObserver } from '../conversations/tracker.js'
import { MessageKeyExistsError } from '../repositories/duplicate-key.js'

export type FailedOutcome = Exclude<OutboundOutcome, 'pending' | 'sent' | 'refused'>

function errcodeOf (err: unknown): number | undefined {
  return isWechatApiError(err) ? err.errcode : undefined
}

function codeOf (err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : undefined
}

/** What a failed send means for the user (see OutboundOutcome). */
export function failedOutcome (err: unknown): FailedOutcome {
  const errcode = errcodeOf(err)
  // -1: WeChat was busy and did not act (the client already retried it with back-off).
  if (errcode !== undefined) return errcode === -1 ? 'failed' : 'rejected'
  // The WeChat client says whether the request may have reached WeChat; anything else never called it,
  // nor did an unknown token fetch (message/custom/send was not called).
  return outcomeOf(err) === 'unknown' && !failedBeforeSend(err) ? 'unknown' : 'failed'
}

export interface CheckedSendRequest {
  /** The message log key: `out:<uuid>` (admin API), `out:auto:<inbound key>` (an auto-reply). */
  key: string
  openid: string
  message: OutboundMessage
  /** The admin key id, `agent:<agentId>` (the console), or `auto:welcome` / `auto:keyword`. */
  sentBy: string
  /** The console agent's display name, recorded beside sentBy. */
  sentByName?: string
  /** Skip our window's refusal (the window is still counted when it has room): WeChat decides. */
  force: boolean
  /** The key names one message across attempts (an auto-reply and its retries): a later attempt updates its record. */
  retried: boolean
}

/** How one attempt ended; `requestedAt` is the record's createdAt, `at` when the outcome became known. */
export type SendAttempt =
  | { outcome: 'sent', requestedAt: Date, at: Date }
  | { outcome: 'refused', reason: 'closed' | 'exhausted', error: Error & { code: string, statusCode?: number }, requestedAt: Date, at: Date }
  | { outcome: FailedOutcome, error: unknown, requestedAt: Date, at: Date }

export interface CheckedSenderOptions {
  /** What talks to WeChat (message/custom/send), or an UnwiredOutboundSender. */
  transport: OutboundSender
  windows: SendWindows
  messages: MessagesRepository
  metrics: CsMetrics
  now: () => Date
  log: FastifyBaseLogger
  /** Told of every recorded attempt and outcome (the conversations and the console's events). */
  observer?: SendObserver
}

/**
 * The one send path of the service, for the admin API and the worker's auto-replies alike: the user's
 * send window is checked and one message taken, the attempt is recorded in the message log (pending
 * before WeChat is called, then its outcome), counted in cs_sends_total, and the window message is
 * given back only when the send certainly reached no one: never sent, or refused by WeChat with an
 * errcode. An 'unknown' send keeps it, since WeChat may have delivered (and counted) the message.
 */
export class CheckedSender {
  readonly #o: CheckedSenderOptions

  constructor (options: CheckedSenderOptions) {
    this.#o = options
  }

  /**
   * Throws only when nothing was attempted: OutboundNotWiredError (no transport), or the message log
   * refused the pending record (nothing is sent that the log cannot show; the quota goes back).
   */
  async send ({ key, openid, message, sentBy, sentByName, force, retried }: CheckedSendRequest): Promise<SendAttempt> {
    const { transport, windows, metrics, now, log, observer } = this.#o
    if (transport instanceof UnwiredOutboundSender) throw new OutboundNotWiredError(transport.reason)
    const requestedAt = now()
    const record: Omit<NewOutboundRecord, 'outcome'> = {
      key, openid, msgType: message.msgtype, message, createdAt: requestedAt, sentBy, forced: force, ...(sentByName !== undefined ? { sentByName } : {})
    }

    const window = await windows.consume(openid, requestedAt)
    if (window !== 'ok' && !force) {
      const error = window === 'closed' ? new SendWindowClosedError(openid) : new SendQuotaExceededError(openid)
      metrics.windowRefusals.inc({ reason: window })
      metrics.sends.inc({ outcome: 'refused', errcode: 'none' })
      await this.#recordRefusal(record, retried, error.code)
      return { outcome: 'refused', reason: window, error, requestedAt, at: requestedAt }
    }
    // Counted whenever the window had room, forced or not, so our view of WeChat's quota stays right.
    const took = window === 'ok'
    const giveBack = async (): Promise<void> => {
      if (took) await windows.release(openid, now()).catch((err: unknown) => { log.warn({ err, key }, 'send window quota not given back') })
    }

    let inserted = false
    try {
      if (!retried || await this.#o.messages.findOutbound(key) === null) {
        await this.#o.messages.insertOutbound({ ...record, outcome: 'pending' })
        inserted = true
      }
    } catch (err) {
      // Two attempts of one retried send (a stale claim taken over while the first still ran) both looked and
      // found no record; the other wrote it first. It is this send's record: go on with it, as when found. The
      // window message this attempt took stays taken by this attempt's send (each attempt takes its own).
      if (!(retried && err instanceof MessageKeyExistsError)) {
        await giveBack()
        throw err
      }
    }
    // Awaited (it never throws) so the console hears of the pending message before its outcome.
    if (inserted) await observer?.recorded({ ...record, outcome: 'pending' })

    try {
      await transport.send(openid, message)
    } catch (error) {
      const outcome = failedOutcome(error)
      // The quota rule: only a send that certainly reached no one gives its window message back.
      if (outcome !== 'unknown') await giveBack()
      const errcode = errcodeOf(error)
      const errorCode = codeOf(error)
      metrics.sends.inc({ outcome, errcode: errcode === undefined ? 'none' : String(errcode) })
      log.info({ key, outcome, errcode, code: errorCode, forced: force }, 'send failed')
      const at = now()
      await this.#complete(key, { outcome, at, ...(errcode !== undefined ? { errcode } : {}), ...(errorCode !== undefined ? { errorCode } : {}) })
      await observer?.completed(key)
      return { outcome, error, requestedAt, at }
    }
    const at = now()
    metrics.sends.inc({ outcome: 'sent', errcode: 'none' })
    await this.#complete(key, { outcome: 'sent', at })
    await observer?.completed(key)
    return { outcome: 'sent', requestedAt, at }
  }

  /** A refusal is final: a failed write is logged, the refusal still stands. */
  async #recordRefusal (record: Omit<NewOutboundRecord, 'outcome'>, retried: boolean, errorCode: string): Promise<void> {
    const { messages, log } = this.#o
    const at = record.createdAt
    const observer = this.#o.observer
    try {
      const found = retried && await messages.findOutbound(record.key) !== null
      if (!found && await this.#insertRefusal(record, retried, errorCode)) {
        await observer?.recorded({ ...record, outcome: 'refused', errorCode, completedAt: at })
      } else {
        await messages.completeOutbound(record.key, { outcome: 'refused', at, errorCode })
        await observer?.completed(record.key)
      }
    } catch (err) {
      log.error({ err, key: record.key }, 'refused send not recorded')
    }
  }

  /** false when another attempt of a retried send recorded it first (its record is then completed instead). */
  async #insertRefusal (record: Omit<NewOutboundRecord, 'outcome'>, retried: boolean, errorCode: string): Promise<boolean> {
    try {
      await this.#o.messages.insertOutbound({ ...record, outcome: 'refused', errorCode, completedAt: record.createdAt })
      return true
    } catch (err) {
      if (retried && err instanceof MessageKeyExistsError) return false
      throw err
    }
  }

  /** The outcome of a send that happened (or not): a failed write is logged, never turned into a failed send. */
  async #complete (key: string, completion: OutboundCompletion): Promise<void> {
    try {
      await this.#o.messages.completeOutbound(key, completion)
    } catch (err) {
      this.#o.log.error({ err, key, outcome: completion.outcome }, 'send outcome not recorded (the log shows it pending)')
    }
  }
}
