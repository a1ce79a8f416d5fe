import { MongoServerError, type Collection, type Db } from 'mongodb'
import type { InboundMessage } from '@weapp/common'
import type { InboundRecord, MessagesRepository, NewInboundRecord, StepName, StepState } from './types.js'

export const MESSAGES_COLLECTION = 'messages'

/** _id is the de-duplication key (unique by construction): a redelivered message is never stored twice. */
interface MessageDoc {
  _id: string
  direction: 'in'
  openid: string
  msgType: string
  event?: string
  message: InboundMessage
  createdAt: Date
  receivedAt: Date
  storedAt: Date
  steps: Partial<Record<StepName, StepState>>
}

const isDuplicateKey = (err: unknown): boolean => err instanceof MongoServerError && err.code === 11000

function toRecord (doc: MessageDoc): InboundRecord {
  const record: InboundRecord = {
    key: doc._id,
    direction: doc.direction,
    openid: doc.openid,
    msgType: doc.msgType,
    message: doc.message,
    createdAt: doc.createdAt,
    receivedAt: doc.receivedAt,
    storedAt: doc.storedAt,
    steps: doc.steps ?? {}
  }
  if (doc.event != null) record.event = doc.event
  return record
}

export class MongoMessagesRepository implements MessagesRepository {
  readonly #messages: Collection<MessageDoc>

  constructor (db: Db) {
    this.#messages = db.collection<MessageDoc>(MESSAGES_COLLECTION)
  }

  async ensureIndexes (): Promise<void> {
    await this.#messages.createIndex({ openid: 1, createdAt: -1 }, { name: 'openid_created_at' })
  }

  async insertInbound (record: NewInboundRecord): Promise<'inserted' | 'exists'> {
    const doc: MessageDoc = {
      _id: record.key,
      direction: 'in',
      openid: record.openid,
      msgType: record.msgType,
      message: record.message,
      createdAt: record.createdAt,
      receivedAt: record.receivedAt,
      storedAt: record.storedAt,
      steps: {}
    }
    if (record.event !== undefined) doc.event = record.event
    try {
      await this.#messages.insertOne(doc)
      return 'inserted'
    } catch (err) {
      if (isDuplicateKey(err)) return 'exists'
      throw err
    }
  }

  async findByKey (key: string): Promise<InboundRecord | null> {
    const doc = await this.#messages.findOne({ _id: key })
    return doc === null ? null : toRecord(doc)
  }

  async claimStep (key: string, step: StepName, at: Date, staleBefore?: Date): Promise<boolean> {
    const free: Array<Record<string, unknown>> = [{ [`steps.${step}`]: { $exists: false } }]
    if (staleBefore !== undefined) free.push({ [`steps.${step}.status`]: 'claimed', [`steps.${step}.at`]: { $lt: staleBefore } })
    const res = await this.#messages.updateOne(
      { _id: key, $or: free },
      { $set: { [`steps.${step}`]: { status: 'claimed', at } } }
    )
    return res.modifiedCount === 1
  }

  async completeStep (key: string, step: StepName, state: StepState): Promise<void> {
    const stored: StepState = { status: state.status, at: state.at }
    if (state.detail !== undefined) stored.detail = state.detail
    await this.#messages.updateOne({ _id: key }, { $set: { [`steps.${step}`]: stored } })
  }

  async releaseStep (key: string, step: StepName): Promise<void> {
    await this.#messages.updateOne({ _id: key }, { $unset: { [`steps.${step}`]: '' } })
  }

  async listConversation (openid: string, { limit, before }: { limit: number, before?: Date | undefined }): Promise<InboundRecord[]> {
    const filter = before === undefined ? { openid } : { openid, createdAt: { $lt: before } }
    const docs = await this.#messages.find(filter).sort({ createdAt: -1, _id: -1 }).limit(limit).toArray()
    return docs.map(toRecord)
  }
}
