import type { AgentRef, Conversation, WindowView } from '@weapp/common'
import type { ConversationCursor } from './types.js'

export type ConversationStatus = Conversation['status']
export type Handover = Conversation['handover']
export type LastMessage = Conversation['last']
export type ConversationView = 'mine' | 'unassigned' | 'all'

/** A conversation as stored: the contract's fields with Dates, and what the service keeps for itself. */
export interface ConversationRecord {
  openid: string
  status: ConversationStatus
  assignee: AgentRef | null
  lastAt: Date
  last: LastMessage
  /** The message log key of the last message (the admin API's list shows that message in full). */
  lastKey: string
  inboundCount: number
  readCounts: Record<string, number>
  handover: Handover
  window: WindowView | null
  /** The latest user interaction (a message, entering the session): typing is allowed for 30 s after it. */
  lastInteractionAt: Date | null
  /** The latest inbound keys counted (at most RECENT_KEYS_MAX): recording one of them again counts nothing. */
  recentKeys: string[]
}

/** Enough to recognise a redelivered message: one user's messages are processed in order. */
export const RECENT_KEYS_MAX = 32
/** A page holds at most this many conversations (the admin API's largest page; the console's is 100). */
export const CONVERSATIONS_PAGE_MAX = 200

export interface InboundUpdate {
  openid: string
  /** The message log key (the de-duplication key of the push). */
  key: string
  /** The message's CreateTime. */
  at: Date
  last: LastMessage
  /** The user acted (a message, entering the session), as opposed to another event. */
  interaction: boolean
  window: WindowView | null
}

export interface OutboundUpdate {
  openid: string
  key: string
  /** When the send was asked for. */
  at: Date
  last: LastMessage
  window: WindowView | null
}

export type AssignResult =
  | { outcome: 'ok', conversation: ConversationRecord }
  /** Someone else has it (the conversation as it stands). */
  | { outcome: 'claimed', conversation: ConversationRecord }
  | { outcome: 'missing' }

export interface ListQuery {
  view: ConversationView
  /** The caller: `mine` lists theirs. */
  agentId: string
  /** Undefined: both (the admin API's list). */
  status?: ConversationStatus | undefined
  limit: number
  before?: ConversationCursor | undefined
}

/**
 * One document per user (MongoDB `conversations`, or memory), kept up to date with every message in
 * and out, so the console lists conversations from it (by lastAt, then openid, both descending) and
 * never from the message log. Claims are atomic: of concurrent claims exactly one wins.
 */
export interface ConversationsRepository {
  /**
   * An inbound message: counted once per key (a redelivery changes nothing and `counted` is false),
   * becomes `last` unless a later message is (lastAt is the latest), reopens a resolved conversation.
   * Creates the conversation on the user's first message.
   */
  recordInbound (update: InboundUpdate): Promise<{ conversation: ConversationRecord, counted: boolean }>
  /** An outbound send: `last` and lastAt when it is the latest; creates the conversation if needed. */
  recordOutbound (update: OutboundUpdate): Promise<ConversationRecord>
  /** Every inbound message so far is read by this agent (unread = inboundCount - readCounts[agentId]). */
  markRead (openid: string, agentId: string): Promise<ConversationRecord | null>
  /** Assigns to `agent` when unassigned or already theirs; `force` takes it from anyone. */
  claim (openid: string, agent: AgentRef, options: { force: boolean }): Promise<AssignResult>
  /** Unassigns when it is `agentId`'s (or unassigned already); `force` releases anyone's. */
  release (openid: string, agentId: string, options: { force: boolean }): Promise<AssignResult>
  setStatus (openid: string, status: ConversationStatus): Promise<ConversationRecord | null>
  setHandover (openid: string, handover: Handover): Promise<ConversationRecord | null>
  get (openid: string): Promise<ConversationRecord | null>
  list (query: ListQuery): Promise<ConversationRecord[]>
}

/**
 * readCounts is keyed by agent id: a MongoDB field name, so no dots and no leading `$` (the session
 * service's ids are neither; this keeps a bad one from writing elsewhere in the document).
 */
export function checkAgentId (agentId: string): void {
  if (!/^[A-Za-z0-9_:-]{1,128}$/.test(agentId)) throw new Error('agent id unfit as a readCounts key')
}

/** The contract's shape (docs/console.md): ISO dates, without what the service keeps for itself. */
export function conversationView (r: ConversationRecord): Conversation {
  return {
    openid: r.openid,
    status: r.status,
    assignee: r.assignee === null ? null : { agentId: r.assignee.agentId, displayName: r.assignee.displayName },
    lastAt: r.lastAt.toISOString(),
    last: { direction: r.last.direction, msgType: r.last.msgType, preview: r.last.preview },
    inboundCount: r.inboundCount,
    readCounts: { ...r.readCounts },
    handover: r.handover,
    window: r.window === null ? null : { ...r.window }
  }
}

/** Most recent first: lastAt descending, then openid descending (the MongoDB sort). */
export function mostRecentFirst (a: ConversationRecord, b: ConversationRecord): number {
  return b.lastAt.getTime() - a.lastAt.getTime() || (a.openid < b.openid ? 1 : a.openid > b.openid ? -1 : 0)
}

function olderThan (r: ConversationRecord, before: ConversationCursor | undefined): boolean {
  if (before === undefined) return true
  const t = r.lastAt.getTime()
  const c = before.lastAt.getTime()
  return t < c || (t === c && r.openid < before.openid)
}

function matches (r: ConversationRecord, { view, agentId, status }: ListQuery): boolean {
  if (status !== undefined && r.status !== status) return false
  if (view === 'mine') return r.assignee?.agentId === agentId
  if (view === 'unassigned') return r.assignee === null
  return true
}

const copy = <T>(value: T): T => structuredClone(value)

function fresh (openid: string, at: Date, key: string, last: LastMessage): ConversationRecord {
  return {
    openid,
    status: 'open',
    assignee: null,
    lastAt: at,
    last,
    lastKey: key,
    inboundCount: 0,
    readCounts: {},
    handover: 'none',
    window: null,
    lastInteractionAt: null,
    recentKeys: []
  }
}

export interface MemoryConversationsOptions {
  /** A conversation whose last message is older than this is deleted, as its messages are (MESSAGE_RETENTION_DAYS). */
  retentionMs?: number
  now?: () => Date
}

/** Expired conversations are looked for at most this often, on writes. */
const SWEEP_INTERVAL_MS = 60_000

/** The conversations in process memory: the embedded default when MONGO_URL is unset. */
export class MemoryConversationsRepository implements ConversationsRepository {
  readonly #byOpenid = new Map<string, ConversationRecord>()
  readonly #retentionMs: number
  readonly #now: () => Date
  #lastSweep = -Infinity

  constructor ({ retentionMs = Infinity, now = () => new Date() }: MemoryConversationsOptions = {}) {
    this.#retentionMs = retentionMs
    this.#now = now
  }

  /** Deletes the conversations whose last message is past the retention (MongoDB's TTL index on lastAt). */
  #sweep (): void {
    if (this.#retentionMs === Infinity) return
    const now = this.#now().getTime()
    if (now - this.#lastSweep < SWEEP_INTERVAL_MS) return
    this.#lastSweep = now
    for (const [openid, r] of this.#byOpenid) if (r.lastAt.getTime() < now - this.#retentionMs) this.#byOpenid.delete(openid)
  }

  async recordInbound ({ openid, key, at, last, interaction, window }: InboundUpdate): Promise<{ conversation: ConversationRecord, counted: boolean }> {
    this.#sweep()
    const existing = this.#byOpenid.get(openid)
    if (existing?.recentKeys.includes(key) === true) return { conversation: copy(existing), counted: false }
    const r = existing ?? fresh(openid, at, key, last)
    this.#byOpenid.set(openid, r)
    if (at.getTime() >= r.lastAt.getTime()) Object.assign(r, { lastAt: new Date(at), last: { ...last }, lastKey: key })
    r.inboundCount++
    r.status = 'open'
    r.window = window === null ? null : { ...window }
    if (interaction && (r.lastInteractionAt === null || at > r.lastInteractionAt)) r.lastInteractionAt = new Date(at)
    r.recentKeys = [...r.recentKeys, key].slice(-RECENT_KEYS_MAX)
    return { conversation: copy(r), counted: true }
  }

  async recordOutbound ({ openid, key, at, last, window }: OutboundUpdate): Promise<ConversationRecord> {
    this.#sweep()
    const r = this.#byOpenid.get(openid) ?? fresh(openid, at, key, last)
    this.#byOpenid.set(openid, r)
    if (at.getTime() >= r.lastAt.getTime()) Object.assign(r, { lastAt: new Date(at), last: { ...last }, lastKey: key })
    r.window = window === null ? null : { ...window }
    return copy(r)
  }

  async markRead (openid: string, agentId: string): Promise<ConversationRecord | null> {
    checkAgentId(agentId)
    const r = this.#byOpenid.get(openid)
    if (r === undefined) return null
    r.readCounts[agentId] = Math.max(r.readCounts[agentId] ?? 0, r.inboundCount)
    return copy(r)
  }

  async claim (openid: string, agent: AgentRef, { force }: { force: boolean }): Promise<AssignResult> {
    const r = this.#byOpenid.get(openid)
    if (r === undefined) return { outcome: 'missing' }
    if (!force && r.assignee !== null && r.assignee.agentId !== agent.agentId) return { outcome: 'claimed', conversation: copy(r) }
    r.assignee = { agentId: agent.agentId, displayName: agent.displayName }
    return { outcome: 'ok', conversation: copy(r) }
  }

  async release (openid: string, agentId: string, { force }: { force: boolean }): Promise<AssignResult> {
    const r = this.#byOpenid.get(openid)
    if (r === undefined) return { outcome: 'missing' }
    if (!force && r.assignee !== null && r.assignee.agentId !== agentId) return { outcome: 'claimed', conversation: copy(r) }
    r.assignee = null
    return { outcome: 'ok', conversation: copy(r) }
  }

  async setStatus (openid: string, status: ConversationStatus): Promise<ConversationRecord | null> {
    const r = this.#byOpenid.get(openid)
    if (r === undefined) return null
    r.status = status
    return copy(r)
  }

  async setHandover (openid: string, handover: Handover): Promise<ConversationRecord | null> {
    const r = this.#byOpenid.get(openid)
    if (r === undefined) return null
    r.handover = handover
    return copy(r)
  }

  async get (openid: string): Promise<ConversationRecord | null> {
    const r = this.#byOpenid.get(openid)
    return r === undefined ? null : copy(r)
  }

  async list (query: ListQuery): Promise<ConversationRecord[]> {
    // One pass keeping only the page, in order: sorting every match took ~10–20 ms at 10,000 conversations.
    const limit = Math.max(1, Math.min(query.limit, CONVERSATIONS_PAGE_MAX))
    const page: ConversationRecord[] = []
    for (const r of this.#byOpenid.values()) {
      if (!matches(r, query) || !olderThan(r, query.before)) continue
      if (page.length === limit && mostRecentFirst(r, page[limit - 1]!) > 0) continue
      let lo = 0
      let hi = page.length
      while (lo < hi) {
        const mid = (lo + hi) >>> 1
        if (mostRecentFirst(page[mid]!, r) < 0) lo = mid + 1
        else hi = mid
      }
      page.splice(lo, 0, r)
      if (page.length > limit) page.pop()
    }
    return page.map(copy)
  }
}
