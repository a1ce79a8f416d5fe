import type { AgentPatch, AgentRecord, AgentSessionRecord, AgentSessionsRepository, AgentsRepository } from './agents.js'

/** Copies values in and out, so callers can never mutate what is stored (as with a real database). */
const copy = <T>(value: T): T => structuredClone(value)

function applyPatch (agent: AgentRecord, patch: AgentPatch): void {
  if (patch.displayName !== undefined) agent.displayName = patch.displayName
  if (patch.role !== undefined) agent.role = patch.role
  if (patch.disabled !== undefined) agent.disabled = patch.disabled
  if (patch.passwordHash !== undefined) agent.passwordHash = patch.passwordHash
  if (patch.lastLoginAt !== undefined) agent.lastLoginAt = new Date(patch.lastLoginAt)
}

/** Agents in process memory: the embedded default when MONGO_URL is unset. */
export class MemoryAgentsRepository implements AgentsRepository {
  readonly #byId = new Map<string, AgentRecord>()
  readonly #byLogin = new Map<string, string>()

  async create (agent: AgentRecord): Promise<boolean> {
    if (this.#byLogin.has(agent.login)) return false
    if (this.#byId.has(agent.id)) throw new Error(`agent id ${agent.id} already exists`)
    this.#byId.set(agent.id, copy(agent))
    this.#byLogin.set(agent.login, agent.id)
    return true
  }

  async findById (id: string): Promise<AgentRecord | null> {
    const agent = this.#byId.get(id)
    return agent === undefined ? null : copy(agent)
  }

  async findByLogin (login: string): Promise<AgentRecord | null> {
    const id = this.#byLogin.get(login)
    return id === undefined ? null : await this.findById(id)
  }

  async list (limit: number): Promise<AgentRecord[]> {
    return [...this.#byId.values()].sort((a, b) => (a.login < b.login ? -1 : a.login > b.login ? 1 : 0)).slice(0, Math.max(1, Math.floor(limit))).map(copy)
  }

  async count (): Promise<number> { return this.#byId.size }

  async countEnabledAdmins (): Promise<number> {
    let n = 0
    for (const agent of this.#byId.values()) if (agent.role === 'admin' && !agent.disabled) n++
    return n
  }

  async update (id: string, patch: AgentPatch): Promise<AgentRecord | null> {
    const agent = this.#byId.get(id)
    if (agent === undefined) return null
    applyPatch(agent, patch)
    return copy(agent)
  }
}

/** Console sessions in process memory. Expired ones are removed when met (resolve) or by an occasional sweep. */
export class MemoryAgentSessionsRepository implements AgentSessionsRepository {
  readonly #byId = new Map<string, AgentSessionRecord>()
  readonly #byHash = new Map<string, string>()

  async create (session: AgentSessionRecord): Promise<void> {
    if (this.#byId.has(session.id)) throw new Error(`agent session id ${session.id} already exists`)
    if (this.#byHash.has(session.tokenHash)) throw new Error('token hash already exists')
    this.#byId.set(session.id, copy(session))
    this.#byHash.set(session.tokenHash, session.id)
  }

  async findByTokenHash (tokenHash: string): Promise<AgentSessionRecord | null> {
    const id = this.#byHash.get(tokenHash)
    return id === undefined ? null : await this.findById(id)
  }

  async findById (id: string): Promise<AgentSessionRecord | null> {
    const session = this.#byId.get(id)
    return session === undefined ? null : copy(session)
  }

  async touch (id: string, idleExpiresAt: Date): Promise<void> {
    const session = this.#byId.get(id)
    if (session !== undefined) session.idleExpiresAt = new Date(idleExpiresAt)
  }

  async delete (id: string): Promise<AgentSessionRecord | null> {
    const session = this.#byId.get(id)
    if (session === undefined) return null
    this.#remove(session)
    return session
  }

  async deleteByAgent (agentId: string, exceptId?: string): Promise<AgentSessionRecord[]> {
    const ended = [...this.#byId.values()].filter((s) => s.agentId === agentId && s.id !== exceptId)
    for (const session of ended) this.#remove(session)
    return ended
  }

  async trimAgent (agentId: string, keep: number): Promise<AgentSessionRecord[]> {
    const sessions = [...this.#byId.values()].filter((s) => s.agentId === agentId)
    // Newest first (by creation; the id breaks ties, as in MongoDB's sort).
    sessions.sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0))
    const ended = sessions.slice(keep)
    for (const session of ended) this.#remove(session)
    return ended
  }

  /** Drops sessions whose idle or absolute expiry has passed (MongoDB's TTL index does it for the absolute one). */
  sweep (now: Date): number {
    let removed = 0
    for (const session of [...this.#byId.values()]) {
      if (session.idleExpiresAt <= now || session.absoluteExpiresAt <= now) {
        this.#remove(session)
        removed++
      }
    }
    return removed
  }

  get size (): number { return this.#byId.size }

  #remove (session: AgentSessionRecord): void {
    this.#byId.delete(session.id)
    this.#byHash.delete(session.tokenHash)
  }
}
