import { randomUUID } from 'node:crypto'
import type { AgentRef, Note } from '@weapp/common'

/** Notes kept per conversation: a note is a few lines for colleagues, not a log. */
export const NOTES_PER_CONVERSATION_MAX = 1000

export interface NewNote {
  openid: string
  author: AgentRef
  text: string
  createdAt: Date
}

/**
 * Internal notes on a conversation (MongoDB `notes`, or memory): written by agents, shown in the console,
 * never sent to WeChat. Listed newest first (createdAt, then id, both descending).
 */
export interface NotesRepository {
  /** The stored note; 'limit' when the conversation has NOTES_PER_CONVERSATION_MAX notes already. */
  add (note: NewNote): Promise<Note | 'limit'>
  list (openid: string, limit: number): Promise<Note[]>
}

export function newNote ({ openid, author, text, createdAt }: NewNote): Note {
  return { id: randomUUID(), openid, author: { agentId: author.agentId, displayName: author.displayName }, text, createdAt: createdAt.toISOString() }
}

/** Newest first: createdAt descending, then id descending (the MongoDB sort). */
export function newestFirst (a: Note, b: Note): number {
  return b.createdAt.localeCompare(a.createdAt) || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0)
}

/** The notes in process memory: the embedded default when MONGO_URL is unset. */
export class MemoryNotesRepository implements NotesRepository {
  readonly #byOpenid = new Map<string, Note[]>()

  async add (input: NewNote): Promise<Note | 'limit'> {
    const notes = this.#byOpenid.get(input.openid) ?? []
    if (notes.length >= NOTES_PER_CONVERSATION_MAX) return 'limit'
    const note = newNote(input)
    notes.push(note)
    this.#byOpenid.set(input.openid, notes)
    return structuredClone(note)
  }

  async list (openid: string, limit: number): Promise<Note[]> {
    return structuredClone([...this.#byOpenid.get(openid) ?? []].sort(newestFirst).slice(0, Math.max(1, limit)))
  }
}
