import type { Collection, Db } from 'mongodb'
import { DEFAULT_MONGO_OP_TIMEOUT_MS, ensureIndexes, type MongoRepositoryOptions, type Note } from '@weapp/common'
import { NOTES_PER_CONVERSATION_MAX, newNote, type NewNote, type NotesRepository } from './notes.js'

export const NOTES_COLLECTION = 'notes'
/** A conversation's notes, newest first: the only way they are read (and counted). */
export const NOTES_INDEX = 'openid_created_at'

/** _id is the note id; createdAt a Date (sorted and compared as one). */
type NoteDoc = Omit<Note, 'id' | 'createdAt'> & { _id: string, createdAt: Date }

function toNote (doc: NoteDoc): Note {
  return { id: doc._id, openid: doc.openid, author: { agentId: doc.author.agentId, displayName: doc.author.displayName }, text: doc.text, createdAt: doc.createdAt.toISOString() }
}

export class MongoNotesRepository implements NotesRepository {
  readonly #notes: Collection<NoteDoc>
  readonly #maxTimeMS: number

  constructor (db: Db, { opTimeoutMs = DEFAULT_MONGO_OP_TIMEOUT_MS }: MongoRepositoryOptions = {}) {
    this.#notes = db.collection<NoteDoc>(NOTES_COLLECTION)
    this.#maxTimeMS = opTimeoutMs
  }

  async ensureIndexes (): Promise<void> {
    await ensureIndexes(this.#notes, [{ key: { openid: 1, createdAt: -1 }, name: NOTES_INDEX }])
  }

  async add (input: NewNote): Promise<Note | 'limit'> {
    // The bound is checked, not locked: two agents writing the last note at once may pass it by one.
    const count = await this.#notes.countDocuments({ openid: input.openid }, { limit: NOTES_PER_CONVERSATION_MAX, maxTimeMS: this.#maxTimeMS })
    if (count >= NOTES_PER_CONVERSATION_MAX) return 'limit'
    const note = newNote(input)
    await this.#notes.insertOne({ _id: note.id, openid: note.openid, author: note.author, text: note.text, createdAt: new Date(note.createdAt) })
    return note
  }

  async list (openid: string, limit: number): Promise<Note[]> {
    const docs = await this.#notes.find({ openid }, { maxTimeMS: this.#maxTimeMS }).sort({ createdAt: -1, _id: -1 })
      // Never 0, which MongoDB reads as "no limit".
      .limit(Math.max(1, limit)).toArray()
    return docs.map(toNote)
  }
}
