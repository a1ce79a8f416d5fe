import { randomBytes, randomUUID } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import { BusChannels, credentialHash, type AgentIdentity, type Bus, type Clock } from '@weapp/common'
import type { AgentRecord, AgentSessionRecord, AgentSessionsRepository, AgentsRepository } from '../repositories/agents.js'
import { AgentDisabledError, ConsoleLoginFailedError, ConsoleSessionInvalidError } from '../errors.js'
import type { PasswordHasher } from './passwords.js'
import { toAgentIdentity } from './agent-view.js'

/** How long console sessions live. All durations in milliseconds. */
export interface AgentSessionPolicy {
  /** A session unused for this long expires; each use slides it (CONSOLE_SESSION_IDLE_SEC). */
  idleMs: number
  /** No session outlives login + maxMs (CONSOLE_SESSION_MAX_SEC). */
  maxMs: number
  /** A use that would slide the idle expiry by less than this writes nothing (one write a minute at most). */
  touchIntervalMs: number
}

/** Bytes of the cookie token and of the CSRF token: 256 bits each (43 base64url characters). */
export const TOKEN_BYTES = 32
/** Live sessions per agent: each login beyond it ends that agent's oldest session. */
export const MAX_SESSIONS_PER_AGENT = 20

export interface AgentSessionServiceOptions {
  agents: AgentsRepository
  sessions: AgentSessionsRepository
  bus: Bus
  passwords: PasswordHasher
  policy: AgentSessionPolicy
  /** The current time (ms): expiries are computed from it. */
  now: Clock
  log: FastifyBaseLogger
}

export interface ConsoleLogin {
  /** The cookie's value: handed to the browser once, never stored. */
  token: string
  session: AgentSessionRecord
  agent: AgentRecord
}

export interface ResolvedAgentSession {
  identity: AgentIdentity
  /** With the idle expiry as of this use. */
  session: AgentSessionRecord
  agent: AgentRecord
}

/** The hash under which a console token is stored, published and cached by the gateway. */
export const consoleTokenHash = (token: string): string => credentialHash({ kind: 'console', token })

/**
 * Console sessions: login, resolution with a sliding idle expiry, logout, and ending every session of an
 * agent. Each ending is published (`agent.sessions.ended`), so gateways drop the cookie from their caches and
 * realtime-ws closes the sockets at once.
 */
export class AgentSessionService {
  readonly #agents: AgentsRepository
  readonly #sessions: AgentSessionsRepository
  readonly #bus: Bus
  readonly #passwords: PasswordHasher
  readonly #policy: AgentSessionPolicy
  readonly #now: Clock
  readonly #log: FastifyBaseLogger
  /** Logins wait for this first (the first admin being created at start: plugins/console-admin.ts). */
  #loginsHeld: Promise<void> = Promise.resolve()

  constructor ({ agents, sessions, bus, passwords, policy, now, log }: AgentSessionServiceOptions) {
    this.#agents = agents
    this.#sessions = sessions
    this.#bus = bus
    this.#passwords = passwords
    this.#policy = policy
    this.#now = now
    this.#log = log
  }

  get policy (): AgentSessionPolicy { return this.#policy }

  /** Holds logins until `pending` settles (it must not reject). */
  holdLoginsUntil (pending: Promise<void>): void {
    this.#loginsHeld = pending
  }

  /**
   * A new session for the right login and password. An unknown login costs the same scrypt work as a wrong
   * password and gets the same error; a disabled agent is said only after its password checked out.
   */
  async login (login: string, password: string): Promise<ConsoleLogin> {
    await this.#loginsHeld
    const agent = await this.#agents.findByLogin(login.toLowerCase())
    if (agent === null) {
      await this.#passwords.verifyNothing(password)
      throw new ConsoleLoginFailedError()
    }
    if (!(await this.#passwords.verify(password, agent.passwordHash))) throw new ConsoleLoginFailedError()
    if (agent.disabled) throw new AgentDisabledError()
    const now = new Date(this.#now())
    const token = randomBytes(TOKEN_BYTES).toString('base64url')
    const absoluteExpiresAt = new Date(now.getTime() + this.#policy.maxMs)
    const session: AgentSessionRecord = {
      id: randomUUID(),
      tokenHash: consoleTokenHash(token),
      agentId: agent.id,
      csrfToken: randomBytes(TOKEN_BYTES).toString('base64url'),
      createdAt: now,
      idleExpiresAt: new Date(Math.min(now.getTime() + this.#policy.idleMs, absoluteExpiresAt.getTime())),
      absoluteExpiresAt
    }
    await this.#sessions.create(session)
    const updated = await this.#agents.update(agent.id, { lastLoginAt: now }) ?? agent
    const trimmed = await this.#sessions.trimAgent(agent.id, MAX_SESSIONS_PER_AGENT)
    await this.#announce(agent.id, trimmed)
    return { token, session, agent: updated }
  }

  /**
   * The agent behind a cookie token (the gateway's POST /internal/agent-sessions/resolve). Unknown, expired
   * (then deleted) or of a disabled agent: 401 SESSION_CONSOLE_SESSION_INVALID. A use slides the idle expiry.
   */
  async resolve (token: string): Promise<ResolvedAgentSession> {
    const session = await this.#sessions.findByTokenHash(consoleTokenHash(token))
    if (session === null) throw new ConsoleSessionInvalidError('unknown session')
    const { session: live, agent } = await this.#live(session)
    const now = this.#now()
    const slid = Math.min(now + this.#policy.idleMs, live.absoluteExpiresAt.getTime())
    // Written only when it moves the expiry by the touch interval or more: not every request writes.
    if (slid - live.idleExpiresAt.getTime() >= this.#policy.touchIntervalMs) {
      live.idleExpiresAt = new Date(slid)
      await this.#sessions.touch(live.id, live.idleExpiresAt)
    }
    return { identity: toAgentIdentity(agent, live), session: live, agent }
  }

  /** A live session by id (GET /api/console/me), without sliding it (the gateway's resolve did). */
  async sessionById (sessionId: string): Promise<{ session: AgentSessionRecord, agent: AgentRecord }> {
    const session = await this.#sessions.findById(sessionId)
    if (session === null) throw new ConsoleSessionInvalidError('unknown session')
    return await this.#live(session)
  }

  /** Ends one session (logout). false when it was already gone: logging out twice is not an error. */
  async logout (sessionId: string): Promise<boolean> {
    const session = await this.#sessions.delete(sessionId)
    if (session === null) return false
    await this.#announce(session.agentId, [session])
    return true
  }

  /** Ends every session of an agent but `exceptSessionId` (disabling, a password reset); returns how many. */
  async endAgentSessions (agentId: string, exceptSessionId?: string): Promise<number> {
    const ended = await this.#sessions.deleteByAgent(agentId, exceptSessionId)
    await this.#announce(agentId, ended)
    return ended.length
  }

  /** The session and its agent when both are still good; else the session is deleted and 401. */
  async #live (session: AgentSessionRecord): Promise<{ session: AgentSessionRecord, agent: AgentRecord }> {
    const now = this.#now()
    let reason: string | undefined
    if (now >= session.absoluteExpiresAt.getTime()) reason = 'session reached its maximum lifetime'
    else if (now >= session.idleExpiresAt.getTime()) reason = 'session expired after inactivity'
    const agent = reason === undefined ? await this.#agents.findById(session.agentId) : null
    if (reason === undefined && (agent === null || agent.disabled)) reason = 'the agent is disabled or gone'
    if (reason !== undefined || agent === null) {
      await this.#sessions.delete(session.id)
      throw new ConsoleSessionInvalidError(reason ?? 'the agent is gone')
    }
    return { session, agent }
  }

  async #announce (agentId: string, ended: AgentSessionRecord[]): Promise<void> {
    if (ended.length === 0) return
    try {
      await this.#bus.publish(BusChannels.sessions, {
        type: 'agent.sessions.ended',
        agentId,
        sessionIds: ended.map((s) => s.id),
        credentialHashes: ended.map((s) => s.tokenHash)
      })
    } catch (err) {
      // The sessions are gone from the store: gateways fall back to their cache TTL. Worth an alert, not a failure.
      this.#log.error({ err, agentId, sessionIds: ended.map((s) => s.id) }, 'could not publish agent.sessions.ended')
    }
  }
}
