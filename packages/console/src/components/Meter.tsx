import type { WindowView } from '@weapp/common'
import { meterText, windowOpen } from '../meter.js'

export function Meter ({ window, now }: { window: WindowView | null, now: number }) {
  const open = windowOpen(window, now) && window.remaining > 0
  const title = window === null ? 'No send window' : window.kind === 'session' ? 'Replies left after the session entry · time left' : 'Replies left of this window · time left'
  return <span class={`meter ${open ? 'meter-open' : 'meter-closed'}`} data-testid='meter' title={title} role='status'>{meterText(window, now)}</span>
}
