import type { Collection, Db } from 'mongodb'
import { MongoServerError } from 'mongodb'
import { DEFAULT_MONGO_OP_TIMEOUT_MS, ensureIndexes, type MongoRepositoryOptions } from '@weapp/common'
import type { AgentPatch, AgentRecord, AgentSessionRecord, AgentSessionsRepository, AgentsRepository } from './agents.js'

export const AGENTS_COLLECTION = 'agents'
export const AGENT_SESSIONS_COLLECTION = 'agent_sessions'

/** _id is the agent id; the unique index on login makes a taken login a duplicate-key error. */
type AgentDoc = Omit<AgentRecord, 'id'> & { _id: string }
/** _id is the session id; the TTL index on absoluteExpiresAt drops sessions at the end of their life. */
type AgentSessionDoc = Omit<AgentSessionRecord, 'id'> & { _id: string }

/** MongoDB reads limit(0) as "no limit": a page is never asked for with less than one. */
const positiveLimit = (limit: number): number => Math.max(1, Math.floor(limit))

const isDuplicateKey = (err: unknown): boolean => err instanceof MongoServerError && err.code === 11000

function toAgent (doc: AgentDoc): AgentRecord {
  const agent: AgentRecord = {
    id: doc._id,
    login: doc.login,
    displayName: doc.displayName,
    role: doc.role,
    disabled: doc.disabled,
    passwordHash: doc.passwordHash,
    createdAt: doc.createdAt
  }
  if (doc.lastLoginAt != null) agent.lastLoginAt = doc.lastLoginAt
  return agent
}

function toSession (doc: AgentSessionDoc): AgentSessionRecord {
  return {
    id: doc._id,
    tokenHash: doc.tokenHash,
    agentId: doc.agentId,
    csrfToken: doc.csrfToken,
    createdAt: doc.createdAt,
    idleExpiresAt: doc.idleExpiresAt,
    absoluteExpiresAt: doc.absoluteExpiresAt
  }
}

export class MongoAgentsRepository implements AgentsRepository {
  readonly #agents: Collection<AgentDoc>
  /** A read the server has not finished in MONGO_OP_TIMEOUT_MS is stopped. */
  readonly #maxTimeMS: number

  constructor (db: Db, { opTimeoutMs = DEFAULT_MONGO_OP_TIMEOUT_MS }: MongoRepositoryOptions = {}) {
    this.#agents = db.collection<AgentDoc>(AGENTS_COLLECTION)
    this.#maxTimeMS = opTimeoutMs
  }

  async ensureIndexes (): Promise<void> {
    await ensureIndexes(this.#agents, [{ key: { login: 1 }, unique: true, name: 'login_unique' }])
  }

  async create (agent: AgentRecord): Promise<boolean> {
    const { id, ...rest } = agent
    const doc: AgentDoc = { _id: id, ...rest }
    if (doc.lastLoginAt === undefined) delete doc.lastLoginAt
    try {
      await this.#agents.insertOne(doc)
      return true
    } catch (err) {
      if (isDuplicateKey(err) && (await this.#agents.countDocuments({ login: agent.login }, { limit: 1, maxTimeMS: this.#maxTimeMS })) > 0) return false
      throw err
    }
  }

  async findById (id: string): Promise<AgentRecord | null> {
    const doc = await this.#agents.findOne({ _id: id }, { maxTimeMS: this.#maxTimeMS })
    return doc === null ? null : toAgent(doc)
  }

  async findByLogin (login: string): Promise<AgentRecord | null> {
    const doc = await this.#agents.findOne({ login }, { maxTimeMS: this.#maxTimeMS })
    return doc === null ? null : toAgent(doc)
  }

  async list (limit: number): Promise<AgentRecord[]> {
    const docs = await this.#agents.find({}, { maxTimeMS: this.#maxTimeMS }).sort({ login: 1 }).limit(positiveLimit(limit)).toArray()
    return docs.map(toAgent)
  }

  async count (): Promise<number> {
    return await this.#agents.countDocuments({}, { maxTimeMS: this.#maxTimeMS })
  }

  async countEnabledAdmins (): Promise<number> {
    return await this.#agents.countDocuments({ role: 'admin', disabled: false }, { maxTimeMS: this.#maxTimeMS })
  }

  async update (id: string, patch: AgentPatch): Promise<AgentRecord | null> {
    const set: Partial<AgentDoc> = {}
    if (patch.displayName !== undefined) set.displayName = patch.displayName
    if (patch.role !== undefined) set.role = patch.role
    if (patch.disabled !== undefined) set.disabled = patch.disabled
    if (patch.passwordHash !== undefined) set.passwordHash = patch.passwordHash
    if (patch.lastLoginAt !== undefined) set.lastLoginAt = patch.lastLoginAt
    if (Object.keys(set).length === 0) return await this.findById(id)
    const doc = await this.#agents.findOneAndUpdate({ _id: id }, { $set: set }, { returnDocument: 'after', maxTimeMS: this.#maxTimeMS })
    return doc === null ? null : toAgent(doc)
  }
}

export class MongoAgentSessionsRepository implements AgentSessionsRepository {
  readonly #sessions: Collection<AgentSessionDoc>
  readonly #maxTimeMS: number

  constructor (db: Db, { opTimeoutMs = DEFAULT_MONGO_OP_TIMEOUT_MS }: MongoRepositoryOptions = {}) {
    this.#sessions = db.collection<AgentSessionDoc>(AGENT_SESSIONS_COLLECTION)
    this.#maxTimeMS = opTimeoutMs
  }

  async ensureIndexes (): Promise<void> {
    await ensureIndexes(this.#sessions, [
      { key: { tokenHash: 1 }, unique: true, name: 'token_hash_unique' },
      { key: { agentId: 1 }, name: 'agent_id' },
      // An idle-expired session is deleted when it is next presented; this drops the rest at their hard end.
      { key: { absoluteExpiresAt: 1 }, expireAfterSeconds: 0, name: 'absolute_expires_at_ttl' }
    ])
  }

  async create (session: AgentSessionRecord): Promise<void> {
    const { id, ...rest } = session
    await this.#sessions.insertOne({ _id: id, ...rest })
  }

  async findByTokenHash (tokenHash: string): Promise<AgentSessionRecord | null> {
    const doc = await this.#sessions.findOne({ tokenHash }, { maxTimeMS: this.#maxTimeMS })
    return doc === null ? null : toSession(doc)
  }

  async findById (id: string): Promise<AgentSessionRecord | null> {
    const doc = await this.#sessions.findOne({ _id: id }, { maxTimeMS: this.#maxTimeMS })
    return doc === null ? null : toSession(doc)
  }

  async touch (id: string, idleExpiresAt: Date): Promise<void> {
    await this.#sessions.updateOne({ _id: id }, { $set: { idleExpiresAt } })
  }

  async delete (id: string): Promise<AgentSessionRecord | null> {
    const doc = await this.#sessions.findOneAndDelete({ _id: id }, { maxTimeMS: this.#maxTimeMS })
    return doc === null ? null : toSession(doc)
  }

  async deleteByAgent (agentId: string, exceptId?: string): Promise<AgentSessionRecord[]> {
    const filter = exceptId === undefined ? { agentId } : { agentId, _id: { $ne: exceptId } }
    return await this.#deleteFound(await this.#sessions.find(filter, { maxTimeMS: this.#maxTimeMS }).toArray())
  }

  async trimAgent (agentId: string, keep: number): Promise<AgentSessionRecord[]> {
    const docs = await this.#sessions.find({ agentId }, { maxTimeMS: this.#maxTimeMS }).sort({ createdAt: -1, _id: -1 }).skip(keep).toArray()
    return await this.#deleteFound(docs)
  }

  /** Deletes what was found (by id, so a session created meanwhile stays) and returns it. */
  async #deleteFound (docs: AgentSessionDoc[]): Promise<AgentSessionRecord[]> {
    if (docs.length === 0) return []
    await this.#sessions.deleteMany({ _id: { $in: docs.map((d) => d._id) } })
    return docs.map(toSession)
  }
}
