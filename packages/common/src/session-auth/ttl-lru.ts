interface Entry<V> {
  value: V
  /** Epoch ms after which the entry is ignored. */
  deadline: number
  /** Value of the insertion counter when the entry was last (re)inserted. */
  stamp: number
}

/**
 * A bounded LRU map whose entries also expire. A Map keeps insertion order, so re-inserting on a hit
 * moves the key to the young end and the oldest key is the first one. A hit on an entry that is
 * still in the younger half is not moved (the usual approximation): hot keys cost one lookup.
 * Expired entries are dropped when met; the size bound keeps the rest in check.
 */
export class TtlLru<V> {
  readonly #map = new Map<string, Entry<V>>()
  readonly #max: number
  readonly #half: number
  #counter = 0

  constructor (max: number) {
    if (!Number.isInteger(max) || max < 1) throw new Error('TtlLru: max must be a positive integer')
    this.#max = max
    this.#half = max >> 1
  }

  get size (): number { return this.#map.size }

  get (key: string, now: number): V | undefined {
    const entry = this.#map.get(key)
    if (entry === undefined) return undefined
    if (entry.deadline <= now) {
      this.#map.delete(key)
      return undefined
    }
    if (this.#counter - entry.stamp >= this.#half) {
      this.#map.delete(key)
      entry.stamp = ++this.#counter
      this.#map.set(key, entry)
    }
    return entry.value
  }

  set (key: string, value: V, deadline: number): void {
    this.#map.delete(key)
    this.#map.set(key, { value, deadline, stamp: ++this.#counter })
    if (this.#map.size > this.#max) {
      const oldest = this.#map.keys().next()
      if (oldest.done !== true) this.#map.delete(oldest.value)
    }
  }

  delete (key: string): boolean {
    return this.#map.delete(key)
  }

  clear (): void {
    this.#map.clear()
  }
}
