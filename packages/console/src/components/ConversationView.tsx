import type { AgentRef, AgentView, ConsoleMessage } from '@weapp/common'
import { useEffect, useMemo, useRef, useState } from 'preact/hooks'
import { ApiError, api, type OutboundBody } from '../api.js'
import { errorText } from '../hooks.js'
import { SHOWN_MESSAGES, limitShowingArrivals, newestMessages, outboundPayload } from '../messages.js'
import { replyDisabledReason } from '../meter.js'
import type { ConsoleSocket } from '../socket.js'
import { type Action, conversationChanged, messageChanged, type OpenConversation } from '../state.js'
import { Throttle } from '../throttle.js'
import { explainWechatError } from '../wechat-errors.js'
import { MessageItem } from './MessageItem.js'
import { Meter } from './Meter.js'
import { ReplyBox } from './ReplyBox.js'
import { SidePanel } from './SidePanel.js'

/** POST …/typing at most once per 15 s: WeChat shows the indicator for 15 s (the server decides the rest). */
const TYPING_REQUEST_INTERVAL_MS = 15_000
let localIds = 0

interface Props {
  me: AgentView
  open: OpenConversation
  presence: { viewing: AgentRef[], typing: AgentRef[] } | undefined
  socket: ConsoleSocket
  now: number
  dispatch: (action: Action) => void
  /** Reloads the newest page of messages (a send WeChat refused was recorded by the server). */
  reloadMessages: () => Promise<void>
  reloadConversation: () => Promise<void>
  /** Why the conversation could not be loaded, if it could not. */
  loadError: string | null
}

const names = (agents: AgentRef[]): string => agents.map((a) => a.displayName).join(', ')
const HANDOVER_LABEL = { none: 'Answered here', requested: 'Hand-over requested: the user\'s next message goes to WeChat\'s official tool', official: 'With WeChat\'s official customer-service tool' }

export function ConversationView ({ me, open, presence, socket, now, dispatch, reloadMessages, reloadConversation, loadError }: Props) {
  const { openid, conversation, window } = open
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const [localErrors, setLocalErrors] = useState<Record<string, string>>({})
  const [loadingOlder, setLoadingOlder] = useState(false)
  const [shownLimit, setShownLimit] = useState(SHOWN_MESSAGES)
  const typingRequests = useMemo(() => new Throttle(TYPING_REQUEST_INTERVAL_MS), [openid])
  const listRef = useRef<HTMLOListElement>(null)
  const lastId = open.messages[open.messages.length - 1]?.id

  useEffect(() => {
    const list = listRef.current
    if (list !== null) list.scrollTop = list.scrollHeight
  }, [lastId, openid])
  useEffect(() => { setError(null); setLocalErrors({}); setShownLimit(SHOWN_MESSAGES) }, [openid])

  const act = async (run: () => Promise<{ conversation: NonNullable<OpenConversation['conversation']> }>): Promise<void> => {
    setBusy(true)
    setError(null)
    try {
      dispatch(conversationChanged((await run()).conversation))
    } catch (err) {
      setError(errorText(err))
    } finally {
      setBusy(false)
    }
  }

  const send = async (body: OutboundBody): Promise<boolean> => {
    const local: ConsoleMessage = {
      id: `local-${++localIds}`,
      direction: 'out',
      openid,
      msgType: body.type,
      createdAt: new Date().toISOString(),
      message: outboundPayload(body),
      outcome: 'pending',
      sentBy: `agent:${me.id}`,
      sentByName: me.displayName
    }
    dispatch(messageChanged(local))
    try {
      const answer = await api.send(openid, body)
      dispatch({ type: 'message-removed', openid, id: local.id })
      dispatch(messageChanged(answer.message))
      dispatch({ type: 'window', openid, window: answer.window })
      return true
    } catch (err) {
      const apiError = err instanceof ApiError ? err : null
      if (apiError !== null && (apiError.code.startsWith('WECHAT_') || apiError.code.startsWith('CS_SEND_'))) {
        // Refused by WeChat (its errcode) or by our send-window check: the server recorded the attempt and
        // publishes it; show that record, not a second, local one.
        dispatch({ type: 'message-removed', openid, id: local.id })
        await reloadMessages().catch(() => {})
      } else {
        const why = apiError !== null && (apiError.code.startsWith('CS_SEND_') || apiError.errcode !== undefined)
          ? `${explainWechatError(apiError.errcode, apiError.code)}${apiError.errcode === undefined ? ` (${apiError.code})` : ''}`
          : errorText(err)
        setLocalErrors((m) => ({ ...m, [local.id]: why }))
        dispatch(messageChanged({ ...local, outcome: 'failed', ...(apiError?.errcode !== undefined ? { errcode: apiError.errcode } : {}), ...(apiError !== null && apiError.code !== '' ? { errorCode: apiError.code } : {}) }))
      }
      // A refused send (409 window closed, 429 none left): the window changed under us.
      if (apiError !== null && (apiError.status === 409 || apiError.status === 429)) await reloadConversation().catch(() => {})
      return false
    }
  }

  const onTyping = (): void => {
    socket.typing(openid)
    if (typingRequests.take(Date.now())) api.typing(openid).catch(() => {})
  }

  // The ids rendered so far in this conversation: a late arrival that sorts among the hidden ones is shown.
  const rendered = useRef<{ openid: string, ids: Set<string> } | null>(null)
  const limit = rendered.current?.openid === openid ? limitShowingArrivals(open.messages, shownLimit, rendered.current.ids) : shownLimit
  const { shown, hidden } = newestMessages(open.messages, limit)
  useEffect(() => {
    if (rendered.current?.openid !== openid) rendered.current = { openid, ids: new Set() }
    for (const m of open.messages) rendered.current.ids.add(m.id)
    if (limit !== shownLimit) setShownLimit(limit)
  })
  const loadOlder = async (): Promise<void> => {
    // Loaded already but not rendered: shown first; then the server's older pages.
    if (hidden > 0) { setShownLimit(limit + SHOWN_MESSAGES); return }
    if (open.older === null) return
    setShownLimit(open.messages.length + SHOWN_MESSAGES)
    setLoadingOlder(true)
    try {
      const page = await api.messages(openid, open.older)
      dispatch({ type: 'messages-loaded', openid, items: page.items, next: page.next, older: true })
    } catch (err) {
      setError(errorText(err))
    } finally {
      setLoadingOlder(false)
    }
  }

  const assignee = conversation?.assignee ?? null
  const mine = assignee?.agentId === me.id
  const handover = conversation?.handover ?? 'none'
  const viewing = presence?.viewing ?? []
  const typing = presence?.typing ?? []

  return (
    <div class='conversation-area'>
      <section class='conversation' data-testid='conv-view' data-openid={openid} aria-label={`Conversation with ${openid}`}>
        <header class='conv-head'>
          <div class='who'>
            <h2 title={openid}>{openid}</h2>
            <span data-testid='assignee' class='assignee'>{assignee === null ? 'Unassigned' : `Assigned to ${mine ? 'you' : assignee.displayName}`}</span>
            {conversation !== null && <span class={`status status-${conversation.status}`}>{conversation.status}</span>}
          </div>
          <div class='toolbar' role='toolbar' aria-label='Conversation actions'>
            {!mine && <button type='button' data-testid='claim' disabled={busy} onClick={() => { void act(async () => await api.claim(openid)) }}>Claim</button>}
            {!mine && assignee !== null && me.role === 'admin' && <button type='button' disabled={busy} onClick={() => { void act(async () => await api.claim(openid, true)) }}>Take over</button>}
            {assignee !== null && <button type='button' data-testid='release' disabled={busy} onClick={() => { void act(async () => await api.release(openid)) }}>Release</button>}
            {conversation?.status !== 'resolved' && <button type='button' data-testid='resolve' disabled={busy} onClick={() => { void act(async () => await api.resolve(openid)) }}>Resolve</button>}
            {conversation?.status === 'resolved' && <button type='button' data-testid='reopen' disabled={busy} onClick={() => { void act(async () => await api.reopen(openid)) }}>Reopen</button>}
            {handover === 'none'
              ? <button type='button' data-testid='handover' disabled={busy} title="Hand the user over to WeChat's official customer-service tool" onClick={() => { void act(async () => await api.handover(openid)) }}>Hand over</button>
              : <button type='button' data-testid='takeback' disabled={busy} onClick={() => { void act(async () => await api.takeBack(openid)) }}>Take back</button>}
          </div>
        </header>
        <div class='conv-status'>
          <span data-testid='handover-state' data-state={handover} class={`handover handover-${handover}`}>{HANDOVER_LABEL[handover]}</span>
          {viewing.length > 0 && <span data-testid='presence-viewing' class='presence'>Also viewing: {names(viewing)}</span>}
          {typing.length > 0 && <span data-testid='presence-typing' class='presence typing'>{names(typing)} typing…</span>}
        </div>
        {loadError !== null && <p class='error' role='alert'>{loadError}</p>}
        {error !== null && <p class='error' role='alert'>{error}</p>}
        <ol class='messages' ref={listRef} aria-live='polite'>
          {(hidden > 0 || open.older !== null) && <li class='older'><button type='button' class='link' data-testid='load-older' disabled={loadingOlder} onClick={() => { void loadOlder() }}>{hidden > 0 ? `Show ${Math.min(hidden, SHOWN_MESSAGES)} earlier messages` : 'Load older messages'}</button></li>}
          {shown.map((m) => <MessageItem key={m.id} message={m} localError={localErrors[m.id]} />)}
        </ol>
        <div class='meter-row'><span class='muted'>Replies left</span> <Meter window={window} now={now} /></div>
        <ReplyBox disabledReason={replyDisabledReason(conversation, window, now)} onSend={send} onTyping={onTyping} />
      </section>
      <SidePanel openid={openid} messages={open.messages} window={window} notes={open.notes} now={now} onNoteAdded={(note) => { dispatch({ type: 'event', event: { type: 'note', note } }) }} />
    </div>
  )
}
