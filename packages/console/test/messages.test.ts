// What a stored message shows, its delivery state, and the side panel's histories (src/messages.ts).
import t from 'tap'
import type { ConsoleMessage } from '@weapp/common'
import { SHOWN_MESSAGES, deliveryState, limitShowingArrivals, mediaUrl, messageBody, newestMessages, outboundPayload, sessionEntries, windowHistory } from '../src/messages.js'

const time = (s: number): string => new Date(Date.parse('2026-12-04T00:00:00Z') + s * 1000).toISOString()
const inbound = (id: string, sec: number, msgType: string, message: Record<string, unknown>, event?: string): ConsoleMessage =>
  ({ id, direction: 'in', openid: 'u', msgType, createdAt: time(sec), message: { MsgType: msgType, ...message }, ...(event !== undefined ? { event } : {}) })
const outbound = (id: string, sec: number, outcome: string): ConsoleMessage =>
  ({ id, direction: 'out', openid: 'u', msgType: 'text', createdAt: time(sec), message: outboundPayload({ type: 'text', text: id }), outcome })

t.test('inbound pushes: text, image, card, session entry, anything else', async (t) => {
  t.same(messageBody(inbound('1', 0, 'text', { Content: 'hi' })), { kind: 'text', text: 'hi' })
  t.same(messageBody(inbound('2', 0, 'image', { MediaId: 'M1', PicUrl: 'http://x' })), { kind: 'image', mediaId: 'M1' })
  t.same(messageBody(inbound('3', 0, 'miniprogrampage', { Title: 'T', PagePath: 'pages/a', ThumbMediaId: 'TH' })), { kind: 'card', title: 'T', pagepath: 'pages/a', thumbMediaId: 'TH' })
  t.same(messageBody(inbound('4', 0, 'event', { Event: 'user_enter_tempsession', SessionFrom: 'order-42' }, 'user_enter_tempsession')), { kind: 'entry', sessionFrom: 'order-42' })
  t.same(messageBody(inbound('5', 0, 'voice', {})), { kind: 'other', label: '[voice]' })
  t.equal(mediaUrl('a/b'), '/api/console/media/a%2Fb')
})

t.test('outbound send bodies read back as what the agent sent', async (t) => {
  const card = { type: 'miniprogrampage' as const, title: 'T', pagepath: 'p', thumbMediaId: 'TH' }
  const asMessage = (message: Record<string, unknown>, msgType: string): ConsoleMessage => ({ id: 'o', direction: 'out', openid: 'u', msgType, createdAt: time(0), message })
  t.same(messageBody(asMessage(outboundPayload({ type: 'text', text: 'yo' }), 'text')), { kind: 'text', text: 'yo' })
  t.same(messageBody(asMessage(outboundPayload({ type: 'image', mediaId: 'M' }), 'image')), { kind: 'image', mediaId: 'M' })
  t.same(messageBody(asMessage(outboundPayload(card), 'miniprogrampage')), { kind: 'card', title: 'T', pagepath: 'p', thumbMediaId: 'TH' })
})

t.test('delivery state: pending is sending, sent is sent, every other outcome failed', async (t) => {
  t.equal(deliveryState(outbound('a', 0, 'pending')), 'sending')
  t.equal(deliveryState(outbound('a', 0, 'sent')), 'sent')
  for (const outcome of ['refused', 'rejected', 'failed', 'unknown']) t.equal(deliveryState(outbound('a', 0, outcome)), 'failed', outcome)
})

t.test('session entries and window history from the loaded messages', async (t) => {
  const messages = [
    inbound('1', 0, 'text', { Content: 'hi' }),
    outbound('o1', 10, 'sent'),
    outbound('o2', 20, 'rejected'),
    inbound('2', 100, 'event', { Event: 'user_enter_tempsession', SessionFrom: 'cart' }, 'user_enter_tempsession'),
    outbound('o3', 110, 'sent'),
    outbound('o4', 200, 'sent'),
    inbound('3', 300, 'event', { Event: 'subscribe_msg_popup_event' }, 'subscribe_msg_popup_event')
  ]
  t.same(sessionEntries(messages), [{ at: time(100), sessionFrom: 'cart' }])
  t.same(windowHistory(messages), [
    { kind: 'message', openedAt: time(0), closesAt: time(48 * 3600), quota: 5, sent: 1 },
    { kind: 'session', openedAt: time(100), closesAt: time(160), quota: 2, sent: 1 }
  ], 'a session entry resets the window; a send after it closed counts in none; other events open none')
})

t.test('newestMessages: the newest `limit` rendered, the rest counted as hidden', async (t) => {
  const list = [1, 2, 3, 4, 5]
  t.same(newestMessages(list, 3), { shown: [3, 4, 5], hidden: 2 })
  t.equal(newestMessages(list, 5).shown, list, 'all within the limit: the same array (no copy per render)')
  t.same(newestMessages(list, 10), { shown: list, hidden: 0 })
  t.same(newestMessages(list, 0), { shown: [], hidden: 5 })
  t.same(newestMessages([], SHOWN_MESSAGES), { shown: [], hidden: 0 })
  t.ok(SHOWN_MESSAGES >= 50, 'at least a page of the server\'s')
})

t.test('limitShowingArrivals: a message that arrived since the last render is never among the hidden ones', async (t) => {
  const m = (id: string): { id: string } => ({ id })
  const list = [m('a'), m('late'), m('b'), m('c'), m('d')]
  t.equal(limitShowingArrivals(list, 2, new Set(['a', 'b', 'c', 'd'])), 4, 'raised to show the late arrival (index 1)')
  t.equal(limitShowingArrivals(list, 2, new Set(['a', 'late', 'b', 'c', 'd'])), 2, 'nothing new: unchanged')
  t.equal(limitShowingArrivals(list, 2, new Set(['a', 'late', 'b'])), 2, 'new ones among the shown: unchanged')
  t.equal(limitShowingArrivals(list, 10, new Set()), 10, 'all shown already')
})
