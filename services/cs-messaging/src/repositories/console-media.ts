/** Images the memory store keeps at most, and their bytes in all (the least recently used go first). */
export const MEMORY_MEDIA_MAX_ITEMS = 200
export const MEMORY_MEDIA_MAX_BYTES = 64 * 1024 * 1024
/** media_ids remembered per image (latest first): a console may still hold one of the older ones. */
export const MEDIA_IDS_KEPT = 16

/**
 * An image uploaded from the console, kept by the SHA-256 of its bytes with its current media_id, so the
 * same image is not uploaded again within its three days and an expired one can be uploaded again.
 */
export interface KeptMedia {
  /** SHA-256 of `data`, hex. */
  hash: string
  contentType: string
  filename: string
  data: Buffer
  /** The latest media_id and when WeChat forgets it. */
  mediaId: string
  expiresAt: Date
  /** Every media_id this image had, latest first (at most MEDIA_IDS_KEPT). */
  mediaIds: string[]
  usedAt: Date
}

/** The console media cache's storage (MongoDB `console_media`, or memory bounded by count and bytes). */
export interface ConsoleMediaRepository {
  byHash (hash: string): Promise<KeptMedia | null>
  /** The image that has (or had) this media_id. */
  byMediaId (mediaId: string): Promise<KeptMedia | null>
  /** Stores or replaces the image with this hash. */
  save (media: KeptMedia): Promise<void>
}

/** `mediaIds` with `latest` first, without repeats, at most MEDIA_IDS_KEPT. */
export function withLatest (mediaIds: readonly string[], latest: string): string[] {
  return [latest, ...mediaIds.filter((id) => id !== latest)].slice(0, MEDIA_IDS_KEPT)
}

export interface MemoryConsoleMediaOptions {
  maxItems?: number
  maxBytes?: number
}

/** In process memory, least recently used first out (a Map keeps insertion order: a use re-inserts). */
export class MemoryConsoleMediaRepository implements ConsoleMediaRepository {
  readonly #byHash = new Map<string, KeptMedia>()
  readonly #hashByMediaId = new Map<string, string>()
  readonly #maxItems: number
  readonly #maxBytes: number
  #bytes = 0

  constructor ({ maxItems = MEMORY_MEDIA_MAX_ITEMS, maxBytes = MEMORY_MEDIA_MAX_BYTES }: MemoryConsoleMediaOptions = {}) {
    this.#maxItems = maxItems
    this.#maxBytes = maxBytes
  }

  get size (): number { return this.#byHash.size }
  get bytes (): number { return this.#bytes }

  async byHash (hash: string): Promise<KeptMedia | null> {
    const media = this.#byHash.get(hash)
    if (media === undefined) return null
    this.#touch(media)
    return { ...media, mediaIds: [...media.mediaIds] }
  }

  async byMediaId (mediaId: string): Promise<KeptMedia | null> {
    const hash = this.#hashByMediaId.get(mediaId)
    return hash === undefined ? null : await this.byHash(hash)
  }

  async save (media: KeptMedia): Promise<void> {
    this.#remove(media.hash)
    if (media.data.length > this.#maxBytes) return
    const kept = { ...media, mediaIds: [...media.mediaIds] }
    this.#byHash.set(media.hash, kept)
    this.#bytes += media.data.length
    for (const id of kept.mediaIds) this.#hashByMediaId.set(id, media.hash)
    while (this.#byHash.size > this.#maxItems || this.#bytes > this.#maxBytes) {
      const oldest = this.#byHash.keys().next().value
      if (oldest === undefined) break
      this.#remove(oldest)
    }
  }

  #touch (media: KeptMedia): void {
    this.#byHash.delete(media.hash)
    this.#byHash.set(media.hash, media)
  }

  #remove (hash: string): void {
    const media = this.#byHash.get(hash)
    if (media === undefined) return
    this.#byHash.delete(hash)
    this.#bytes -= media.data.length
    for (const id of media.mediaIds) if (this.#hashByMediaId.get(id) === hash) this.#hashByMediaId.delete(id)
  }
}
