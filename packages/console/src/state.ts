import type { ConsoleEvent, ConsoleMessage, Conversation, Note, WindowView } from '@weapp/common'

// The inbox's state and the one pure function that changes it: REST answers and the socket's events
// (docs/console.md, "Live updates") go through `reduce`, so a replayed or duplicated event
// changes nothing twice and the list stays sorted by lastAt whatever the order things arrive in.

export type ListView = 'mine' | 'unassigned' | 'all'
export type ListStatus = 'open' | 'resolved'
export interface ListFilter { view: ListView, status: ListStatus }

export interface OpenConversation {
  openid: string
  /** Null until GET /conversations/:openid answered (or when it does not exist yet). */
  conversation: Conversation | null
  window: WindowView | null
  typingUntil: string | null
  /** Oldest first. */
  messages: ConsoleMessage[]
  /** The cursor for older messages, null when all are loaded. */
  older: string | null
  notes: Note[]
}

export interface InboxState {
  /** The logged-in agent's id (unread counts are per agent). */
  me: string
  filter: ListFilter
  /** The loaded pages of the list, lastAt descending. */
  items: Conversation[]
  next: string | null
  open: OpenConversation | null
}

export type Action =
  | { type: 'filter', filter: ListFilter }
  | { type: 'list-loaded', items: Conversation[], next: string | null, append: boolean }
  | { type: 'event', event: ConsoleEvent }
  /** Socket events in arrival order, applied in one state change (one render). */
  | { type: 'events', events: ConsoleEvent[] }
  | { type: 'open', openid: string | null }
  | { type: 'conversation-loaded', openid: string, conversation: Conversation | null, window: WindowView | null, typingUntil: string | null }
  | { type: 'messages-loaded', openid: string, items: ConsoleMessage[], next: string | null, older: boolean }
  | { type: 'notes-loaded', openid: string, items: Note[] }
  | { type: 'window', openid: string, window: WindowView | null }
  | { type: 'message-removed', openid: string, id: string }

export function initialState (me: string): InboxState {
  return { me, filter: { view: 'all', status: 'open' }, items: [], next: null, open: null }
}

/** The agent's unread count: inbound messages not yet read by this agent. */
export function unreadFor (conversation: Conversation, me: string): number {
  return Math.max(0, conversation.inboundCount - (conversation.readCounts[me] ?? 0))
}

/** The tab title's count: unread messages over the loaded list. */
export function totalUnread (items: readonly Conversation[], me: string): number {
  return items.reduce((sum, c) => sum + unreadFor(c, me), 0)
}

export function pageTitle (unread: number): string {
  return unread > 0 ? `(${unread}) Console` : 'Console'
}

/** Whether a conversation belongs in the list under the filter, as the server's query would answer. */
export function matchesFilter (conversation: Conversation, filter: ListFilter, me: string): boolean {
  if (conversation.status !== filter.status) return false
  if (filter.view === 'mine') return conversation.assignee?.agentId === me
  if (filter.view === 'unassigned') return conversation.assignee === null
  return true
}

const byLastAtDesc = (a: Conversation, b: Conversation): number => Date.parse(b.lastAt) - Date.parse(a.lastAt)

/**
 * The list with one conversation changed: in place when it matches the filter, else removed. A conversation
 * older than the last loaded one while more pages exist is left to the page that will hold it.
 */
function placeInList (state: InboxState, conversation: Conversation): Pick<InboxState, 'items'> {
  const rest = state.items.filter((c) => c.openid !== conversation.openid)
  if (!matchesFilter(conversation, state.filter, state.me)) return { items: rest }
  const oldest = rest[rest.length - 1]
  const wasListed = rest.length !== state.items.length
  if (!wasListed && state.next !== null && oldest !== undefined && Date.parse(conversation.lastAt) < Date.parse(oldest.lastAt)) return { items: rest }
  return { items: [...rest, conversation].sort(byLastAtDesc) }
}

function withConversation (state: InboxState, conversation: Conversation): InboxState {
  let open = state.open
  if (open !== null && open.openid === conversation.openid) {
    open = { ...open, conversation, window: conversation.window ?? open.window }
  }
  return { ...state, ...placeInList(state, conversation), open }
}

/**
 * Inserts or replaces (same id) an entry, keeping createdAt order. Searched from the end and inserted in
 * place, not re-sorted: live entries are new or recent, and an open conversation at 200 messages/s with
 * thousands loaded spent its page's time sorting (pnpm bench:console, `open`).
 */
export function upsertById<T extends { id: string, createdAt: string }> (list: readonly T[], entry: T): T[] {
  for (let i = list.length - 1; i >= 0; i--) {
    if (list[i]!.id !== entry.id) continue
    const replaced = list.slice()
    replaced[i] = entry
    return replaced
  }
  const at = Date.parse(entry.createdAt)
  let index = list.length
  while (index > 0 && Date.parse(list[index - 1]!.createdAt) > at) index--
  return index === list.length ? [...list, entry] : [...list.slice(0, index), entry, ...list.slice(index)]
}

function withMessage (state: InboxState, message: ConsoleMessage): InboxState {
  const open = state.open
  if (open === null || open.openid !== message.openid) return state
  return { ...state, open: { ...open, messages: upsertById(open.messages, message) } }
}

function withNote (state: InboxState, note: Note): InboxState {
  const open = state.open
  if (open === null || open.openid !== note.openid) return state
  return { ...state, open: { ...open, notes: upsertById(open.notes, note) } }
}

function withEvent (state: InboxState, event: ConsoleEvent): InboxState {
  if (event.type === 'conversation') return withConversation(state, event.conversation)
  if (event.type === 'message') return withMessage(state, event.message)
  return withNote(state, event.note)
}

function emptyOpen (openid: string): OpenConversation {
  return { openid, conversation: null, window: null, typingUntil: null, messages: [], older: null, notes: [] }
}

function mergeMessages (current: readonly ConsoleMessage[], loaded: readonly ConsoleMessage[]): ConsoleMessage[] {
  let merged = [...current]
  for (const m of loaded) merged = upsertById(merged, m)
  return merged
}

export function reduce (state: InboxState, action: Action): InboxState {
  switch (action.type) {
    case 'filter':
      return { ...state, filter: action.filter, items: [], next: null }
    case 'list-loaded': {
      // An event applied while the page was on its way may be newer than the page's copy: keep the newer.
      const current = new Map(state.items.map((c) => [c.openid, c]))
      const newer = (c: Conversation): Conversation => {
        const seen = current.get(c.openid)
        return seen !== undefined && Date.parse(seen.lastAt) > Date.parse(c.lastAt) ? seen : c
      }
      const items = action.append ? [...state.items] : []
      for (const c of action.items) {
        const index = items.findIndex((x) => x.openid === c.openid)
        if (index >= 0) items[index] = newer(c)
        else items.push(newer(c))
      }
      return { ...state, items: items.sort(byLastAtDesc), next: action.next }
    }
    case 'event':
      return withEvent(state, action.event)
    case 'events':
      return action.events.reduce(withEvent, state)
    case 'open':
      if (action.openid === null) return { ...state, open: null }
      if (state.open?.openid === action.openid) return state
      return { ...state, open: emptyOpen(action.openid) }
    case 'conversation-loaded': {
      if (state.open?.openid !== action.openid) return state
      const next = { ...state, open: { ...state.open, window: action.window, typingUntil: action.typingUntil } }
      return action.conversation === null ? next : withConversation(next, action.conversation)
    }
    case 'messages-loaded': {
      const open = state.open
      if (open?.openid !== action.openid) return state
      const older = action.older || open.messages.length === 0 ? action.next : open.older
      return { ...state, open: { ...open, messages: mergeMessages(open.messages, action.items), older } }
    }
    case 'notes-loaded': {
      const open = state.open
      if (open?.openid !== action.openid) return state
      let notes: Note[] = []
      for (const n of action.items) notes = upsertById(notes, n)
      return { ...state, open: { ...open, notes } }
    }
    case 'window': {
      const open = state.open
      if (open?.openid !== action.openid) return state
      return { ...state, open: { ...open, window: action.window } }
    }
    case 'message-removed': {
      const open = state.open
      if (open?.openid !== action.openid) return state
      return { ...state, open: { ...open, messages: open.messages.filter((m) => m.id !== action.id) } }
    }
  }
}

/** Applies a conversation changed by a REST answer (claim, read, resolve…) like an event. */
export function conversationChanged (conversation: Conversation): Action {
  return { type: 'event', event: { type: 'conversation', conversation } }
}

/** Applies a message (a send's answer, a pending send) like an event. */
export function messageChanged (message: ConsoleMessage): Action {
  return { type: 'event', event: { type: 'message', message } }
}
