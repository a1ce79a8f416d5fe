import { parseConsoleClientFrame, type AgentRef, type ConsoleClientFrame, type ConsoleEvent } from '@weapp/common'
import { WsFrameErrors } from '../errors.js'
import type { AgentState } from './presence.js'

// The console socket's frames (ConsoleServerFrame / ConsoleClientFrame in @weapp/common) and the checks of
// what other processes put on the bus for it.

export const RESYNC_REQUIRED = JSON.stringify({ type: 'resync-required' })

/** A client frame as the contract says, or the error frame to answer instead (the socket stays open). */
export function readClientFrame (text: string): { frame: ConsoleClientFrame } | { error: string } {
  let parsed: unknown
  try { parsed = JSON.parse(text) } catch {
    return { error: errorFrame('a console frame is a JSON object') }
  }
  const frame = parseConsoleClientFrame(parsed)
  if (frame === null) return { error: errorFrame('not a console frame: hello {epoch?, after?}, viewing {openid|null} or typing {openid} (openid at most 128 characters)') }
  return { frame }
}

export function errorFrame (message: string): string {
  return JSON.stringify({ type: 'error', code: WsFrameErrors.badFrame, message })
}

const PAYLOAD_OF: Record<string, string> = { conversation: 'conversation', message: 'message', note: 'note' }

/**
 * A `console.event` as cs-messaging publishes it: one of the contract's kinds with its object. Relayed as
 * it came (the bus is internal and cs-messaging builds it from the contract's types); anything else on the
 * channel is not relayed.
 */
export function isConsoleEvent (value: unknown): value is ConsoleEvent {
  if (typeof value !== 'object' || value === null) return false
  const type = (value as { type?: unknown }).type
  if (typeof type !== 'string' || !Object.hasOwn(PAYLOAD_OF, type)) return false
  const payload = (value as Record<string, unknown>)[PAYLOAD_OF[type]!]
  return typeof payload === 'object' && payload !== null && !Array.isArray(payload)
}

const shortString = (value: unknown): value is string => typeof value === 'string' && value.length > 0 && value.length <= 128

/** A `console.presence` of another instance, checked (bounded strings) before it enters the presence table. */
export function readPresence (value: { agent?: unknown, openid?: unknown, typing?: unknown, instance?: unknown }): { instance: string, state: AgentState } | null {
  const agent = value.agent as Partial<AgentRef> | null | undefined
  if (typeof agent !== 'object' || agent === null || !shortString(agent.agentId) || !shortString(agent.displayName)) return null
  if (value.openid !== null && !shortString(value.openid)) return null
  if (typeof value.typing !== 'boolean' || !shortString(value.instance)) return null
  return {
    instance: value.instance,
    state: { agent: { agentId: agent.agentId, displayName: agent.displayName }, openid: value.openid, typing: value.typing }
  }
}
