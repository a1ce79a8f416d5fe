import { randomBytes } from 'node:crypto'
import { MEDIA_TTL_MS } from './defaults.js'

export interface StoredMedia {
  appId: string
  mediaId: string
  contentType: string
  /** What media/get names the download: `<media_id>.<ext>`, as WeChat does. */
  filename: string
  data: Buffer
  /** ms since epoch (simulator clock). */
  createdAt: number
  expiresAt: number
}

export type MediaLookup = { ok: true, media: StoredMedia } | { ok: false, reason: 'unknown' | 'expired' }

/** The image types media/upload takes for type=image, by content-type, with their file extensions. */
export const IMAGE_TYPES: ReadonlyMap<string, string> = new Map([
  ['image/jpeg', 'jpg'], ['image/jpg', 'jpg'], ['image/png', 'png'], ['image/gif', 'gif'], ['image/bmp', 'bmp']
])
const EXTENSION_TYPES: ReadonlyMap<string, string> = new Map([
  ['jpg', 'image/jpeg'], ['jpeg', 'image/jpeg'], ['png', 'image/png'], ['gif', 'image/gif'], ['bmp', 'image/bmp']
])

/**
 * The image content-type of an uploaded part: its own Content-Type when that is an image type, else the
 * one its filename's extension names (curl sends application/octet-stream for unknown types), else undefined.
 */
export function imageContentType (contentType: string, filename: string): string | undefined {
  const declared = contentType.split(';')[0]!.trim().toLowerCase()
  if (IMAGE_TYPES.has(declared)) return declared === 'image/jpg' ? 'image/jpeg' : declared
  const ext = /\.([A-Za-z0-9]+)$/.exec(filename)?.[1]?.toLowerCase()
  return ext === undefined ? undefined : EXTENSION_TYPES.get(ext)
}

const SWEEP_EVERY = 100

/** Temporary media per app, for three days of simulator time (docs/wechat/api.md#temporary-media). */
export class MediaStore {
  readonly #items = new Map<string, StoredMedia>()
  #putsSinceSweep = 0

  put (appId: string, contentType: string, data: Buffer, now: number): StoredMedia {
    if (++this.#putsSinceSweep >= SWEEP_EVERY) this.#sweep(now)
    let mediaId = newMediaId()
    while (this.#items.has(mediaId)) mediaId = newMediaId()
    const media: StoredMedia = {
      appId,
      mediaId,
      contentType,
      filename: `${mediaId}.${IMAGE_TYPES.get(contentType) ?? 'bin'}`,
      data,
      createdAt: now,
      expiresAt: now + MEDIA_TTL_MS
    }
    this.#items.set(mediaId, media)
    return media
  }

  /** A media_id of another app is, to this app, unknown. */
  get (appId: string, mediaId: string, now: number): MediaLookup {
    const media = this.#items.get(mediaId)
    if (media === undefined || media.appId !== appId) return { ok: false, reason: 'unknown' }
    if (now >= media.expiresAt) return { ok: false, reason: 'expired' }
    return { ok: true, media }
  }

  usable (appId: string, mediaId: unknown, now: number): boolean {
    return typeof mediaId === 'string' && this.get(appId, mediaId, now).ok
  }

  clear (): void {
    this.#items.clear()
  }

  #sweep (now: number): void {
    this.#putsSinceSweep = 0
    for (const [id, m] of this.#items) if (now >= m.expiresAt) this.#items.delete(id)
  }
}

/** 64 characters of [A-Za-z0-9_-], the shape of real media_ids. */
function newMediaId (): string {
  return randomBytes(48).toString('base64url')
}
