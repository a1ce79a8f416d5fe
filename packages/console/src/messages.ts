import type { ConsoleMessage } from '@weapp/common'

// What a stored message shows: inbound messages are WeChat's push payloads (Content, MediaId, Title,
// PagePath, ThumbMediaId, SessionFrom…), outbound ones the custom/send bodies (text.content,
// image.media_id, miniprogrampage.{title, pagepath, thumb_media_id}).

export type MessageBody =
  | { kind: 'text', text: string }
  | { kind: 'image', mediaId: string | null }
  | { kind: 'card', title: string, pagepath: string, thumbMediaId: string | null }
  | { kind: 'entry', sessionFrom: string }
  | { kind: 'other', label: string }

export type DeliveryState = 'sending' | 'sent' | 'failed'

export const SESSION_ENTRY = 'user_enter_tempsession'
/** The windows a user's action opens (docs/wechat/limits.md#send-windows). */
export const MESSAGE_WINDOW = { quota: 5, ms: 48 * 3600_000 }
export const SESSION_WINDOW = { quota: 2, ms: 60_000 }

const str = (value: unknown): string | null => (typeof value === 'string' && value !== '' ? value : null)
const obj = (value: unknown): Record<string, unknown> => (typeof value === 'object' && value !== null ? value as Record<string, unknown> : {})

export function isSessionEntry (m: ConsoleMessage): boolean {
  return m.direction === 'in' && (m.event ?? str(m.message.Event)) === SESSION_ENTRY
}

export function messageBody (m: ConsoleMessage): MessageBody {
  const p = m.message
  if (m.direction === 'in') {
    if (isSessionEntry(m)) return { kind: 'entry', sessionFrom: str(p.SessionFrom) ?? '' }
    if (m.msgType === 'text') return { kind: 'text', text: str(p.Content) ?? '' }
    if (m.msgType === 'image') return { kind: 'image', mediaId: str(p.MediaId) }
    if (m.msgType === 'miniprogrampage') return { kind: 'card', title: str(p.Title) ?? '', pagepath: str(p.PagePath) ?? '', thumbMediaId: str(p.ThumbMediaId) }
    return { kind: 'other', label: m.msgType === 'event' ? `[event: ${m.event ?? str(p.Event) ?? '?'}]` : `[${m.msgType}]` }
  }
  if (m.msgType === 'text') return { kind: 'text', text: str(obj(p.text).content) ?? '' }
  if (m.msgType === 'image') return { kind: 'image', mediaId: str(obj(p.image).media_id) }
  if (m.msgType === 'miniprogrampage') {
    const card = obj(p.miniprogrampage)
    return { kind: 'card', title: str(card.title) ?? '', pagepath: str(card.pagepath) ?? '', thumbMediaId: str(card.thumb_media_id) }
  }
  return { kind: 'other', label: `[${m.msgType}]` }
}

/** An outbound message's state: pending is sending; refused, rejected, failed and unknown are failures. */
export function deliveryState (m: ConsoleMessage): DeliveryState {
  if (m.outcome === undefined || m.outcome === 'pending' || m.outcome === 'sending') return 'sending'
  return m.outcome === 'sent' ? 'sent' : 'failed'
}

/** The media proxy's URL for an inbound picture or a card thumbnail (the CSP allows img-src 'self'). */
export function mediaUrl (mediaId: string): string {
  return `/api/console/media/${encodeURIComponent(mediaId)}`
}

export interface SessionEntry { at: string, sessionFrom: string }
export interface WindowRecord { kind: 'message' | 'session', openedAt: string, closesAt: string, quota: number, sent: number }

/** The session entries among the loaded messages, oldest first. */
export function sessionEntries (messages: readonly ConsoleMessage[]): SessionEntry[] {
  return messages.filter(isSessionEntry).map((m) => ({ at: m.createdAt, sessionFrom: str(m.message.SessionFrom) ?? '' }))
}

/**
 * The windows the loaded messages opened (each user message or session entry starts a new one: quotas never
 * add up) and the replies sent in each, oldest first.
 */
export function windowHistory (messages: readonly ConsoleMessage[]): WindowRecord[] {
  const windows: WindowRecord[] = []
  for (const m of messages) {
    const at = Date.parse(m.createdAt)
    if (m.direction === 'in') {
      const entry = isSessionEntry(m)
      if (!entry && m.msgType === 'event') continue
      const rule = entry ? SESSION_WINDOW : MESSAGE_WINDOW
      windows.push({ kind: entry ? 'session' : 'message', openedAt: m.createdAt, closesAt: new Date(at + rule.ms).toISOString(), quota: rule.quota, sent: 0 })
    } else if (m.outcome === 'sent') {
      const current = windows[windows.length - 1]
      if (current !== undefined && at <= Date.parse(current.closesAt)) current.sent++
    }
  }
  return windows
}

/** The custom/send body a pending send shows until the server's record replaces it. */
export function outboundPayload (body: { type: 'text', text: string } | { type: 'image', mediaId: string } | { type: 'miniprogrampage', title: string, pagepath: string, thumbMediaId: string }): Record<string, unknown> {
  if (body.type === 'text') return { msgtype: 'text', text: { content: body.text } }
  if (body.type === 'image') return { msgtype: 'image', image: { media_id: body.mediaId } }
  return { msgtype: 'miniprogrampage', miniprogrampage: { title: body.title, pagepath: body.pagepath, thumb_media_id: body.thumbMediaId } }
}

/** How many of the newest messages the open conversation renders at first, and how many more each request shows. */
export const SHOWN_MESSAGES = 200

/**
 * The newest `limit` messages and how many older loaded ones are left out. A conversation of thousands of
 * messages re-rendered (and laid out, to keep it scrolled to the bottom) for every live message took the
 * page's time at 200 messages/s (`pnpm bench:console`, `open`); the agent asks for the earlier ones.
 */
export function newestMessages<T> (messages: readonly T[], limit: number): { shown: readonly T[], hidden: number } {
  const hidden = Math.max(0, messages.length - Math.max(0, limit))
  return { shown: hidden === 0 ? messages : messages.slice(hidden), hidden }
}

/**
 * `limit`, raised so that no message that arrived since the last render is among the hidden ones: a message
 * processed late (after a retry) carries its original time and sorts far up; hidden, the agent would never
 * see it arrive (seen in `pnpm bench:console`, `open`). `known`: the ids rendered before.
 */
export function limitShowingArrivals (messages: ReadonlyArray<{ id: string }>, limit: number, known: ReadonlySet<string>): number {
  const hidden = messages.length - limit
  for (let i = 0; i < hidden; i++) if (!known.has(messages[i]!.id)) return messages.length - i
  return limit
}
