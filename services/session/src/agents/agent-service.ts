import { randomUUID } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import type { AgentRole, Clock } from '@weapp/common'
import type { AgentPatch, AgentRecord, AgentsRepository } from '../repositories/agents.js'
import { AgentExistsError, AgentLimitError, AgentNotFoundError, LastAdminError } from '../errors.js'
import { checkPasswordPolicy, type PasswordHasher } from './passwords.js'
import type { AgentSessionService } from './agent-session-service.js'

/** Agent accounts held at most (the list route returns them all). */
export const MAX_AGENTS = 1000

export interface AgentServiceOptions {
  agents: AgentsRepository
  sessions: AgentSessionService
  passwords: PasswordHasher
  now: Clock
  log: FastifyBaseLogger
}

export interface NewAgent {
  login: string
  displayName: string
  role: AgentRole
  password: string
}

export interface AgentChange {
  displayName?: string
  role?: AgentRole
  disabled?: boolean
}

/** Agent accounts: creation, changes (never leaving no enabled admin), passwords, the first admin. */
export class AgentService {
  readonly #agents: AgentsRepository
  readonly #sessions: AgentSessionService
  readonly #passwords: PasswordHasher
  readonly #now: Clock
  readonly #log: FastifyBaseLogger

  constructor ({ agents, sessions, passwords, now, log }: AgentServiceOptions) {
    this.#agents = agents
    this.#sessions = sessions
    this.#passwords = passwords
    this.#now = now
    this.#log = log
  }

  async list (): Promise<AgentRecord[]> {
    return await this.#agents.list(MAX_AGENTS)
  }

  async get (id: string): Promise<AgentRecord> {
    const agent = await this.#agents.findById(id)
    if (agent === null) throw new AgentNotFoundError()
    return agent
  }

  /** 400 SESSION_PASSWORD_WEAK, 409 SESSION_AGENT_EXISTS or SESSION_AGENT_LIMIT before anything is written. */
  async create (input: NewAgent, options: { ignoreLimit?: boolean } = {}): Promise<AgentRecord> {
    checkPasswordPolicy(input.password)
    const login = input.login.toLowerCase()
    if (options.ignoreLimit !== true && (await this.#agents.count()) >= MAX_AGENTS) throw new AgentLimitError(MAX_AGENTS)
    // Checked before the (costly) hash; the unique index decides a race.
    if ((await this.#agents.findByLogin(login)) !== null) throw new AgentExistsError(login)
    const agent: AgentRecord = {
      id: randomUUID(),
      login,
      displayName: input.displayName,
      role: input.role,
      disabled: false,
      passwordHash: await this.#passwords.hash(input.password),
      createdAt: new Date(this.#now())
    }
    if (!(await this.#agents.create(agent))) throw new AgentExistsError(login)
    return agent
  }

  /**
   * Display name, role, disabled. Disabling or demoting the last enabled admin: 409 SESSION_LAST_ADMIN, nothing
   * changed. Disabling ends the agent's sessions.
   */
  async update (id: string, change: AgentChange): Promise<AgentRecord> {
    const before = await this.get(id)
    const losesAdmin = before.role === 'admin' && !before.disabled && (change.role === 'agent' || change.disabled === true)
    if (losesAdmin && (await this.#agents.countEnabledAdmins()) <= 1) throw new LastAdminError()
    const patch: AgentPatch = {}
    if (change.displayName !== undefined) patch.displayName = change.displayName
    if (change.role !== undefined) patch.role = change.role
    if (change.disabled !== undefined) patch.disabled = change.disabled
    const after = await this.#agents.update(id, patch)
    if (after === null) throw new AgentNotFoundError()
    // Two admins demoting each other at once both passed the check above: whoever sees none left undoes its change.
    if (losesAdmin && (await this.#agents.countEnabledAdmins()) === 0) {
      await this.#agents.update(id, { role: before.role, disabled: before.disabled })
      throw new LastAdminError()
    }
    if (change.disabled === true && !before.disabled) await this.#sessions.endAgentSessions(id)
    return after
  }

  /** A new password; ends the agent's sessions but `keepSessionId` (the caller's own, when it changes its own). */
  async setPassword (id: string, password: string, keepSessionId?: string): Promise<void> {
    checkPasswordPolicy(password)
    await this.get(id)
    const passwordHash = await this.#passwords.hash(password)
    if ((await this.#agents.update(id, { passwordHash })) === null) throw new AgentNotFoundError()
    await this.#sessions.endAgentSessions(id, keepSessionId)
  }

  async checkPassword (agent: AgentRecord, password: string): Promise<boolean> {
    return await this.#passwords.verify(password, agent.passwordHash)
  }

  /**
   * `pnpm console:admin` (POST /internal/agents/bootstrap): creates the admin, or makes the existing account an
   * enabled admin with this password and ends its sessions. Never refused for the agent limit: it is the way back in.
   */
  async bootstrap (input: { login: string, displayName?: string, password: string }): Promise<{ agent: AgentRecord, created: boolean }> {
    checkPasswordPolicy(input.password)
    const login = input.login.toLowerCase()
    const existing = await this.#agents.findByLogin(login)
    if (existing === null) {
      const agent = await this.create({ login, displayName: input.displayName ?? login, role: 'admin', password: input.password }, { ignoreLimit: true })
      return { agent, created: true }
    }
    const patch: AgentPatch = { passwordHash: await this.#passwords.hash(input.password), role: 'admin', disabled: false }
    if (input.displayName !== undefined) patch.displayName = input.displayName
    const agent = await this.#agents.update(existing.id, patch)
    if (agent === null) throw new AgentNotFoundError()
    await this.#sessions.endAgentSessions(existing.id)
    return { agent, created: false }
  }

  /** CONSOLE_ADMIN_LOGIN + CONSOLE_ADMIN_PASSWORD at start: created when the login does not exist, never overwritten. */
  async ensureAdmin (login: string, password: string): Promise<'created' | 'exists'> {
    const folded = login.toLowerCase()
    if ((await this.#agents.findByLogin(folded)) !== null) {
      this.#log.info({ login: folded }, 'console admin exists: CONSOLE_ADMIN_PASSWORD not applied')
      return 'exists'
    }
    try {
      await this.create({ login: folded, displayName: folded, role: 'admin', password }, { ignoreLimit: true })
    } catch (err) {
      // Another instance starting at the same moment created it.
      if (err instanceof AgentExistsError) return 'exists'
      throw err
    }
    this.#log.info({ login: folded }, 'console admin created from CONSOLE_ADMIN_LOGIN')
    return 'created'
  }
}
