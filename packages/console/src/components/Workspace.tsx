import type { AgentRef, ConsoleEvent, ConsoleSession } from '@weapp/common'
import { useCallback, useEffect, useMemo, useReducer, useRef, useState } from 'preact/hooks'
import { ApiError, api } from '../api.js'
import { errorText, useNow, useRoute } from '../hooks.js'
import { alertInbound } from '../notify.js'
import { EventBatch } from '../event-batch.js'
import { ReadMarker } from '../read-marker.js'
import { inboxHref } from '../router.js'
import { ConsoleSocket, type SocketState } from '../socket.js'
import { conversationChanged, initialState, type ListFilter, pageTitle, reduce, totalUnread, unreadFor } from '../state.js'
import { Agents } from './Agents.js'
import { ConversationList } from './ConversationList.js'
import { ConversationView } from './ConversationView.js'
import { Header } from './Header.js'

type Presence = Record<string, { viewing: AgentRef[], typing: AgentRef[] }>
const PAGE_SIZE = 30

/** Everything after login: the socket, the inbox state, the pages. Unmounted at logout (the socket closes). */
export function Workspace ({ session, onLogout, onEnded }: { session: ConsoleSession, onLogout: () => void, onEnded: () => void }) {
  const me = session.agent
  const [state, dispatch] = useReducer(reduce, me.id, initialState)
  const [socketState, setSocketState] = useState<SocketState>('connecting')
  const [presence, setPresence] = useState<Presence>({})
  const [listLoading, setListLoading] = useState(false)
  const [listError, setListError] = useState<string | null>(null)
  const [convError, setConvError] = useState<string | null>(null)
  const route = useRoute()
  const now = useNow(1000)
  const stateRef = useRef(state)
  stateRef.current = state
  const listRequest = useRef(0)
  const alerted = useRef(new Set<string>())

  const loadList = useCallback(async (append: boolean): Promise<void> => {
    const { filter, next } = stateRef.current
    const ticket = ++listRequest.current
    setListLoading(true)
    setListError(null)
    try {
      const page = await api.conversations(filter, append ? next : null, PAGE_SIZE)
      if (ticket === listRequest.current) dispatch({ type: 'list-loaded', items: page.items, next: page.next, append })
    } catch (err) {
      if (ticket === listRequest.current) setListError(errorText(err))
    } finally {
      if (ticket === listRequest.current) setListLoading(false)
    }
  }, [])

  const reloadConversation = useCallback(async (openid: string): Promise<void> => {
    try {
      const answer = await api.conversation(openid)
      dispatch({ type: 'conversation-loaded', openid, conversation: answer.conversation, window: answer.window, typingUntil: answer.typingUntil })
    } catch (err) {
      // A conversation that does not exist yet (no message so far) shows empty.
      if (err instanceof ApiError && err.status === 404) dispatch({ type: 'conversation-loaded', openid, conversation: null, window: null, typingUntil: null })
      else throw err
    }
  }, [])

  const reloadMessages = useCallback(async (openid: string): Promise<void> => {
    const page = await api.messages(openid, null)
    dispatch({ type: 'messages-loaded', openid, items: page.items, next: page.next, older: false })
  }, [])

  const loadOpen = useCallback(async (openid: string): Promise<void> => {
    setConvError(null)
    try {
      await Promise.all([
        reloadConversation(openid),
        reloadMessages(openid),
        api.notes(openid).then((r) => { dispatch({ type: 'notes-loaded', openid, items: r.items }) })
      ])
    } catch (err) {
      setConvError(errorText(err))
    }
  }, [reloadConversation, reloadMessages])

  const events = useMemo(() => new EventBatch<ConsoleEvent>((batch) => { dispatch({ type: 'events', events: batch }) }), [])
  const onEvent = useCallback((event: ConsoleEvent): void => {
    events.add(event)
    if (event.type === 'message' && event.message.direction === 'in' && !alerted.current.has(event.message.id)) {
      alerted.current.add(event.message.id)
      if (alerted.current.size > 500) alerted.current.clear()
      const m = event.message
      alertInbound(m.openid, typeof m.message.Content === 'string' ? m.message.Content : `[${m.msgType}]`, () => { window.location.hash = inboxHref(m.openid) })
    }
  }, [])

  const socket = useMemo(() => new ConsoleSocket({
    state: setSocketState,
    event: onEvent,
    resync: () => {
      events.flush()
      void loadList(false)
      const open = stateRef.current.open
      if (open !== null) void loadOpen(open.openid)
    },
    presence: (openid, viewing, typing) => { setPresence((p) => ({ ...p, [openid]: { viewing, typing } })) },
    ended: onEnded,
    // The upgrade was refused (maybe the session ended): a REST call tells; its 401 logs out.
    failed: () => { api.me().catch(() => {}) }
  }), [])

  useEffect(() => {
    // The list loads at once; the socket's first welcome loads it again with the events from then on.
    void loadList(false)
    socket.start()
    return () => { socket.stop() }
  }, [socket])

  // The open conversation follows the route.
  const openid = route.page === 'inbox' ? route.openid : null
  useEffect(() => {
    dispatch({ type: 'open', openid })
    socket.viewing(openid)
    if (openid !== null) void loadOpen(openid)
  }, [openid])

  // Mark read on open, and again when messages arrive while the agent looks at it (coalesced: read-marker.ts).
  const open = state.open
  const unreadOpen = open?.conversation != null ? unreadFor(open.conversation, me.id) : 0
  const [visible, setVisible] = useState(document.visibilityState === 'visible')
  useEffect(() => {
    const onVisibility = (): void => { setVisible(document.visibilityState === 'visible') }
    document.addEventListener('visibilitychange', onVisibility)
    return () => { document.removeEventListener('visibilitychange', onVisibility) }
  }, [])
  const reader = useMemo(() => new ReadMarker(async (target) => {
    // Checked when the read goes out (it may be held up to READ_INTERVAL_MS): still open, visible and unread.
    const now = stateRef.current.open
    if (now?.openid !== target || now.conversation === null || unreadFor(now.conversation, me.id) === 0 || document.visibilityState !== 'visible') return
    dispatch(conversationChanged((await api.read(target)).conversation))
  }), [])
  useEffect(() => {
    if (open === null || unreadOpen === 0 || !visible) reader.cancel()
    else reader.want(open.openid)
  }, [open?.openid, unreadOpen, visible])
  useEffect(() => () => { reader.cancel() }, [reader])

  const unread = totalUnread(state.items, me.id)
  useEffect(() => { document.title = pageTitle(unread) }, [unread])

  const setFilter = (filter: ListFilter): void => {
    dispatch({ type: 'filter', filter })
    stateRef.current = { ...stateRef.current, filter, items: [], next: null }
    void loadList(false)
  }

  return (
    <div class='app'>
      <Header session={session} page={route.page} socketState={socketState} onLogout={onLogout} />
      {route.page === 'agents' && me.role === 'admin'
        ? <Agents me={me} />
        : (
            <main class='inbox'>
              <ConversationList me={me.id} filter={state.filter} items={state.items} next={state.next} openid={openid} loading={listLoading} error={listError} onFilter={setFilter} onMore={() => { void loadList(true) }} />
              {open === null
                ? <section class='placeholder'><p class='muted'>Choose a conversation.</p></section>
                : (
                    <ConversationView
                      me={me} open={open} presence={presence[open.openid]} socket={socket} now={now} dispatch={dispatch} loadError={convError}
                      reloadMessages={async () => { await reloadMessages(open.openid) }}
                      reloadConversation={async () => { await reloadConversation(open.openid) }}
                    />
                  )}
            </main>
          )}
    </div>
  )
}
