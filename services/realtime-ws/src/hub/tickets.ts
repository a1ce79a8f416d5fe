import { createHash, randomBytes } from 'node:crypto'
import type { Redis } from 'ioredis'
import type { Identity } from '@weapp/common'

/** What a ticket opens: the JSON socket (/ws) or a wafer tunnel (with its id). */
export type TicketGrant =
  | { purpose: 'ws', identity: Identity }
  | { purpose: 'tunnel', identity: Identity, tunnelId: string }

/** Short-lived single-use connection tickets. Only a hash of the ticket is stored. */
export interface TicketStore {
  /** Returns the ticket (256 random bits, base64url). */
  issue (grant: TicketGrant, ttlMs: number): Promise<string>
  /** The grant, exactly once; null when unknown, used or expired. */
  consume (ticket: string): Promise<TicketGrant | null>
  close (): Promise<void>
}

export const TICKET_PATTERN = /^[A-Za-z0-9_-]{43}$/

function newTicket (): string { return randomBytes(32).toString('base64url') }
export function ticketHash (ticket: string): string { return createHash('sha256').update(ticket).digest('hex') }

const SWEEP_EVERY = 256

/** Embedded default (no REDIS_URL): tickets live in this process only. */
export class MemoryTicketStore implements TicketStore {
  readonly #tickets = new Map<string, { grant: TicketGrant, expiresAt: number }>()
  readonly #now: () => number
  #issued = 0

  constructor (now: () => number = Date.now) { this.#now = now }

  async issue (grant: TicketGrant, ttlMs: number): Promise<string> {
    if (++this.#issued % SWEEP_EVERY === 0) this.#sweep()
    const ticket = newTicket()
    this.#tickets.set(ticketHash(ticket), { grant, expiresAt: this.#now() + ttlMs })
    return ticket
  }

  async consume (ticket: string): Promise<TicketGrant | null> {
    if (!TICKET_PATTERN.test(ticket)) return null
    const key = ticketHash(ticket)
    const entry = this.#tickets.get(key)
    if (entry === undefined) return null
    this.#tickets.delete(key)
    return entry.expiresAt > this.#now() ? entry.grant : null
  }

  get size (): number { return this.#tickets.size }

  #sweep (): void {
    const now = this.#now()
    for (const [key, entry] of this.#tickets) if (entry.expiresAt <= now) this.#tickets.delete(key)
  }

  async close (): Promise<void> { this.#tickets.clear() }
}

/** Shared by every instance: SET PX to issue, GETDEL to consume atomically (Redis ≥ 6.2). */
export class RedisTicketStore implements TicketStore {
  readonly #redis: Redis
  readonly #prefix: string

  constructor (redis: Redis, prefix = 'ws:ticket:') {
    this.#redis = redis
    this.#prefix = prefix
  }

  async issue (grant: TicketGrant, ttlMs: number): Promise<string> {
    const ticket = newTicket()
    await this.#redis.set(this.#prefix + ticketHash(ticket), JSON.stringify(grant), 'PX', ttlMs)
    return ticket
  }

  async consume (ticket: string): Promise<TicketGrant | null> {
    if (!TICKET_PATTERN.test(ticket)) return null
    const value = await this.#redis.getdel(this.#prefix + ticketHash(ticket))
    if (value === null) return null
    try { return JSON.parse(value) as TicketGrant } catch { return null }
  }

  /** The Redis client belongs to whoever created it. */
  async close (): Promise<void> {}
}
