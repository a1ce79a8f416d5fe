import type { AgentIdentity, AgentView } from '@weapp/common'
import type { AgentRecord, AgentSessionRecord } from '../repositories/agents.js'

/** An agent as the API shows it (AgentViewSchema): never its password hash. */
export function toAgentView (agent: AgentRecord): AgentView {
  const view: AgentView = {
    id: agent.id,
    login: agent.login,
    displayName: agent.displayName,
    role: agent.role,
    disabled: agent.disabled,
    createdAt: agent.createdAt.toISOString()
  }
  if (agent.lastLoginAt !== undefined) view.lastLoginAt = agent.lastLoginAt.toISOString()
  return view
}

/** The identity the gateway forwards for a console session (x-weapp-identity, kind agent). */
export function toAgentIdentity (agent: AgentRecord, session: AgentSessionRecord): AgentIdentity {
  return {
    kind: 'agent',
    agentId: agent.id,
    login: agent.login,
    displayName: agent.displayName,
    role: agent.role,
    sessionId: session.id,
    absoluteExpiresAt: session.absoluteExpiresAt.toISOString()
  }
}
