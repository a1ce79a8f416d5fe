// The `/` canned-reply menu (src/canned.ts).
import t from 'tap'
import { cannedQuery, filterCanned } from '../src/canned.js'

const replies = [
  { id: '1', shortcut: 'hello', text: 'Hello! How can I help?' },
  { id: '2', shortcut: 'thanks', text: 'Thank you for waiting.' },
  { id: '3', shortcut: 'hours', text: 'We answer 9:00-18:00.' },
  { id: '4', shortcut: 'refund', text: 'Refunds take 3 days, hello again.' }
]

t.test('the menu opens on a leading "/" and closes at the first space or without it', async (t) => {
  t.equal(cannedQuery('/'), '')
  t.equal(cannedQuery('/He'), 'he')
  t.equal(cannedQuery('/he llo'), null)
  t.equal(cannedQuery('hello /he'), null)
  t.equal(cannedQuery(''), null)
})

t.test('filtering: shortcut prefix first, then shortcut or text containing it', async (t) => {
  t.same(filterCanned(replies, '').map((r) => r.id), ['1', '2', '3', '4'])
  t.same(filterCanned(replies, 'h').map((r) => r.id), ['1', '3', '2', '4'])
  t.same(filterCanned(replies, 'hello').map((r) => r.id), ['1', '4'])
  t.same(filterCanned(replies, 'REF').map((r) => r.id), ['4'])
  t.same(filterCanned(replies, 'zzz'), [])
  t.equal(filterCanned(replies, '', 2).length, 2, 'bounded')
})
