import { randomUUID } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import { BusChannels, type Bus, type OutboundMessage } from '@weapp/common'
import { isWechatApiError, type AccessTokenProvider, type TempMedia, type TypingCommand, type WechatClient } from '@weapp/wechat'
import { MediaNotFoundError, OutboundNotWiredError } from '../errors.js'
import type { CsMetrics } from '../metrics.js'
import type { CheckedSender } from './checked-sender.js'

/** media_ids live three days (docs/wechat/api.md#temporary-media). */
export const MEDIA_TTL_MS = 3 * 86_400_000

/** The WeChat calls besides sending that the admin API makes. */
export type CustomerServiceApi = Pick<WechatClient, 'setTyping' | 'uploadTempMedia' | 'getTempMedia'>

export interface SendRequest {
  openid: string
  message: OutboundMessage
  /** Skip our window check: WeChat decides (45015/45047 come back as WECHAT_* errors). */
  force: boolean
  /** Who asked: the admin key id, or `agent:<agentId>` for the console. */
  sentBy: string
  /** The console agent's display name. */
  sentByName?: string
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
  /** The send path shared with the worker's auto-replies (window, message log, metrics). */
  sender: CheckedSender
  /** null when APP_SECRET is unset: typing and media answer CS_OUTBOUND_NOT_WIRED. */
  api: CustomerServiceApi | null
  tokens: AccessTokenProvider | null
  bus: Bus
  metrics: CsMetrics
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
   * Sends one message through the shared send path (CheckedSender). Without `force`, the user's send
   * window is checked first (409 CS_SEND_WINDOW_CLOSED, 429 CS_SEND_QUOTA_EXCEEDED, WeChat not called);
   * with it, the window is still counted but WeChat decides. Every attempt, refused ones included, is
   * recorded (direction 'out') and published as cs.outbound. Throws WeChat's typed errors as they are;
   * the attempt's id is on them (attemptIdOf).
   */
  async send ({ openid, message, force, sentBy, sentByName }: SendRequest): Promise<{ id: string, outcome: 'sent' }> {
    const id = `out:${randomUUID()}`
    const attempt = await this.#o.sender.send({ key: id, openid, message, sentBy, ...(sentByName !== undefined ? { sentByName } : {}), force, retried: false })
    if (attempt.outcome === 'sent') {
      this.#publish(openid, message, attempt.at, true)
      return { id, outcome: 'sent' }
    }
    this.#publish(openid, message, attempt.requestedAt, false)
    throw tagAttempt(attempt.error, id)
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

  #publish (openid: string, message: OutboundMessage, at: Date, ok: boolean): void {
    this.#o.bus.publish(BusChannels.cs, { type: 'cs.outbound', openid, message, sentAt: at.toISOString(), ok })
      .catch((err: unknown) => { this.#o.log.warn({ err }, 'could not publish cs.outbound') })
  }
}
