import type { AgentRef } from '@weapp/common'

/** A `typing` frame shows the agent typing for this long (the console repeats it while the agent types). */
export const TYPING_MS = 5000
/**
 * Another instance re-announces its agents this often (and at every change); an entry from another instance
 * not refreshed for REMOTE_TTL_MS (three announcements missed: that instance stopped or lost the bus) goes.
 */
export const ANNOUNCE_EVERY_MS = 20_000
export const REMOTE_TTL_MS = 60_000
/** Presence entries held at once (agents here plus agents announced by other instances); more are not shown. */
export const MAX_PRESENCE_ENTRIES = 10_000

/** Who else looks at a conversation and who types in it. */
export interface PresenceView {
  viewing: AgentRef[]
  typing: AgentRef[]
}

/** What an agent's presence changed: the conversation it concerns and whose entry it was. */
export interface PresenceChange {
  openid: string
  agentId: string
}

/** An agent's state on one instance: where it looks (null: nowhere) and whether it types there. */
export interface AgentState {
  agent: AgentRef
  openid: string | null
  typing: boolean
}

interface SocketState {
  agent: AgentRef
  openid: string | null
  typingUntil: number
  /** Order of the socket's last viewing/typing frame: the agent's latest tab wins. */
  stamp: number
}

interface Entry {
  agent: AgentRef
  openid: string
  typingUntil: number
  /** Typing as last shown: the sweep turns it off once typingUntil passes. */
  typing: boolean
  /** Entries of other instances go when not refreshed; this instance's live as long as their sockets. */
  expiresAt: number
}

const LOCAL = ''
const keyOf = (instance: string, agentId: string): string => `${instance}\u0000${agentId}`

/**
 * Who views / types in which conversation, from this instance's console sockets and from the other
 * instances' announcements. One entry per agent and instance: an agent's sockets here count once, and
 * their state is the one of the socket that last named a conversation (a tab that looks at nothing does
 * not hide another tab that looks at something). A `typing` frame also means viewing that conversation.
 */
export class Presence {
  readonly #max: number
  readonly #sockets = new Map<number, SocketState>()
  readonly #socketsOf = new Map<string, Set<number>>()
  readonly #entries = new Map<string, Entry>()
  readonly #byOpenid = new Map<string, Set<Entry>>()
  #stamp = 0

  constructor (max = MAX_PRESENCE_ENTRIES) { this.#max = max }

  get size (): number { return this.#entries.size }

  /** The conversations someone views (for the snapshot a new socket gets). */
  openids (): string[] { return [...this.#byOpenid.keys()] }

  /** A `viewing` frame of a socket here. */
  view (socketId: number, agent: AgentRef, openid: string | null, now: number): PresenceChange[] {
    const socket = this.#socket(socketId, agent)
    if (socket.openid !== openid) socket.typingUntil = 0
    socket.openid = openid
    socket.stamp = ++this.#stamp
    return this.#settle(agent, now)
  }

  /** A `typing` frame of a socket here. */
  type (socketId: number, agent: AgentRef, openid: string, now: number): PresenceChange[] {
    const socket = this.#socket(socketId, agent)
    socket.openid = openid
    socket.typingUntil = now + TYPING_MS
    socket.stamp = ++this.#stamp
    return this.#settle(agent, now)
  }

  /** A socket here closed. */
  drop (socketId: number, now: number): PresenceChange[] {
    const socket = this.#sockets.get(socketId)
    if (socket === undefined) return []
    this.#sockets.delete(socketId)
    const mine = this.#socketsOf.get(socket.agent.agentId)
    mine?.delete(socketId)
    if (mine?.size === 0) this.#socketsOf.delete(socket.agent.agentId)
    return this.#settle(socket.agent, now)
  }

  /** The agent's state on this instance, as announced to the others. */
  localState (agent: AgentRef): AgentState {
    const entry = this.#entries.get(keyOf(LOCAL, agent.agentId))
    return entry === undefined ? { agent, openid: null, typing: false } : { agent: entry.agent, openid: entry.openid, typing: entry.typing }
  }

  /** The states of the agents with sockets here that look at a conversation (the periodic announcement). */
  localStates (): AgentState[] {
    const states: AgentState[] = []
    for (const agentId of this.#socketsOf.keys()) {
      const entry = this.#entries.get(keyOf(LOCAL, agentId))
      if (entry !== undefined) states.push({ agent: entry.agent, openid: entry.openid, typing: entry.typing })
    }
    return states
  }

  /** An announcement of another instance (`console.presence` on the bus). */
  applyRemote (instance: string, state: AgentState, now: number): PresenceChange[] {
    const next = state.openid === null ? null : { openid: state.openid, typingUntil: state.typing ? now + TYPING_MS : 0 }
    return this.#put(keyOf(instance, state.agent.agentId), state.agent, next, now + REMOTE_TTL_MS, now)
  }

  /**
   * Typing that ran out and entries of other instances that were not refreshed: the changes, and the
   * agents here whose typing ended (to announce).
   */
  sweep (now: number): { changes: PresenceChange[], ended: AgentRef[] } {
    const changes: PresenceChange[] = []
    const ended: AgentRef[] = []
    for (const [key, entry] of this.#entries) {
      if (entry.expiresAt <= now) {
        this.#remove(key, entry)
        changes.push({ openid: entry.openid, agentId: entry.agent.agentId })
      } else if (entry.typing && entry.typingUntil <= now) {
        entry.typing = false
        changes.push({ openid: entry.openid, agentId: entry.agent.agentId })
        if (key === keyOf(LOCAL, entry.agent.agentId)) ended.push(entry.agent)
      }
    }
    return { changes, ended }
  }

  /** Who views and types in `openid`, each agent once, without `except` (the agent the view is for). */
  lookAt (openid: string, except: string): PresenceView {
    const viewing = new Map<string, AgentRef>()
    const typing = new Map<string, AgentRef>()
    for (const entry of this.#byOpenid.get(openid) ?? []) {
      const id = entry.agent.agentId
      if (id === except) continue
      if (!viewing.has(id)) viewing.set(id, entry.agent)
      if (entry.typing && !typing.has(id)) typing.set(id, entry.agent)
    }
    const byName = (a: AgentRef, b: AgentRef): number => a.displayName.localeCompare(b.displayName) || a.agentId.localeCompare(b.agentId)
    return { viewing: [...viewing.values()].sort(byName), typing: [...typing.values()].sort(byName) }
  }

  #socket (socketId: number, agent: AgentRef): SocketState {
    let socket = this.#sockets.get(socketId)
    if (socket === undefined) {
      socket = { agent, openid: null, typingUntil: 0, stamp: 0 }
      this.#sockets.set(socketId, socket)
      let mine = this.#socketsOf.get(agent.agentId)
      if (mine === undefined) { mine = new Set(); this.#socketsOf.set(agent.agentId, mine) }
      mine.add(socketId)
    }
    return socket
  }

  /** The agent's entry here from its sockets: the latest one that names a conversation. */
  #settle (agent: AgentRef, now: number): PresenceChange[] {
    let latest: SocketState | null = null
    for (const id of this.#socketsOf.get(agent.agentId) ?? []) {
      const socket = this.#sockets.get(id)!
      if (socket.openid !== null && (latest === null || socket.stamp > latest.stamp)) latest = socket
    }
    const next = latest === null ? null : { openid: latest.openid!, typingUntil: latest.typingUntil }
    return this.#put(keyOf(LOCAL, agent.agentId), agent, next, Number.POSITIVE_INFINITY, now)
  }

  /** Sets (or, with null, removes) one entry; returns what others would see change. */
  #put (key: string, agent: AgentRef, next: { openid: string, typingUntil: number } | null, expiresAt: number, now: number): PresenceChange[] {
    const old = this.#entries.get(key)
    const agentId = agent.agentId
    if (next === null) {
      if (old === undefined) return []
      this.#remove(key, old)
      return [{ openid: old.openid, agentId }]
    }
    const typing = next.typingUntil > now
    if (old === undefined) {
      if (this.#entries.size >= this.#max) return []
      const entry: Entry = { agent, openid: next.openid, typingUntil: next.typingUntil, typing, expiresAt }
      this.#entries.set(key, entry)
      this.#index(entry)
      return [{ openid: next.openid, agentId }]
    }
    const moved = old.openid !== next.openid
    const changed = moved || old.typing !== typing || old.agent.displayName !== agent.displayName
    const before = old.openid
    if (moved) this.#unindex(old)
    old.agent = agent
    old.openid = next.openid
    old.typingUntil = next.typingUntil
    old.typing = typing
    old.expiresAt = expiresAt
    if (moved) this.#index(old)
    if (!changed) return []
    return moved ? [{ openid: before, agentId }, { openid: next.openid, agentId }] : [{ openid: next.openid, agentId }]
  }

  #remove (key: string, entry: Entry): void {
    this.#entries.delete(key)
    this.#unindex(entry)
  }

  #index (entry: Entry): void {
    let set = this.#byOpenid.get(entry.openid)
    if (set === undefined) { set = new Set(); this.#byOpenid.set(entry.openid, set) }
    set.add(entry)
  }

  #unindex (entry: Entry): void {
    const set = this.#byOpenid.get(entry.openid)
    set?.delete(entry)
    if (set?.size === 0) this.#byOpenid.delete(entry.openid)
  }
}
