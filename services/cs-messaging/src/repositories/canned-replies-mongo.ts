import { randomUUID } from 'node:crypto'
import { MongoServerError, type Collection, type Db } from 'mongodb'
import { DEFAULT_MONGO_OP_TIMEOUT_MS, ensureIndexes, type MongoRepositoryOptions } from '@weapp/common'
import { CANNED_REPLIES_MAX, type CannedRepliesRepository, type CannedReply, type NewCannedReply } from './canned-replies.js'

export const CANNED_REPLIES_COLLECTION = 'canned_replies'
/** One reply per shortcut, whoever saves it and however many instances race. */
export const SHORTCUT_INDEX = 'shortcut_unique'

type CannedReplyDoc = Omit<CannedReply, 'id'> & { _id: string }

const isDuplicateKey = (err: unknown): boolean => err instanceof MongoServerError && err.code === 11000

export class MongoCannedRepliesRepository implements CannedRepliesRepository {
  readonly #replies: Collection<CannedReplyDoc>
  readonly #maxTimeMS: number

  constructor (db: Db, { opTimeoutMs = DEFAULT_MONGO_OP_TIMEOUT_MS }: MongoRepositoryOptions = {}) {
    this.#replies = db.collection<CannedReplyDoc>(CANNED_REPLIES_COLLECTION)
    this.#maxTimeMS = opTimeoutMs
  }

  async ensureIndexes (): Promise<void> {
    await ensureIndexes(this.#replies, [{ key: { shortcut: 1 }, name: SHORTCUT_INDEX, unique: true }])
  }

  async add ({ shortcut, text }: NewCannedReply): Promise<CannedReply | 'duplicate' | 'limit'> {
    // The bound is checked, not locked: two saves racing for the last place may pass it by one.
    if (await this.#replies.countDocuments({}, { limit: CANNED_REPLIES_MAX, maxTimeMS: this.#maxTimeMS }) >= CANNED_REPLIES_MAX) return 'limit'
    const reply = { id: randomUUID(), shortcut, text }
    try {
      await this.#replies.insertOne({ _id: reply.id, shortcut, text })
    } catch (err) {
      if (isDuplicateKey(err)) return 'duplicate'
      throw err
    }
    return reply
  }

  async list (): Promise<CannedReply[]> {
    const docs = await this.#replies.find({}, { maxTimeMS: this.#maxTimeMS }).sort({ shortcut: 1 }).limit(CANNED_REPLIES_MAX + 1).toArray()
    return docs.map((d) => ({ id: d._id, shortcut: d.shortcut, text: d.text }))
  }

  async remove (id: string): Promise<boolean> {
    return (await this.#replies.deleteOne({ _id: id })).deletedCount === 1
  }
}
