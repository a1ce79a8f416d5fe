import type { Conversation, WindowView } from '@weapp/common'

// The allowance meter and the reply box's state, from the send window (docs/wechat/limits.md#send-windows):
// "3/5 · closes in 41 h 12 m" for a user-message window, "2 · 48 s" after a session entry.

/** A countdown: "41 h 12 m", "3 m 5 s", "48 s" (whole seconds, rounded down). */
export function formatCountdown (ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000))
  const h = Math.floor(total / 3600)
  const m = Math.floor((total % 3600) / 60)
  const s = total % 60
  if (h > 0) return `${h} h ${m} m`
  if (m > 0) return `${m} m ${s} s`
  return `${s} s`
}

export function windowOpen (window: WindowView | null, now: number): window is WindowView {
  return window !== null && Date.parse(window.expiresAt) > now
}

/** The meter's text at `now`. */
export function meterText (window: WindowView | null, now: number): string {
  if (window === null) return 'no window'
  const left = Date.parse(window.expiresAt) - now
  if (window.kind === 'session') return left > 0 ? `${window.remaining} · ${formatCountdown(left)}` : `${window.remaining} · closed`
  return left > 0 ? `${window.remaining}/${window.quota} · closes in ${formatCountdown(left)}` : `${window.remaining}/${window.quota} · closed`
}

/** Why the reply box is disabled at `now`, or null when a reply can be sent. */
export function replyDisabledReason (conversation: Pick<Conversation, 'handover'> | null, window: WindowView | null, now: number): string | null {
  if (conversation?.handover === 'official') return 'Handed over to WeChat\'s official customer-service tool: take it back to reply here.'
  if (!windowOpen(window, now)) return 'The user\'s window is closed: WeChat accepts no message until the user writes again.'
  if (window.remaining === 0) return 'No messages left in this window: WeChat allows no more until the user writes again.'
  return null
}
