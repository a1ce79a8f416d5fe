// The allowance meter's text and the reply box's disabled reason (src/meter.ts).
import t from 'tap'
import { formatCountdown, meterText, replyDisabledReason, windowOpen } from '../src/meter.js'

const now = Date.parse('2026-12-04T00:00:00.000Z')
const at = (ms: number): string => new Date(now + ms).toISOString()

t.test('a countdown in hours and minutes, minutes and seconds, or seconds, rounded down', async (t) => {
  t.equal(formatCountdown((41 * 3600 + 12 * 60 + 59) * 1000), '41 h 12 m')
  t.equal(formatCountdown(48 * 3600_000), '48 h 0 m')
  t.equal(formatCountdown(3 * 60_000 + 5_999), '3 m 5 s')
  t.equal(formatCountdown(48_999), '48 s')
  t.equal(formatCountdown(-5), '0 s')
})

t.test('a user-message window: remaining/quota · closes in …', async (t) => {
  const window = { kind: 'message' as const, remaining: 3, quota: 5, expiresAt: at((41 * 3600 + 12 * 60) * 1000 + 500) }
  t.equal(meterText(window, now), '3/5 · closes in 41 h 12 m')
  t.equal(meterText(window, Date.parse(window.expiresAt)), '3/5 · closed')
})

t.test('a session-entry window: remaining · seconds, counting down every second', async (t) => {
  const window = { kind: 'session' as const, remaining: 2, quota: 2, expiresAt: at(48_000) }
  t.equal(meterText(window, now), '2 · 48 s')
  t.equal(meterText(window, now + 1000), '2 · 47 s')
  t.equal(meterText(window, now + 48_000), '2 · closed')
  t.equal(meterText(null, now), 'no window')
})

t.test('the reply box is disabled when the window is closed, used up or handed over, with the reason', async (t) => {
  const open = { kind: 'message' as const, remaining: 1, quota: 5, expiresAt: at(60_000) }
  t.equal(replyDisabledReason({ handover: 'none' }, open, now), null)
  t.equal(replyDisabledReason({ handover: 'requested' }, open, now), null, 'a requested hand-over still answers here until the user writes')
  t.match(replyDisabledReason({ handover: 'none' }, { ...open, remaining: 0 }, now), /No messages left/)
  t.match(replyDisabledReason({ handover: 'none' }, open, now + 60_000), /window is closed/)
  t.match(replyDisabledReason({ handover: 'none' }, null, now), /window is closed/)
  t.match(replyDisabledReason({ handover: 'official' }, open, now), /official customer-service tool/)
  t.ok(windowOpen(open, now))
  t.notOk(windowOpen(open, now + 60_000))
})
