import { randomUUID } from 'node:crypto'
import type { Collection, Db } from 'mongodb'
import { DEFAULT_MONGO_OP_TIMEOUT_MS, type MongoRepositoryOptions } from '@weapp/common'
import { CARD_TEMPLATES_MAX, byName, pick, type CardTemplate, type CardTemplatesRepository, type NewCardTemplate } from './card-templates.js'

export const CARD_TEMPLATES_COLLECTION = 'card_templates'

type CardTemplateDoc = Omit<CardTemplate, 'id'> & { _id: string }

export class MongoCardTemplatesRepository implements CardTemplatesRepository {
  readonly #templates: Collection<CardTemplateDoc>
  readonly #maxTimeMS: number

  constructor (db: Db, { opTimeoutMs = DEFAULT_MONGO_OP_TIMEOUT_MS }: MongoRepositoryOptions = {}) {
    this.#templates = db.collection<CardTemplateDoc>(CARD_TEMPLATES_COLLECTION)
    this.#maxTimeMS = opTimeoutMs
  }

  async add (input: NewCardTemplate): Promise<CardTemplate | 'limit'> {
    // The bound is checked, not locked: two saves racing for the last place may pass it by one.
    if (await this.#templates.countDocuments({}, { limit: CARD_TEMPLATES_MAX, maxTimeMS: this.#maxTimeMS }) >= CARD_TEMPLATES_MAX) return 'limit'
    const template = { id: randomUUID(), ...pick(input) }
    const { id, ...fields } = template
    await this.#templates.insertOne({ _id: id, ...fields })
    return template
  }

  async list (): Promise<CardTemplate[]> {
    // At most CARD_TEMPLATES_MAX (+ a race or two) documents: sorted here, by the same rule as memory.
    const docs = await this.#templates.find({}, { maxTimeMS: this.#maxTimeMS }).limit(CARD_TEMPLATES_MAX + 10).toArray()
    return docs.map(({ _id, ...fields }) => ({ id: _id, ...pick(fields) })).sort(byName)
  }

  async remove (id: string): Promise<boolean> {
    return (await this.#templates.deleteOne({ _id: id })).deletedCount === 1
  }
}
