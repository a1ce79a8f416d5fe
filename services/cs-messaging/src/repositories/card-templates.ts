import { randomUUID } from 'node:crypto'
import type { CardTemplate } from '@weapp/common'

/** Card templates in all: the console loads them all at once. */
export const CARD_TEMPLATES_MAX = 200

// A saved card (contract: @weapp/common). `thumbMediaId` names an image of the console media cache
// (src/outbound/media-cache.ts), which keeps the bytes: a thumbnail WeChat forgot is uploaded again.
export type { CardTemplate }

export type NewCardTemplate = Omit<CardTemplate, 'id'>

/** The card templates (MongoDB `card_templates`, or memory), listed by name. */
export interface CardTemplatesRepository {
  /** 'limit' when CARD_TEMPLATES_MAX are stored already. */
  add (template: NewCardTemplate): Promise<CardTemplate | 'limit'>
  list (): Promise<CardTemplate[]>
  /** false when there is no such template. */
  remove (id: string): Promise<boolean>
}

export const byName = (a: CardTemplate, b: CardTemplate): number => a.name.localeCompare(b.name) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)

/** The card templates in process memory: the embedded default when MONGO_URL is unset. */
export class MemoryCardTemplatesRepository implements CardTemplatesRepository {
  readonly #byId = new Map<string, CardTemplate>()

  async add (input: NewCardTemplate): Promise<CardTemplate | 'limit'> {
    if (this.#byId.size >= CARD_TEMPLATES_MAX) return 'limit'
    const template = { id: randomUUID(), ...pick(input) }
    this.#byId.set(template.id, template)
    return { ...template }
  }

  async list (): Promise<CardTemplate[]> {
    return [...this.#byId.values()].map((r) => ({ ...r })).sort(byName)
  }

  async remove (id: string): Promise<boolean> {
    return this.#byId.delete(id)
  }
}

/** Only the template's own fields are stored. */
export function pick ({ name, title, pagepath, thumbMediaId }: NewCardTemplate): NewCardTemplate {
  return { name, title, pagepath, thumbMediaId }
}
