import { MongoServerError, type Collection, type Db, type Document, type Filter } from 'mongodb'
import { DEFAULT_MONGO_OP_TIMEOUT_MS, ensureIndexes, type AgentRef, type MongoRepositoryOptions } from '@weapp/common'
import { OptionsInvalidError } from '../errors.js'
import {
  CONVERSATIONS_PAGE_MAX, RECENT_KEYS_MAX, checkAgentId, type AssignResult, type ConversationRecord, type ConversationStatus,
  type ConversationsRepository, type Handover, type InboundUpdate, type ListQuery, type OutboundUpdate
} from './conversations.js'

export const CONVERSATIONS_COLLECTION = 'conversations'
/** The console's `all` view per status, by lastAt. */
export const STATUS_INDEX = 'status_last_at_id'
/** The console's `mine` and `unassigned` views (assignee.agentId null matches an unassigned conversation). */
export const ASSIGNEE_INDEX = 'assignee_status_last_at_id'
/** The admin API's list: every conversation by lastAt, whatever its status. */
export const LAST_AT_INDEX = 'last_at_id'
/** A conversation goes when its last message does (MESSAGE_RETENTION_DAYS after lastAt). */
export const CONVERSATION_RETENTION_INDEX = 'last_at_ttl'

/** _id is the openid: one document per user, so concurrent first messages cannot make two. */
type ConversationDoc = Omit<ConversationRecord, 'openid'> & { _id: string }

const isDuplicateKey = (err: unknown): boolean => err instanceof MongoServerError && err.code === 11000
/** A lost race between two first upserts of one openid is retried this many times. */
const UPSERT_ATTEMPTS = 3

function toRecord (doc: ConversationDoc): ConversationRecord {
  return {
    openid: doc._id,
    status: doc.status,
    assignee: doc.assignee ?? null,
    lastAt: doc.lastAt,
    last: doc.last,
    lastKey: doc.lastKey,
    inboundCount: doc.inboundCount ?? 0,
    readCounts: doc.readCounts ?? {},
    handover: doc.handover ?? 'none',
    window: doc.window ?? null,
    lastInteractionAt: doc.lastInteractionAt ?? null,
    recentKeys: doc.recentKeys ?? []
  }
}

/**
 * The fields every update pipeline sets on a conversation it may create. Values from outside are
 * $literal: a preview such as "$5" would otherwise be read as a field path.
 */
function messageFields (key: string, at: Date, last: InboundUpdate['last'], window: InboundUpdate['window']): Document {
  // Evaluated against the document before the update, as every field of one $set stage is.
  const newer = { $gte: [at, { $ifNull: ['$lastAt', new Date(0)] }] }
  return {
    status: { $ifNull: ['$status', 'open'] },
    assignee: { $ifNull: ['$assignee', null] },
    handover: { $ifNull: ['$handover', 'none'] },
    readCounts: { $ifNull: ['$readCounts', { $literal: {} }] },
    inboundCount: { $ifNull: ['$inboundCount', 0] },
    recentKeys: { $ifNull: ['$recentKeys', []] },
    lastInteractionAt: { $ifNull: ['$lastInteractionAt', null] },
    last: { $cond: [newer, { $literal: last }, '$last'] },
    lastKey: { $cond: [newer, { $literal: key }, '$lastKey'] },
    lastAt: { $cond: [newer, at, '$lastAt'] },
    window: { $literal: window }
  }
}

/** Conversations older than the cursor in the (lastAt desc, _id desc) order. */
function olderThan (before: ListQuery['before']): Filter<ConversationDoc> {
  if (before === undefined) return {}
  return { $or: [{ lastAt: { $lt: before.lastAt } }, { lastAt: before.lastAt, _id: { $lt: before.openid } }] }
}

export interface MongoConversationsOptions extends MongoRepositoryOptions {
  /** MESSAGE_RETENTION_DAYS in seconds. */
  retentionSec: number
}

export class MongoConversationsRepository implements ConversationsRepository {
  readonly #db: Db
  readonly #conversations: Collection<ConversationDoc>
  readonly #retentionSec: number
  /** A read the server has not finished in MONGO_OP_TIMEOUT_MS is stopped. */
  readonly #maxTimeMS: number

  constructor (db: Db, { retentionSec, opTimeoutMs = DEFAULT_MONGO_OP_TIMEOUT_MS }: MongoConversationsOptions) {
    if (!Number.isInteger(retentionSec) || retentionSec < 1) throw new OptionsInvalidError('retentionSec must be a positive integer')
    this.#db = db
    this.#conversations = db.collection<ConversationDoc>(CONVERSATIONS_COLLECTION)
    this.#retentionSec = retentionSec
    this.#maxTimeMS = opTimeoutMs
  }

  async ensureIndexes (): Promise<void> {
    await ensureIndexes(this.#conversations, [
      { key: { status: 1, lastAt: -1, _id: -1 }, name: STATUS_INDEX },
      { key: { 'assignee.agentId': 1, status: 1, lastAt: -1, _id: -1 }, name: ASSIGNEE_INDEX },
      { key: { lastAt: -1, _id: -1 }, name: LAST_AT_INDEX },
      { key: { lastAt: 1 }, name: CONVERSATION_RETENTION_INDEX, expireAfterSeconds: this.#retentionSec, adjustableTtl: true }
    ], this.#db)
  }

  async recordInbound ({ openid, key, at, last, interaction, window }: InboundUpdate): Promise<{ conversation: ConversationRecord, counted: boolean }> {
    const pipeline = [
      { $set: messageFields(key, at, last, window) },
      {
        $set: {
          status: 'open',
          inboundCount: { $add: ['$inboundCount', 1] },
          recentKeys: { $slice: [{ $concatArrays: ['$recentKeys', [{ $literal: key }]] }, -RECENT_KEYS_MAX] },
          // $max skips null: the first interaction is simply `at`.
          ...(interaction ? { lastInteractionAt: { $max: [at, '$lastInteractionAt'] } } : {})
        }
      }
    ]
    for (let attempt = 1; ; attempt++) {
      try {
        // A key already counted makes the filter miss, and the upsert's insert of an existing _id fails.
        const doc = await this.#conversations.findOneAndUpdate({ _id: openid, recentKeys: { $ne: key } }, pipeline, { upsert: true, returnDocument: 'after' })
        if (doc !== null) return { conversation: toRecord(doc), counted: true }
      } catch (err) {
        if (!isDuplicateKey(err)) throw err
      }
      const current = await this.#conversations.findOne({ _id: openid }, { maxTimeMS: this.#maxTimeMS })
      if (current?.recentKeys?.includes(key) === true) return { conversation: toRecord(current), counted: false }
      // Another first message of this user made the document in between: count this one on it.
      if (attempt >= UPSERT_ATTEMPTS) throw new Error(`conversation ${openid}: inbound ${key} not recorded after ${attempt} attempts`)
    }
  }

  async recordOutbound ({ openid, key, at, last, window }: OutboundUpdate): Promise<ConversationRecord> {
    for (let attempt = 1; ; attempt++) {
      try {
        const doc = await this.#conversations.findOneAndUpdate({ _id: openid }, [{ $set: messageFields(key, at, last, window) }], { upsert: true, returnDocument: 'after' })
        if (doc !== null) return toRecord(doc)
      } catch (err) {
        if (!isDuplicateKey(err) || attempt >= UPSERT_ATTEMPTS) throw err
      }
    }
  }

  async markRead (openid: string, agentId: string): Promise<ConversationRecord | null> {
    checkAgentId(agentId)
    const current = await this.#conversations.findOne({ _id: openid }, { maxTimeMS: this.#maxTimeMS })
    if (current === null) return null
    // What was read is what the agent saw: a message arriving meanwhile stays unread. $max: never backwards.
    const doc = await this.#conversations.findOneAndUpdate({ _id: openid }, { $max: { [`readCounts.${agentId}`]: current.inboundCount ?? 0 } }, { returnDocument: 'after' })
    return doc === null ? null : toRecord(doc)
  }

  async claim (openid: string, agent: AgentRef, { force }: { force: boolean }): Promise<AssignResult> {
    const free: Filter<ConversationDoc> = force ? {} : { $or: [{ assignee: null }, { 'assignee.agentId': agent.agentId }] }
    return await this.#assign(openid, free, { agentId: agent.agentId, displayName: agent.displayName })
  }

  async release (openid: string, agentId: string, { force }: { force: boolean }): Promise<AssignResult> {
    const ours: Filter<ConversationDoc> = force ? {} : { $or: [{ assignee: null }, { 'assignee.agentId': agentId }] }
    return await this.#assign(openid, ours, null)
  }

  async setStatus (openid: string, status: ConversationStatus): Promise<ConversationRecord | null> {
    const doc = await this.#conversations.findOneAndUpdate({ _id: openid }, { $set: { status } }, { returnDocument: 'after' })
    return doc === null ? null : toRecord(doc)
  }

  async setHandover (openid: string, handover: Handover): Promise<ConversationRecord | null> {
    const doc = await this.#conversations.findOneAndUpdate({ _id: openid }, { $set: { handover } }, { returnDocument: 'after' })
    return doc === null ? null : toRecord(doc)
  }

  async get (openid: string): Promise<ConversationRecord | null> {
    const doc = await this.#conversations.findOne({ _id: openid }, { maxTimeMS: this.#maxTimeMS })
    return doc === null ? null : toRecord(doc)
  }

  async list ({ view, agentId, status, limit, before }: ListQuery): Promise<ConversationRecord[]> {
    const filter: Filter<ConversationDoc> = { ...olderThan(before) }
    if (status !== undefined) filter.status = status
    if (view === 'mine') filter['assignee.agentId'] = agentId
    else if (view === 'unassigned') filter['assignee.agentId'] = null
    const docs = await this.#conversations.find(filter, { maxTimeMS: this.#maxTimeMS }).sort({ lastAt: -1, _id: -1 })
      // Never 0, which MongoDB reads as "no limit".
      .limit(Math.max(1, Math.min(limit, CONVERSATIONS_PAGE_MAX))).toArray()
    return docs.map(toRecord)
  }

  /** One atomic conditional update: of concurrent claims, the first matches and the others see it taken. */
  async #assign (openid: string, condition: Filter<ConversationDoc>, assignee: AgentRef | null): Promise<AssignResult> {
    const doc = await this.#conversations.findOneAndUpdate({ _id: openid, ...condition }, { $set: { assignee } }, { returnDocument: 'after' })
    if (doc !== null) return { outcome: 'ok', conversation: toRecord(doc) }
    const current = await this.#conversations.findOne({ _id: openid }, { maxTimeMS: this.#maxTimeMS })
    return current === null ? { outcome: 'missing' } : { outcome: 'claimed', conversation: toRecord(current) }
  }
}
