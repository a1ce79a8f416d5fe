import { createHash, randomBytes } from 'node:crypto'
import type { Identity, RedisClient } from '@weapp/common'
import { WsTicketStoreUnavailableError } from '../errors.js'

/** What a ticket opens: the JSON socket (/ws) or a wafer tunnel (with its id). */
export type TicketGrant =
  | { purpose: 'ws', identity: Identity }
  | { purpose: 'tunnel', identity: Identity, tunnelId: string }

/** Short-lived single-use connection tickets. Only a hash of the ticket is stored. */
export interface TicketStore {
  /** Returns the ticket (256 random bits, base64url). */
  issue (grant: TicketGrant, ttlMs: number): Promise<string>
  /** The grant, exactly once; null when unknown, used, expired or of a revoked session. */
  consume (ticket: string): Promise<TicketGrant | null>
  /** The session was logged out: its unused tickets open nothing any more (for retainMs, longer than a ticket lives). */
  revokeSession (sessionId: string, retainMs: number): Promise<void>
  close (): Promise<void>
}

const sessionOf = (grant: TicketGrant): string | null => grant.identity.kind === 'admin' ? null : grant.identity.sessionId

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

  /** One process: the session's tickets are simply deleted (the route refuses new ones for it). */
  async revokeSession (sessionId: string): Promise<void> {
    for (const [key, entry] of this.#tickets) if (sessionOf(entry.grant) === sessionId) this.#tickets.delete(key)
  }

  get size (): number { return this.#tickets.size }

  #sweep (): void {
    const now = this.#now()
    for (const [key, entry] of this.#tickets) if (entry.expiresAt <= now) this.#tickets.delete(key)
  }

  async close (): Promise<void> { this.#tickets.clear() }
}

/** A Redis failure (down, or no answer within REDIS_COMMAND_TIMEOUT_MS) is a 503, not a hung request. */
async function unavailableOnError<T> (command: Promise<T>): Promise<T> {
  try { return await command } catch (err) { throw Object.assign(new WsTicketStoreUnavailableError(), { cause: err }) }
}

/**
 * Shared by every instance: SET PX to issue, GETDEL to consume atomically (Redis ≥ 6.2). A logout leaves
 * `ws:revoked:<sessionId>` (written by every instance that heard it, idempotent) for longer than a ticket
 * lives; a user ticket is honoured only when its session has no such mark, so an instance that missed
 * the event (or started after it) refuses it too.
 */
export class RedisTicketStore implements TicketStore {
  readonly #redis: RedisClient
  readonly #prefix: string
  readonly #revokedPrefix: string

  constructor (redis: RedisClient, prefix = 'ws:ticket:', revokedPrefix = 'ws:revoked:') {
    this.#redis = redis
    this.#prefix = prefix
    this.#revokedPrefix = revokedPrefix
  }

  async issue (grant: TicketGrant, ttlMs: number): Promise<string> {
    const ticket = newTicket()
    await unavailableOnError(this.#redis.set(this.#prefix + ticketHash(ticket), JSON.stringify(grant), 'PX', ttlMs))
    return ticket
  }

  async consume (ticket: string): Promise<TicketGrant | null> {
    if (!TICKET_PATTERN.test(ticket)) return null
    const value = await unavailableOnError(this.#redis.getdel(this.#prefix + ticketHash(ticket)))
    if (value === null) return null
    let grant: TicketGrant
    try { grant = JSON.parse(value) as TicketGrant } catch { return null }
    const sessionId = sessionOf(grant)
    if (sessionId !== null && await unavailableOnError(this.#redis.exists(this.#revokedPrefix + sessionId)) > 0) return null
    return grant
  }

  async revokeSession (sessionId: string, retainMs: number): Promise<void> {
    await this.#redis.set(this.#revokedPrefix + sessionId, '1', 'PX', retainMs)
  }

  /** The Redis client belongs to whoever created it. */
  async close (): Promise<void> {}
}
