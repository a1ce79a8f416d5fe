import { randomUUID } from 'node:crypto'
import type { CannedReply } from '@weapp/common'

/** Canned replies in all: the console loads them all at once for its `/shortcut` menu. */
export const CANNED_REPLIES_MAX = 500

/** A saved reply an agent inserts by typing `/shortcut` in the reply box. */
export type { CannedReply }

export type NewCannedReply = Omit<CannedReply, 'id'>

/** The canned replies (MongoDB `canned_replies`, or memory), listed by shortcut. */
export interface CannedRepliesRepository {
  /** 'duplicate' when the shortcut is taken, 'limit' when CANNED_REPLIES_MAX are stored already. */
  add (reply: NewCannedReply): Promise<CannedReply | 'duplicate' | 'limit'>
  list (): Promise<CannedReply[]>
  /** false when there is no such reply. */
  remove (id: string): Promise<boolean>
}

export const byShortcut = (a: CannedReply, b: CannedReply): number => a.shortcut < b.shortcut ? -1 : a.shortcut > b.shortcut ? 1 : 0

/** The canned replies in process memory: the embedded default when MONGO_URL is unset. */
export class MemoryCannedRepliesRepository implements CannedRepliesRepository {
  readonly #byId = new Map<string, CannedReply>()

  async add ({ shortcut, text }: NewCannedReply): Promise<CannedReply | 'duplicate' | 'limit'> {
    if (this.#byId.size >= CANNED_REPLIES_MAX) return 'limit'
    if ([...this.#byId.values()].some((r) => r.shortcut === shortcut)) return 'duplicate'
    const reply = { id: randomUUID(), shortcut, text }
    this.#byId.set(reply.id, reply)
    return { ...reply }
  }

  async list (): Promise<CannedReply[]> {
    return [...this.#byId.values()].map((r) => ({ ...r })).sort(byShortcut)
  }

  async remove (id: string): Promise<boolean> {
    return this.#byId.delete(id)
  }
}
