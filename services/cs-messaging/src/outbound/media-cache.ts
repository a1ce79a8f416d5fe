import { createHash } from 'node:crypto'
import type { OutboundMessage } from '@weapp/common'
import { isWechatApiError } from '@weapp/wechat'
import { withLatest, type ConsoleMediaRepository, type KeptMedia } from '../repositories/console-media.js'
import type { UploadRequest, UploadedMedia } from './service.js'

/** A kept media_id is reused until this long before WeChat forgets it (a send takes a moment). */
export const REUSE_MARGIN_MS = 3_600_000
/** WeChat's answer for a media_id it does not know (unknown, another app's, or past its 3 days). */
const MEDIA_INVALID = 40007

export interface ConsoleMediaCacheOptions {
  store: ConsoleMediaRepository
  /** The admin API's upload (OutboundService.uploadImage): token, metrics, errors. */
  upload: (request: UploadRequest) => Promise<UploadedMedia>
  now: () => Date
}

export interface CachedUpload {
  mediaId: string
  expiresAt: Date
  /** true: the same image was uploaded within its three days, WeChat was not called. */
  reused: boolean
}

/** The media_id a message refers to (image, or a card's thumbnail). */
export function mediaIdOf (message: OutboundMessage): string | undefined {
  if (message.msgtype === 'image') return message.image.media_id
  if (message.msgtype === 'miniprogrampage') return message.miniprogrampage.thumb_media_id
  return undefined
}

function withMediaId (message: OutboundMessage, mediaId: string): OutboundMessage {
  if (message.msgtype === 'image') return { ...message, image: { ...message.image, media_id: mediaId } }
  if (message.msgtype === 'miniprogrampage') return { ...message, miniprogrampage: { ...message.miniprogrampage, thumb_media_id: mediaId } }
  return message
}

const isMediaInvalid = (err: unknown): boolean => isWechatApiError(err) && err.errcode === MEDIA_INVALID

/**
 * The console's images: uploaded to WeChat once per three days (by the hash of their bytes), kept so that
 * one WeChat forgot (40007) is uploaded again from the kept bytes. The console's sends go through
 * `sendWithFreshMedia`, which does that once and retries the send.
 */
export class ConsoleMediaCache {
  readonly #o: ConsoleMediaCacheOptions
  /** One upload per image at a time in this process (two agents sending the same expired card). */
  readonly #inFlight = new Map<string, Promise<KeptMedia>>()

  constructor (options: ConsoleMediaCacheOptions) {
    this.#o = options
  }

  /** Uploads the image unless its kept media_id is still good for REUSE_MARGIN_MS. */
  async upload ({ filename, contentType, data }: UploadRequest): Promise<CachedUpload> {
    const hash = createHash('sha256').update(data).digest('hex')
    const kept = await this.#o.store.byHash(hash)
    if (kept !== null && this.#fresh(kept)) return { mediaId: kept.mediaId, expiresAt: kept.expiresAt, reused: true }
    const media = await this.#uploadOnce(kept ?? { hash, contentType, filename, data, mediaIds: [] })
    return { mediaId: media.mediaId, expiresAt: media.expiresAt, reused: false }
  }

  /** The kept image that has (or had) this media_id, or null. */
  async kept (mediaId: string): Promise<KeptMedia | null> {
    return await this.#o.store.byMediaId(mediaId)
  }

  /**
   * The media_id to send for `mediaId`: the image's latest one (uploaded again first when it is past its
   * three days by our clock), or `mediaId` itself when the image is not kept here (a user's picture).
   */
  async current (mediaId: string): Promise<string> {
    const kept = await this.#o.store.byMediaId(mediaId)
    if (kept === null) return mediaId
    if (this.#fresh(kept)) return kept.mediaId
    return (await this.#uploadOnce(kept)).mediaId
  }

  /** After WeChat answered 40007 for `mediaId`: the kept bytes uploaded again, or null when not kept. */
  async reupload (mediaId: string): Promise<string | null> {
    const kept = await this.#o.store.byMediaId(mediaId)
    if (kept === null) return null
    // Another send may have uploaded it again already.
    if (kept.mediaId !== mediaId && this.#fresh(kept)) return kept.mediaId
    return (await this.#uploadOnce(kept)).mediaId
  }

  /**
   * Sends `message` with its image's current media_id; when WeChat answers 40007 for it (forgotten
   * before its three days, or uploaded by another process whose upload we do not know of), uploads the
   * kept bytes again, once, and sends once more. Anything else, or a second 40007, is thrown as it is.
   */
  async sendWithFreshMedia<T> (message: OutboundMessage, send: (message: OutboundMessage) => Promise<T>): Promise<T> {
    const given = mediaIdOf(message)
    if (given === undefined) return await send(message)
    const mediaId = await this.current(given)
    try {
      return await send(withMediaId(message, mediaId))
    } catch (err) {
      if (!isMediaInvalid(err)) throw err
      const fresh = await this.reupload(mediaId)
      if (fresh === null || fresh === mediaId) throw err
      return await send(withMediaId(message, fresh))
    }
  }

  #fresh (media: KeptMedia): boolean {
    return media.expiresAt.getTime() - REUSE_MARGIN_MS > this.#o.now().getTime()
  }

  async #uploadOnce (media: Omit<KeptMedia, 'mediaId' | 'expiresAt' | 'usedAt'>): Promise<KeptMedia> {
    const running = this.#inFlight.get(media.hash)
    if (running !== undefined) return await running
    const work = (async () => {
      const uploaded = await this.#o.upload({ filename: media.filename, contentType: media.contentType, data: media.data })
      const kept: KeptMedia = {
        hash: media.hash,
        contentType: media.contentType,
        filename: media.filename,
        data: media.data,
        mediaId: uploaded.mediaId,
        expiresAt: uploaded.expiresAt,
        mediaIds: withLatest(media.mediaIds, uploaded.mediaId),
        usedAt: this.#o.now()
      }
      await this.#o.store.save(kept)
      return kept
    })()
    this.#inFlight.set(media.hash, work)
    try {
      return await work
    } finally {
      this.#inFlight.delete(media.hash)
    }
  }
}
