import { randomUUID } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import { BusChannels, type Bus, type OutboundMessage } from '@weapp/common'
import { isWechatApiError, outcomeOf, type AccessTokenProvider, type TempMedia, type TypingCommand, type WechatClient } from '@weapp/wechat'
import { MediaNotFoundError, OutboundNotWiredError, SendQuotaExceededError, SendWindowClosedError } from '../errors.js'
import type { CsMetrics } from '../metrics.js'
import type { MessagesRepository, OutboundCompletion, OutboundOutcome } from '../messages/types.js'
import type { SendWindows } from '../windows/send-windows.js'
import { UnwiredOutboundSender, type OutboundSender } from './sender.js'

/** media_ids live three days (docs/wechat/api.md#temporary-media). */
export const MEDIA_TTL_MS = 3 * 86_400_000

/** The WeChat calls besides sending that the admin API makes. */
export type CustomerServiceApi = Pick<WechatClient, 'setTyping' | 'uploadTempMedia' | 'getTempMedia'>

export interface SendRequest {
  openid: string
  message: OutboundMessage
  /** Skip our window check: WeChat decides (45015/45047 come back as WECHAT_* errors). */
  force: boolean
  /** The admin key that asked. */
  sentBy: string
}

export interface UploadRequest {
  filename: string
  contentType: string
  data: Buffer
}

export interface UploadedMedia {
  mediaId: string
  createdAt: Date
  expiresAt: Date
}

export interface OutboundServiceOptions {
  sender: OutboundSender
  /** null when APP_SECRET is unset: typing and media answer CS_OUTBOUND_NOT_WIRED. */
  api: CustomerServiceApi | null
  tokens: AccessTokenProvider | null
  windows: SendWindows
  messages: MessagesRepository
  bus: Bus
  metrics: CsMetrics
  now: () => Date
  log: FastifyBaseLogger
  /** getTempMedia refuses larger files. */
  mediaDownloadMaxBytes: number
}

const ATTEMPT_ID = Symbol('cs-messaging.attemptId')

/** The message log id of the send attempt an error came from (for the x-cs-message-id header). */
export function attemptIdOf (err: unknown): string | undefined {
  const id = (err as { [ATTEMPT_ID]?: unknown } | null)?.[ATTEMPT_ID]
  return typeof id === 'string' ? id : undefined
}

function tagAttempt<E> (err: E, id: string): E {
  if (typeof err === 'object' && err !== null) Object.defineProperty(err, ATTEMPT_ID, { value: id, configurable: true })
  return err
}

function errcodeOf (err: unknown): number | undefined {
  return isWechatApiError(err) ? err.errcode : undefined
}

function codeOf (err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : undefined
}

/** What a failed send means for the user (see OutboundOutcome). */
export function failedOutcome (err: unknown): Exclude<OutboundOutcome, 'pending' | 'sent' | 'refused'> {
  const errcode = errcodeOf(err)
  // -1: WeChat was busy and did not act (the client already retried it with back-off).
  if (errcode !== undefined) return errcode === -1 ? 'failed' : 'rejected'
  // The WeChat client says whether the request may have reached WeChat; anything else never called it.
  return outcomeOf(err) === 'unknown' ? 'unknown' : 'failed'
}

/** A metrics label for a failed WeChat call: its errcode, or 'error'. */
function resultLabel (err: unknown): string {
  const errcode = errcodeOf(err)
  return errcode === undefined ? 'error' : String(errcode)
}

/**
 * The admin API's WeChat side: customer-service sends checked against the send window and recorded in
 * the message log, the typing indicator, temporary media. Every WeChat call goes through the shared
 * access-token provider (a stale token is refreshed once and the call retried once).
 */
export class OutboundService {
  readonly #o: OutboundServiceOptions

  constructor (options: OutboundServiceOptions) {
    this.#o = options
  }

  /**
   * Sends one message. Without `force`, the user's send window is checked first (409
   * CS_SEND_WINDOW_CLOSED, 429 CS_SEND_QUOTA_EXCEEDED, WeChat not called); with it, the window is still
   * counted but WeChat decides. Every attempt, refused ones included, is recorded (direction 'out') and
   * published as cs.outbound; a send that did not happen gives its window quota back. Throws WeChat's
   * typed errors as they are; the attempt's id is on them (attemptIdOf).
   */
  async send ({ openid, message, force, sentBy }: SendRequest): Promise<{ id: string, outcome: 'sent' }> {
    const { sender, windows, messages, metrics, now, log } = this.#o
    if (sender instanceof UnwiredOutboundSender) throw new OutboundNotWiredError(sender.reason)
    const id = `out:${randomUUID()}`
    const at = now()
    const base = { key: id, openid, msgType: message.msgtype, message, createdAt: at, sentBy, forced: force }

    const window = await windows.consume(openid, at)
    if (window !== 'ok' && !force) {
      const refusal = window === 'closed' ? new SendWindowClosedError(openid) : new SendQuotaExceededError(openid)
      metrics.windowRefusals.inc({ reason: window })
      metrics.sends.inc({ outcome: 'refused', errcode: 'none' })
      try {
        await messages.insertOutbound({ ...base, outcome: 'refused', errorCode: refusal.code, completedAt: at })
      } catch (err) {
        log.error({ err, id }, 'refused send not recorded')
      }
      this.#publish(openid, message, at, false)
      throw tagAttempt(refusal, id)
    }
    // Counted whenever the window had room, forced or not, so our view of WeChat's quota stays right.
    const took = window === 'ok'
    const giveBack = async (): Promise<void> => {
      if (took) await windows.release(openid, now()).catch((err: unknown) => { log.warn({ err, id }, 'send window quota not given back') })
    }

    try {
      await messages.insertOutbound({ ...base, outcome: 'pending' })
    } catch (err) {
      // Nothing is sent that the log cannot show.
      await giveBack()
      throw err
    }

    try {
      await sender.send(openid, message)
    } catch (err) {
      const outcome = failedOutcome(err)
      // A call that may have reached the user keeps its place in the window.
      if (outcome !== 'unknown') await giveBack()
      const errcode = errcodeOf(err)
      const errorCode = codeOf(err)
      metrics.sends.inc({ outcome, errcode: errcode === undefined ? 'none' : String(errcode) })
      log.info({ id, outcome, errcode, code: errorCode, forced: force }, 'send failed')
      await this.#complete(id, { outcome, at: now(), ...(errcode !== undefined ? { errcode } : {}), ...(errorCode !== undefined ? { errorCode } : {}) })
      this.#publish(openid, message, at, false)
      throw tagAttempt(err, id)
    }
    const sentAt = now()
    metrics.sends.inc({ outcome: 'sent', errcode: 'none' })
    await this.#complete(id, { outcome: 'sent', at: sentAt })
    this.#publish(openid, message, sentAt, true)
    return { id, outcome: 'sent' }
  }

  /** message/custom/business/typing: WeChat's typing errcodes come back as WECHAT_TYPING_* errors. */
  async typing (openid: string, command: TypingCommand): Promise<void> {
    const { api, tokens } = this.#wired()
    try {
      await tokens.withToken(async (accessToken) => { await api.setTyping({ accessToken, touser: openid, command }) })
    } catch (err) {
      this.#o.metrics.typing.inc({ command, result: resultLabel(err) })
      throw err
    }
    this.#o.metrics.typing.inc({ command, result: 'ok' })
  }

  /** media/upload?type=image: the media_id lives three days. */
  async uploadImage ({ filename, contentType, data }: UploadRequest): Promise<UploadedMedia> {
    const { api, tokens } = this.#wired()
    try {
      const uploaded = await tokens.withToken(async (accessToken) => await api.uploadTempMedia({ accessToken, filename, contentType, data, type: 'image' }))
      this.#o.metrics.media.inc({ op: 'upload', result: 'ok' })
      const createdAt = new Date(uploaded.createdAt * 1000)
      return { mediaId: uploaded.mediaId, createdAt, expiresAt: new Date(createdAt.getTime() + MEDIA_TTL_MS) }
    } catch (err) {
      this.#o.metrics.media.inc({ op: 'upload', result: resultLabel(err) })
      throw err
    }
  }

  /** media/get: the file; CS_MEDIA_NOT_FOUND (404) for WeChat's 40007. */
  async getMedia (mediaId: string): Promise<TempMedia> {
    const { api, tokens } = this.#wired()
    try {
      const media = await tokens.withToken(async (accessToken) => await api.getTempMedia({ accessToken, mediaId, maxBytes: this.#o.mediaDownloadMaxBytes }))
      this.#o.metrics.media.inc({ op: 'download', result: 'ok' })
      return media
    } catch (err) {
      this.#o.metrics.media.inc({ op: 'download', result: resultLabel(err) })
      if (errcodeOf(err) === 40007) throw new MediaNotFoundError(mediaId)
      throw err
    }
  }

  /** Counts a request refused before WeChat was called (bad upload). */
  refusedUpload (): void {
    this.#o.metrics.media.inc({ op: 'upload', result: 'refused' })
  }

  #wired (): { api: CustomerServiceApi, tokens: AccessTokenProvider } {
    const { api, tokens } = this.#o
    if (api === null || tokens === null) throw new OutboundNotWiredError('APP_SECRET is not configured')
    return { api, tokens }
  }

  /** The outcome of a send that happened (or not): a failed write is logged, never turned into a failed request. */
  async #complete (id: string, completion: OutboundCompletion): Promise<void> {
    try {
      await this.#o.messages.completeOutbound(id, completion)
    } catch (err) {
      this.#o.log.error({ err, id, outcome: completion.outcome }, 'send outcome not recorded (the log shows it pending)')
    }
  }

  #publish (openid: string, message: OutboundMessage, at: Date, ok: boolean): void {
    this.#o.bus.publish(BusChannels.cs, { type: 'cs.outbound', openid, message, sentAt: at.toISOString(), ok })
      .catch((err: unknown) => { this.#o.log.warn({ err }, 'could not publish cs.outbound') })
  }
}
