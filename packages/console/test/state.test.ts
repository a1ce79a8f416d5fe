// The inbox state: unread counts, the tab title, and events applied to the list and the open conversation
// (src/state.ts).
import t from 'tap'
import type { ConsoleMessage, Conversation, Note } from '@weapp/common'
import { type InboxState, initialState, matchesFilter, pageTitle, reduce, totalUnread, unreadFor, upsertById } from '../src/state.js'

const ME = 'agent-1'
const time = (s: number): string => new Date(Date.parse('2026-12-04T00:00:00Z') + s * 1000).toISOString()

function conversation (openid: string, lastAtSec: number, extra: Partial<Conversation> = {}): Conversation {
  return {
    openid,
    status: 'open',
    assignee: null,
    lastAt: time(lastAtSec),
    last: { direction: 'in', msgType: 'text', preview: `hi from ${openid}` },
    inboundCount: 1,
    readCounts: {},
    handover: 'none',
    window: null,
    ...extra
  }
}

function message (id: string, openid: string, sec: number, extra: Partial<ConsoleMessage> = {}): ConsoleMessage {
  return { id, direction: 'in', openid, msgType: 'text', createdAt: time(sec), message: { Content: id }, ...extra }
}

const listed = (state: InboxState): string[] => state.items.map((c) => c.openid)

t.test('unread is inboundCount minus what this agent read; the title counts them', async (t) => {
  const c = conversation('u1', 1, { inboundCount: 5, readCounts: { [ME]: 2, other: 5 } })
  t.equal(unreadFor(c, ME), 3)
  t.equal(unreadFor(c, 'other'), 0)
  t.equal(unreadFor(c, 'new-agent'), 5)
  t.equal(totalUnread([c, conversation('u2', 2, { inboundCount: 2 })], ME), 5)
  t.equal(pageTitle(5), '(5) Console')
  t.equal(pageTitle(0), 'Console')
})

t.test('the filters: mine, unassigned, all × open, resolved', async (t) => {
  const mine = conversation('a', 1, { assignee: { agentId: ME, displayName: 'Me' } })
  const theirs = conversation('b', 1, { assignee: { agentId: 'x', displayName: 'X' } })
  const free = conversation('c', 1)
  t.ok(matchesFilter(mine, { view: 'mine', status: 'open' }, ME))
  t.notOk(matchesFilter(theirs, { view: 'mine', status: 'open' }, ME))
  t.ok(matchesFilter(free, { view: 'unassigned', status: 'open' }, ME))
  t.notOk(matchesFilter(mine, { view: 'unassigned', status: 'open' }, ME))
  t.ok(matchesFilter(theirs, { view: 'all', status: 'open' }, ME))
  t.notOk(matchesFilter(free, { view: 'all', status: 'resolved' }, ME))
})

t.test('conversation events keep the list sorted by lastAt, add, move and drop entries as the filter says', async (t) => {
  let state = reduce(initialState(ME), { type: 'list-loaded', items: [conversation('a', 10), conversation('b', 5)], next: null, append: false })
  t.same(listed(state), ['a', 'b'])
  state = reduce(state, { type: 'event', event: { type: 'conversation', conversation: conversation('b', 20, { inboundCount: 2 }) } })
  t.same(listed(state), ['b', 'a'], 'a new message moves it to the top')
  t.equal(state.items[0]?.inboundCount, 2, 'replaced, not duplicated')
  state = reduce(state, { type: 'event', event: { type: 'conversation', conversation: conversation('c', 15) } })
  t.same(listed(state), ['b', 'c', 'a'], 'a new conversation appears in its place')
  state = reduce(state, { type: 'event', event: { type: 'conversation', conversation: conversation('c', 15, { status: 'resolved' }) } })
  t.same(listed(state), ['b', 'a'], 'resolved: gone from the open list')
  const again = reduce(state, { type: 'event', event: { type: 'conversation', conversation: state.items[0]! } })
  t.same(listed(again), listed(state), 'the same event twice changes nothing')

  let mine = reduce({ ...initialState(ME), filter: { view: 'mine', status: 'open' } }, { type: 'list-loaded', items: [], next: null, append: false })
  mine = reduce(mine, { type: 'event', event: { type: 'conversation', conversation: conversation('d', 1, { assignee: { agentId: ME, displayName: 'Me' } }) } })
  t.same(listed(mine), ['d'], 'claimed by me: in "mine"')
  mine = reduce(mine, { type: 'event', event: { type: 'conversation', conversation: conversation('d', 1) } })
  t.same(listed(mine), [], 'released: out of "mine"')
})

t.test('pages: load more appends without duplicates; an event older than the loaded pages waits for its page', async (t) => {
  let state = reduce(initialState(ME), { type: 'list-loaded', items: [conversation('a', 30), conversation('b', 20)], next: 'cursor-1', append: false })
  state = reduce(state, { type: 'event', event: { type: 'conversation', conversation: conversation('old', 5) } })
  t.same(listed(state), ['a', 'b'], 'older than the last loaded while more pages exist')
  state = reduce(state, { type: 'list-loaded', items: [conversation('b', 20), conversation('c', 10)], next: null, append: true })
  t.same(listed(state), ['a', 'b', 'c'])
  t.equal(state.next, null)
  const live = conversation('c', 40, { inboundCount: 7 })
  state = reduce(state, { type: 'event', event: { type: 'conversation', conversation: live } })
  state = reduce(state, { type: 'list-loaded', items: [conversation('c', 10), conversation('a', 30)], next: null, append: false })
  t.same(listed(state), ['c', 'a'], 'a reload replaces the list')
  t.equal(state.items[0]?.inboundCount, 7, 'but an event newer than the page it raced with is kept')
  state = reduce(state, { type: 'filter', filter: { view: 'unassigned', status: 'open' } })
  t.same(listed(state), [], 'a new filter starts from an empty list')
})

t.test('the open conversation: events for it update its messages, notes, conversation and window; others leave it alone', async (t) => {
  let state = reduce(initialState(ME), { type: 'open', openid: 'u1' })
  state = reduce(state, { type: 'messages-loaded', openid: 'u1', items: [message('m2', 'u1', 2), message('m1', 'u1', 1)], next: 'older', older: false })
  t.same(state.open?.messages.map((m) => m.id), ['m1', 'm2'], 'newest-first pages shown oldest first')
  t.equal(state.open?.older, 'older')
  state = reduce(state, { type: 'event', event: { type: 'message', message: message('m3', 'u1', 3) } })
  state = reduce(state, { type: 'event', event: { type: 'message', message: message('x', 'u2', 4) } })
  t.same(state.open?.messages.map((m) => m.id), ['m1', 'm2', 'm3'])
  const pending = message('o1', 'u1', 5, { direction: 'out', outcome: 'pending' })
  state = reduce(state, { type: 'event', event: { type: 'message', message: pending } })
  state = reduce(state, { type: 'event', event: { type: 'message', message: { ...pending, outcome: 'rejected', errcode: 45047 } } })
  t.same(state.open?.messages.map((m) => `${m.id}:${m.outcome ?? ''}`), ['m1:', 'm2:', 'm3:', 'o1:rejected'], 'an outcome replaces the pending record')
  state = reduce(state, { type: 'message-removed', openid: 'u1', id: 'o1' })
  t.equal(state.open?.messages.length, 3)

  const window = { kind: 'message' as const, remaining: 4, quota: 5, expiresAt: time(3600) }
  state = reduce(state, { type: 'event', event: { type: 'conversation', conversation: conversation('u1', 5, { window, assignee: { agentId: 'x', displayName: 'X' } }) } })
  t.equal(state.open?.conversation?.assignee?.displayName, 'X')
  t.same(state.open?.window, window)

  const note: Note = { id: 'n1', openid: 'u1', author: { agentId: ME, displayName: 'Me' }, text: 'vip', createdAt: time(6) }
  state = reduce(state, { type: 'event', event: { type: 'note', note } })
  state = reduce(state, { type: 'event', event: { type: 'note', note } })
  t.same(state.open?.notes.map((n) => n.id), ['n1'], 'a note event twice is one note')

  state = reduce(state, { type: 'messages-loaded', openid: 'u2', items: [message('y', 'u2', 1)], next: null, older: false })
  t.equal(state.open?.messages.length, 3, 'an answer for another conversation is dropped')
  state = reduce(state, { type: 'open', openid: null })
  t.equal(state.open, null)
})

t.test('a batch of events is the same as each applied in turn; an unchanged message stays the same object', async (t) => {
  let start = reduce(initialState(ME), { type: 'open', openid: 'u1' })
  start = reduce(start, { type: 'messages-loaded', openid: 'u1', items: [message('m1', 'u1', 1)], next: null, older: false })
  const events = [
    { type: 'message' as const, message: message('m2', 'u1', 2) },
    { type: 'conversation' as const, conversation: conversation('u1', 2, { inboundCount: 2 }) },
    { type: 'conversation' as const, conversation: conversation('u2', 3) },
    { type: 'message' as const, message: message('m3', 'u1', 3) },
    { type: 'message' as const, message: message('m2', 'u1', 2) }
  ]
  const batched = reduce(start, { type: 'events', events })
  const oneByOne = events.reduce((s, event) => reduce(s, { type: 'event', event }), start)
  t.same(batched, oneByOne)
  t.same(listed(batched), ['u2', 'u1'])
  t.same(batched.open?.messages.map((m) => m.id), ['m1', 'm2', 'm3'])
  t.equal(batched.open?.messages[0], start.open?.messages[0], 'm1 untouched: the view need not re-render it')
  t.equal(reduce(start, { type: 'events', events: [] }), start, 'an empty batch changes nothing')
})

t.test('upsertById: appends a newer entry, inserts an older one in createdAt order, replaces one with the same id, leaves the input as it was', async (t) => {
  const e = (id: string, s: number): { id: string, createdAt: string } => ({ id, createdAt: time(s) })
  const list = [e('a', 1), e('b', 2), e('c', 4)]
  const ids = (l: Array<{ id: string }>): string[] => l.map((x) => x.id)
  t.same(ids(upsertById(list, e('d', 5))), ['a', 'b', 'c', 'd'], 'newest: at the end')
  t.same(ids(upsertById(list, e('x', 3))), ['a', 'b', 'x', 'c'], 'older: in its place')
  t.same(ids(upsertById(list, e('y', 0))), ['y', 'a', 'b', 'c'], 'oldest: first')
  t.same(ids(upsertById(list, e('z', 2))), ['a', 'b', 'z', 'c'], 'same time: after those already there')
  const replaced = upsertById(list, { id: 'b', createdAt: time(2), state: 'sent' } as { id: string, createdAt: string })
  t.same(ids(replaced), ['a', 'b', 'c'])
  t.match(replaced[1], { state: 'sent' }, 'replaced in place')
  t.same(ids(upsertById([], e('a', 1))), ['a'])
  t.same(ids(list), ['a', 'b', 'c'], 'the input is not changed')
})
