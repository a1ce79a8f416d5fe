import { Binary, type Collection, type Db } from 'mongodb'
import { DEFAULT_MONGO_OP_TIMEOUT_MS, ensureIndexes, type MongoRepositoryOptions } from '@weapp/common'
import { withLatest, type ConsoleMediaRepository, type KeptMedia } from './console-media.js'

export const CONSOLE_MEDIA_COLLECTION = 'console_media'
/** Finds an image by any of its media_ids. */
export const MEDIA_IDS_INDEX = 'media_ids'
/** An image nobody used (uploaded, sent, listed in a card template, viewed) for this long is deleted. */
export const UNUSED_INDEX = 'used_at_ttl'
export const CONSOLE_MEDIA_UNUSED_SEC = 30 * 86_400

/** _id is the hash; the bytes as BSON binary (an upload is at most MEDIA_UPLOAD_MAX_BYTES ≤ 10 MiB, below 16 MB). */
type MediaDoc = Omit<KeptMedia, 'hash' | 'data'> & { _id: string, data: Binary }

function toMedia (doc: MediaDoc): KeptMedia {
  return {
    hash: doc._id,
    contentType: doc.contentType,
    filename: doc.filename,
    data: Buffer.from(doc.data.buffer),
    mediaId: doc.mediaId,
    expiresAt: doc.expiresAt,
    mediaIds: withLatest(doc.mediaIds, doc.mediaId),
    usedAt: doc.usedAt
  }
}

export class MongoConsoleMediaRepository implements ConsoleMediaRepository {
  readonly #media: Collection<MediaDoc>
  readonly #now: () => Date
  readonly #maxTimeMS: number

  constructor (db: Db, now: () => Date = () => new Date(), { opTimeoutMs = DEFAULT_MONGO_OP_TIMEOUT_MS }: MongoRepositoryOptions = {}) {
    this.#media = db.collection<MediaDoc>(CONSOLE_MEDIA_COLLECTION)
    this.#now = now
    this.#maxTimeMS = opTimeoutMs
  }

  async ensureIndexes (): Promise<void> {
    await ensureIndexes(this.#media, [
      { key: { mediaIds: 1 }, name: MEDIA_IDS_INDEX },
      { key: { usedAt: 1 }, name: UNUSED_INDEX, expireAfterSeconds: CONSOLE_MEDIA_UNUSED_SEC }
    ])
  }

  async byHash (hash: string): Promise<KeptMedia | null> {
    return await this.#touch({ _id: hash })
  }

  async byMediaId (mediaId: string): Promise<KeptMedia | null> {
    return await this.#touch({ mediaIds: mediaId })
  }

  async save (media: KeptMedia): Promise<void> {
    const { hash, data, ...fields } = media
    await this.#media.replaceOne({ _id: hash }, { ...fields, data: new Binary(data) }, { upsert: true })
  }

  /** A read is a use: it keeps the image from the TTL monitor. */
  async #touch (filter: { _id: string } | { mediaIds: string }): Promise<KeptMedia | null> {
    const doc = await this.#media.findOneAndUpdate(filter, { $set: { usedAt: this.#now() } }, { returnDocument: 'after', maxTimeMS: this.#maxTimeMS })
    return doc === null ? null : toMedia(doc)
  }
}
