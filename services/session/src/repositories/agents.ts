import type { AgentRole } from '@weapp/common'

// The agent console's accounts and sessions (docs/console.md#sessions): the interfaces both stores implement
// (agents-memory.ts, agents-mongo.ts), one contract suite for both (test/fixtures/agents-contract.ts).

/** An agent account as stored. `login` is lower-case and unique. */
export interface AgentRecord {
  id: string
  login: string
  displayName: string
  role: AgentRole
  disabled: boolean
  /** `scrypt$…` (agents/passwords.ts): never leaves the service. */
  passwordHash: string
  createdAt: Date
  lastLoginAt?: Date
}

export type AgentPatch = Partial<Pick<AgentRecord, 'displayName' | 'role' | 'disabled' | 'passwordHash' | 'lastLoginAt'>>

export interface AgentsRepository {
  /** false when the login is taken (nothing written). */
  create (agent: AgentRecord): Promise<boolean>
  findById (id: string): Promise<AgentRecord | null>
  findByLogin (login: string): Promise<AgentRecord | null>
  /** By login, at most `limit`. */
  list (limit: number): Promise<AgentRecord[]>
  count (): Promise<number>
  /** Enabled agents with role admin: the last one may not be disabled or demoted. */
  countEnabledAdmins (): Promise<number>
  /** The agent after the change, or null when there is no such agent. */
  update (id: string, patch: AgentPatch): Promise<AgentRecord | null>
}

/** A console session as stored: the cookie's token never is, only its hash. */
export interface AgentSessionRecord {
  /** Opaque id, named in the agent identity (`sessionId`) and in `agent.sessions.ended`. */
  id: string
  /** credentialHash({ kind: 'console', token }) (@weapp/common): also the key of the gateway's auth cache. */
  tokenHash: string
  agentId: string
  /** Sent back by the console as x-csrf-token on every state-changing request. */
  csrfToken: string
  createdAt: Date
  /** Slides forward on use, never past absoluteExpiresAt. */
  idleExpiresAt: Date
  absoluteExpiresAt: Date
}

export interface AgentSessionsRepository {
  /** Throws when the id or the token hash is taken (never happens with random tokens). */
  create (session: AgentSessionRecord): Promise<void>
  findByTokenHash (tokenHash: string): Promise<AgentSessionRecord | null>
  findById (id: string): Promise<AgentSessionRecord | null>
  touch (id: string, idleExpiresAt: Date): Promise<void>
  /** The deleted session, or null when there was none. */
  delete (id: string): Promise<AgentSessionRecord | null>
  /** Deletes every session of the agent but `exceptId`; returns what was deleted. */
  deleteByAgent (agentId: string, exceptId?: string): Promise<AgentSessionRecord[]>
  /** Deletes the agent's oldest sessions beyond the newest `keep`; returns what was deleted. */
  trimAgent (agentId: string, keep: number): Promise<AgentSessionRecord[]>
}
