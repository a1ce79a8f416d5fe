import type { ConsoleMessage, WindowView } from '@weapp/common'
import type { LastMessage } from '../repositories/conversations.js'
import type { InboundRecord, MessageRecord, OutboundRecord } from '../repositories/types.js'
import { WINDOW_RULES, type WindowState } from '../windows/send-windows.js'

/** The conversation list shows a line, not the message: previews are cut here. */
export const PREVIEW_MAX_CHARS = 120

function cut (text: string): string {
  const chars = [...text]
  return chars.length <= PREVIEW_MAX_CHARS ? text : `${chars.slice(0, PREVIEW_MAX_CHARS - 1).join('')}…`
}

function field (message: object, name: string): string | undefined {
  const value = (message as Record<string, unknown>)[name]
  return typeof value === 'string' ? value : undefined
}

/** The list's line for a user's message: the text, `[image]`, a card's title, `[entered: <SessionFrom>]`. */
export function inboundPreview (r: Pick<InboundRecord, 'msgType' | 'event' | 'message'>): LastMessage {
  const m = r.message
  let preview: string
  if (r.msgType === 'text') preview = field(m, 'Content') ?? ''
  else if (r.msgType === 'image') preview = '[image]'
  else if (r.msgType === 'miniprogrampage') preview = field(m, 'Title') ?? '[card]'
  else if (r.event === 'user_enter_tempsession') preview = `[entered: ${field(m, 'SessionFrom') ?? ''}]`
  else if (r.event !== undefined) preview = `[event: ${r.event}]`
  else preview = `[${r.msgType}]`
  return { direction: 'in', msgType: r.msgType, preview: cut(preview) }
}

/** The list's line for one of our sends. */
export function outboundPreview (r: Pick<OutboundRecord, 'message'>): LastMessage {
  const m = r.message
  let preview: string
  switch (m.msgtype) {
    case 'text': preview = m.text.content; break
    case 'image': preview = '[image]'; break
    case 'link': preview = m.link.title; break
    case 'miniprogrampage': preview = m.miniprogrampage.title; break
    default: preview = `[${String((m as { msgtype?: unknown }).msgtype)}]`
  }
  return { direction: 'out', msgType: m.msgtype, preview: cut(preview) }
}

/** A message of the log as the console shows it (contracts/console.ts). */
export function consoleMessage (r: MessageRecord): ConsoleMessage {
  const m: ConsoleMessage = {
    id: r.key,
    direction: r.direction,
    openid: r.openid,
    msgType: r.msgType,
    createdAt: r.createdAt.toISOString(),
    message: r.message as unknown as Record<string, unknown>
  }
  if (r.direction === 'in') {
    if (r.event !== undefined) m.event = r.event
    return m
  }
  m.outcome = r.outcome
  m.sentBy = r.sentBy
  if (r.sentByName !== undefined) m.sentByName = r.sentByName
  if (r.errcode !== undefined) m.errcode = r.errcode
  if (r.errorCode !== undefined) m.errorCode = r.errorCode
  return m
}

/** A send window as the console shows it. */
export function windowView (w: WindowState | null): WindowView | null {
  if (w === null) return null
  return { kind: w.kind, remaining: w.remaining, quota: WINDOW_RULES[w.kind].quota, expiresAt: w.expiresAt.toISOString() }
}
