import type { InboundRecord, MessagesRepository, NewInboundRecord, StepName, StepState } from './types.js'

const copy = <T>(value: T): T => structuredClone(value)

/** The message log in process memory: the embedded default when MONGO_URL is unset. */
export class MemoryMessagesRepository implements MessagesRepository {
  readonly #byKey = new Map<string, InboundRecord>()

  async insertInbound (record: NewInboundRecord): Promise<'inserted' | 'exists'> {
    if (this.#byKey.has(record.key)) return 'exists'
    this.#byKey.set(record.key, { ...copy(record), direction: 'in', steps: {} })
    return 'inserted'
  }

  async findByKey (key: string): Promise<InboundRecord | null> {
    const record = this.#byKey.get(key)
    return record === undefined ? null : copy(record)
  }

  async claimStep (key: string, step: StepName, at: Date, staleBefore?: Date): Promise<boolean> {
    const record = this.#byKey.get(key)
    if (record === undefined) return false
    const current = record.steps[step]
    const stale = current?.status === 'claimed' && staleBefore !== undefined && current.at < staleBefore
    if (current !== undefined && !stale) return false
    record.steps[step] = { status: 'claimed', at: new Date(at) }
    return true
  }

  async completeStep (key: string, step: StepName, state: StepState): Promise<void> {
    const record = this.#byKey.get(key)
    if (record !== undefined) record.steps[step] = copy(state)
  }

  async releaseStep (key: string, step: StepName): Promise<void> {
    const record = this.#byKey.get(key)
    if (record !== undefined) delete record.steps[step]
  }

  async listConversation (openid: string, { limit, before }: { limit: number, before?: Date | undefined }): Promise<InboundRecord[]> {
    return [...this.#byKey.values()]
      .filter((r) => r.openid === openid && (before === undefined || r.createdAt < before))
      .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.key < b.key ? 1 : -1))
      .slice(0, limit)
      .map(copy)
  }

  /** How many messages are held (tests). */
  get size (): number { return this.#byKey.size }
}
