import { MongoServerError, type Collection, type Db, type Filter } from 'mongodb'
import { DEFAULT_MONGO_OP_TIMEOUT_MS, ensureIndexes, type MongoRepositoryOptions } from '@weapp/common'
import { OptionsInvalidError } from '../errors.js'
import { decodePayload, encodePayload } from './payload.js'
import { MessageKeyExistsError } from './duplicate-key.js'
import type {
  InboundRecord, MessageCursor, MessageRecord, MessagesRepository, NewInboundRecord,
  NewOutboundRecord, OutboundCompletion, OutboundRecord, StepName, StepState
} from './types.js'

export const MESSAGES_COLLECTION = 'messages'
/** A conversation's messages, newest first: the only sort the log is read with. */
export const CONVERSATION_INDEX = 'openid_created_at_id'
/** MongoDB deletes a message once its createdAt is MESSAGE_RETENTION_DAYS old (its TTL monitor runs every minute). */
export const RETENTION_INDEX = 'created_at_ttl'

/**
 * The payload is `messageJson`, JSON text (payload.ts); documents written before it hold `message` as a
 * document, still read. _id is the de-duplication key (unique by construction): a redelivered message is
 * never stored twice.
 */
type InboundDoc = Omit<InboundRecord, 'key' | 'message'> & { _id: string, messageJson?: string, message?: InboundRecord['message'] }

/** _id is `out:<uuid>`. */
type OutboundDoc = Omit<OutboundRecord, 'key' | 'message'> & { _id: string, messageJson?: string, message?: OutboundRecord['message'] }

type MessageDoc = InboundDoc | OutboundDoc

const isDuplicateKey = (err: unknown): boolean => err instanceof MongoServerError && err.code === 11000

function payloadOf (doc: InboundDoc | OutboundDoc): MessageRecord['message'] {
  if (typeof doc.messageJson === 'string') return decodePayload(doc.messageJson)
  if (doc.message === undefined) throw new Error(`message ${doc._id} has no payload`)
  return doc.message
}

/** MongoDB reads limit(0) as "no limit": a page is never asked for with less than one. */
const positiveLimit = (limit: number): number => Math.max(1, Math.floor(limit))

function toInbound (doc: InboundDoc): InboundRecord {
  const record: InboundRecord = {
    key: doc._id,
    direction: 'in',
    openid: doc.openid,
    msgType: doc.msgType,
    message: payloadOf(doc) as InboundRecord['message'],
    createdAt: doc.createdAt,
    receivedAt: doc.receivedAt,
    storedAt: doc.storedAt,
    steps: doc.steps ?? {}
  }
  if (doc.event != null) record.event = doc.event
  return record
}

function toOutbound (doc: OutboundDoc): OutboundRecord {
  const record: OutboundRecord = {
    key: doc._id,
    direction: 'out',
    openid: doc.openid,
    msgType: doc.msgType,
    message: payloadOf(doc) as OutboundRecord['message'],
    createdAt: doc.createdAt,
    sentBy: doc.sentBy,
    forced: doc.forced === true,
    outcome: doc.outcome
  }
  if (doc.errcode != null) record.errcode = doc.errcode
  if (doc.errorCode != null) record.errorCode = doc.errorCode
  if (doc.completedAt != null) record.completedAt = doc.completedAt
  if (doc.sentByName != null) record.sentByName = doc.sentByName
  return record
}

function toRecord (doc: MessageDoc): MessageRecord {
  return doc.direction === 'out' ? toOutbound(doc) : toInbound(doc)
}

/**
 * Documents older than the cursor in the (createdAt desc, _id desc) order. The `$or` alone says it, but the
 * planner then scans the index from the conversation's newest message down to the cursor on every page
 * (one scan per `$or` branch, the first unbounded below): the top-level `createdAt <= cursor` beside it
 * bounds the scan of { openid, createdAt, _id } to [openid, ≤ cursor], so page n reads about one page of
 * keys, not n. The `$or` still decides the messages that share the cursor's instant (by _id).
 */
export function olderThan (before: MessageCursor | Date | undefined): Filter<MessageDoc> {
  if (before === undefined) return {}
  if (before instanceof Date) return { createdAt: { $lt: before } }
  return {
    createdAt: { $lte: before.createdAt },
    $or: [{ createdAt: { $lt: before.createdAt } }, { createdAt: before.createdAt, _id: { $lt: before.key } }]
  }
}

export interface MongoMessagesOptions extends MongoRepositoryOptions {
  /** Messages are deleted this long after their createdAt (MESSAGE_RETENTION_DAYS in seconds). */
  retentionSec: number
}

export class MongoMessagesRepository implements MessagesRepository {
  readonly #db: Db
  readonly #messages: Collection<MessageDoc>
  readonly #retentionSec: number
  /** A read the server has not finished in MONGO_OP_TIMEOUT_MS is stopped. */
  readonly #maxTimeMS: number

  constructor (db: Db, { retentionSec, opTimeoutMs = DEFAULT_MONGO_OP_TIMEOUT_MS }: MongoMessagesOptions) {
    if (!Number.isInteger(retentionSec) || retentionSec < 1) throw new OptionsInvalidError('retentionSec must be a positive integer')
    this.#db = db
    this.#messages = db.collection<MessageDoc>(MESSAGES_COLLECTION)
    this.#retentionSec = retentionSec
    this.#maxTimeMS = opTimeoutMs
  }

  async ensureIndexes (): Promise<void> {
    await ensureIndexes(this.#messages, [
      // Serves a conversation's pages (the conversation list reads the conversations collection).
      { key: { openid: 1, createdAt: -1, _id: -1 }, name: CONVERSATION_INDEX },
      // The retention: a TTL index on createdAt; a changed MESSAGE_RETENTION_DAYS is applied in place.
      { key: { createdAt: 1 }, name: RETENTION_INDEX, expireAfterSeconds: this.#retentionSec, adjustableTtl: true }
    ], this.#db)
  }

  async insertInbound (record: NewInboundRecord): Promise<'inserted' | 'exists'> {
    const doc: InboundDoc = {
      _id: record.key,
      direction: 'in',
      openid: record.openid,
      msgType: record.msgType,
      messageJson: encodePayload(record.message),
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
    const doc = await this.#messages.findOne({ _id: key, direction: 'in' }, { maxTimeMS: this.#maxTimeMS })
    return doc === null || doc.direction !== 'in' ? null : toInbound(doc)
  }

  async claimStep (key: string, step: StepName, at: Date, staleBefore?: Date): Promise<boolean> {
    const free: Array<Record<string, unknown>> = [{ [`steps.${step}`]: { $exists: false } }]
    if (staleBefore !== undefined) free.push({ [`steps.${step}.status`]: 'claimed', [`steps.${step}.at`]: { $lt: staleBefore } })
    const res = await this.#messages.updateOne(
      { _id: key, direction: 'in', $or: free },
      { $set: { [`steps.${step}`]: { status: 'claimed', at } } }
    )
    // Matched is what decides: the filter only matches a free (or stale) step, and a takeover that writes
    // the very values already there changes nothing yet is still ours (the memory store says true too).
    return res.matchedCount === 1
  }

  async completeStep (key: string, step: StepName, state: StepState): Promise<void> {
    const stored: StepState = { status: state.status, at: state.at }
    if (state.detail !== undefined) stored.detail = state.detail
    await this.#messages.updateOne({ _id: key, direction: 'in' }, { $set: { [`steps.${step}`]: stored } })
  }

  async releaseStep (key: string, step: StepName): Promise<void> {
    await this.#messages.updateOne({ _id: key, direction: 'in' }, { $unset: { [`steps.${step}`]: '' } })
  }

  async insertOutbound (record: NewOutboundRecord): Promise<void> {
    const doc: OutboundDoc = {
      _id: record.key,
      direction: 'out',
      openid: record.openid,
      msgType: record.msgType,
      messageJson: encodePayload(record.message),
      createdAt: record.createdAt,
      sentBy: record.sentBy,
      forced: record.forced,
      outcome: record.outcome
    }
    if (record.errcode !== undefined) doc.errcode = record.errcode
    if (record.errorCode !== undefined) doc.errorCode = record.errorCode
    if (record.completedAt !== undefined) doc.completedAt = record.completedAt
    if (record.sentByName !== undefined) doc.sentByName = record.sentByName
    try {
      await this.#messages.insertOne(doc)
    } catch (err) {
      if (isDuplicateKey(err)) throw new MessageKeyExistsError(record.key)
      throw err
    }
  }

  async completeOutbound (key: string, completion: OutboundCompletion): Promise<void> {
    const set: Record<string, unknown> = { outcome: completion.outcome, completedAt: completion.at }
    if (completion.errcode !== undefined) set.errcode = completion.errcode
    if (completion.errorCode !== undefined) set.errorCode = completion.errorCode
    await this.#messages.updateOne({ _id: key, direction: 'out' }, { $set: set })
  }

  async findOutbound (key: string): Promise<OutboundRecord | null> {
    const doc = await this.#messages.findOne({ _id: key, direction: 'out' }, { maxTimeMS: this.#maxTimeMS })
    return doc === null || doc.direction !== 'out' ? null : toOutbound(doc)
  }

  async listConversation (openid: string, { limit, before }: { limit: number, before?: MessageCursor | Date | undefined }): Promise<MessageRecord[]> {
    const docs = await this.#messages.find({ openid, ...olderThan(before) }, { maxTimeMS: this.#maxTimeMS })
      .sort({ createdAt: -1, _id: -1 }).limit(positiveLimit(limit)).toArray()
    return docs.map(toRecord)
  }

  async findMany (keys: string[]): Promise<MessageRecord[]> {
    if (keys.length === 0) return []
    const docs = await this.#messages.find({ _id: { $in: keys } }, { maxTimeMS: this.#maxTimeMS }).toArray()
    return docs.map(toRecord)
  }
}
