import type {
  InboundRecord, MessageCursor, MessageRecord, MessagesRepository, NewInboundRecord,
  NewOutboundRecord, OutboundCompletion, OutboundRecord, StepName, StepState
} from './types.js'
import { MessageKeyExistsError } from './duplicate-key.js'
import { decodePayload, encodePayload } from './payload.js'

const copy = <T>(value: T): T => structuredClone(value)

/** Newest first: createdAt descending, then key descending (the MongoDB sort). */
function newestFirst (a: MessageRecord, b: MessageRecord): number {
  return b.createdAt.getTime() - a.createdAt.getTime() || (a.key < b.key ? 1 : a.key > b.key ? -1 : 0)
}

function olderThan (r: MessageRecord, before: MessageCursor | Date | undefined): boolean {
  if (before === undefined) return true
  if (before instanceof Date) return r.createdAt < before
  const t = r.createdAt.getTime()
  const c = before.createdAt.getTime()
  return t < c || (t === c && r.key < before.key)
}

/** The payload as MongoDB gives it back: through the same JSON text (payload.ts), so both stores agree on every key and value. */
const asStored = (message: MessageRecord['message']): MessageRecord['message'] => decodePayload(encodePayload(message))

export interface MemoryMessagesOptions {
  /** Records whose createdAt is older than this are deleted (MESSAGE_RETENTION_DAYS); default: never. */
  retentionMs?: number
  now?: () => Date
}

/** Expired records are looked for at most this often, on writes. */
const SWEEP_INTERVAL_MS = 60_000

/** The message log in process memory: the embedded default when MONGO_URL is unset. */
export class MemoryMessagesRepository implements MessagesRepository {
  readonly #byKey = new Map<string, MessageRecord>()
  /** Each user's records (the MongoDB `{openid, createdAt}` index): a page reads one user's, not the whole log. */
  readonly #byOpenid = new Map<string, Set<MessageRecord>>()
  readonly #retentionMs: number
  readonly #now: () => Date
  #lastSweep = -Infinity

  constructor ({ retentionMs = Infinity, now = () => new Date() }: MemoryMessagesOptions = {}) {
    this.#retentionMs = retentionMs
    this.#now = now
  }

  /** Deletes the records older than the retention (as MongoDB's TTL index does); returns how many. */
  expire (): number {
    const cutoff = this.#now().getTime() - this.#retentionMs
    let removed = 0
    for (const r of this.#byKey.values()) {
      if (r.createdAt.getTime() >= cutoff) continue
      this.#remove(r)
      removed++
    }
    return removed
  }

  /** Writes sweep now and then, so the log never holds much more than the retention. */
  #sweep (): void {
    if (this.#retentionMs === Infinity) return
    const now = this.#now().getTime()
    if (now - this.#lastSweep < SWEEP_INTERVAL_MS) return
    this.#lastSweep = now
    this.expire()
  }

  async insertInbound (record: NewInboundRecord): Promise<'inserted' | 'exists'> {
    this.#sweep()
    if (this.#byKey.has(record.key)) return 'exists'
    this.#add({ ...copy(record), message: asStored(record.message) as InboundRecord['message'], direction: 'in', steps: {} })
    return 'inserted'
  }

  async findByKey (key: string): Promise<InboundRecord | null> {
    const record = this.#inbound(key)
    return record === undefined ? null : copy(record)
  }

  async claimStep (key: string, step: StepName, at: Date, staleBefore?: Date): Promise<boolean> {
    const record = this.#inbound(key)
    if (record === undefined) return false
    const current = record.steps[step]
    const stale = current?.status === 'claimed' && staleBefore !== undefined && current.at < staleBefore
    if (current !== undefined && !stale) return false
    record.steps[step] = { status: 'claimed', at: new Date(at) }
    return true
  }

  async completeStep (key: string, step: StepName, state: StepState): Promise<void> {
    const record = this.#inbound(key)
    if (record !== undefined) record.steps[step] = copy(state)
  }

  async releaseStep (key: string, step: StepName): Promise<void> {
    const record = this.#inbound(key)
    if (record !== undefined) delete record.steps[step]
  }

  async insertOutbound (record: NewOutboundRecord): Promise<void> {
    this.#sweep()
    if (this.#byKey.has(record.key)) throw new MessageKeyExistsError(record.key)
    this.#add({ ...copy(record), message: asStored(record.message) as OutboundRecord['message'], direction: 'out' })
  }

  async completeOutbound (key: string, completion: OutboundCompletion): Promise<void> {
    const record = this.#byKey.get(key)
    if (record?.direction !== 'out') return
    record.outcome = completion.outcome
    record.completedAt = new Date(completion.at)
    if (completion.errcode !== undefined) record.errcode = completion.errcode
    if (completion.errorCode !== undefined) record.errorCode = completion.errorCode
  }

  async findOutbound (key: string): Promise<OutboundRecord | null> {
    const record = this.#byKey.get(key)
    return record?.direction === 'out' ? copy(record) : null
  }

  async listConversation (openid: string, { limit, before }: { limit: number, before?: MessageCursor | Date | undefined }): Promise<MessageRecord[]> {
    return [...this.#byOpenid.get(openid) ?? []]
      .filter((r) => olderThan(r, before))
      .sort(newestFirst)
      .slice(0, Math.max(1, Math.floor(limit)))
      .map(copy)
  }

  async findMany (keys: string[]): Promise<MessageRecord[]> {
    return keys.flatMap((key) => {
      const record = this.#byKey.get(key)
      return record === undefined ? [] : [copy(record)]
    })
  }

  /** How many messages are held (tests). */
  get size (): number { return this.#byKey.size }

  /** Records of one direction (tests count stored messages apart from the replies). */
  count (direction: 'in' | 'out'): number {
    let n = 0
    for (const r of this.#byKey.values()) if (r.direction === direction) n++
    return n
  }

  #add (record: MessageRecord): void {
    this.#byKey.set(record.key, record)
    let mine = this.#byOpenid.get(record.openid)
    if (mine === undefined) this.#byOpenid.set(record.openid, mine = new Set())
    mine.add(record)
  }

  #remove (record: MessageRecord): void {
    this.#byKey.delete(record.key)
    const mine = this.#byOpenid.get(record.openid)
    mine?.delete(record)
    if (mine?.size === 0) this.#byOpenid.delete(record.openid)
  }

  #inbound (key: string): InboundRecord | undefined {
    const record = this.#byKey.get(key)
    return record?.direction === 'in' ? record : undefined
  }
}
