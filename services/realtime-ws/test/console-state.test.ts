// The console hub's state on its own: the event ring (what a hello can replay) and the presence table's
// bounds and expiries, with exact times.
import t from 'tap'
import { EventLog } from '../src/console/event-log.js'
import { Presence, REMOTE_TTL_MS, TYPING_MS } from '../src/console/presence.js'
import { conversation } from './fixtures/console.js'

const ANN = { agentId: 'a-ann', displayName: 'Ann' }
const BEN = { agentId: 'a-ben', displayName: 'Ben' }

t.test('the event ring holds the last `capacity` events; older ones, or numbers not given yet, are null', async (t) => {
  const log = new EventLog(3, 'epoch-1')
  t.same(log.after(0), [], 'nothing yet, nothing missed')
  for (let i = 1; i <= 5; i++) t.equal(log.append({ type: 'conversation', conversation: conversation(`o_${i}`) }).seq, i)
  t.equal(log.seq, 5)
  t.equal(log.oldest, 3)
  t.same(log.after(2)?.map((e) => e.seq), [3, 4, 5])
  t.match(log.after(4)?.map((e) => JSON.parse(e.frame)), [{ type: 'event', seq: 5, event: { type: 'conversation', conversation: { openid: 'o_5' } } }], 'the frame as sent')
  t.same(log.after(5), [])
  t.equal(log.after(1), null, 'event 2 was dropped')
  t.equal(log.after(6), null, 'a number this log never gave')
})

t.test('presence entries are bounded: past the bound new agents are not shown, known ones still change', async (t) => {
  const presence = new Presence(2)
  t.equal(presence.view(1, ANN, 'o_x', 0).length, 1)
  t.equal(presence.applyRemote('other', { agent: BEN, openid: 'o_x', typing: false }, 0).length, 1)
  t.same(presence.view(2, { agentId: 'a-cy', displayName: 'Cy' }, 'o_x', 0), [], 'a third agent is not held')
  t.same(presence.lookAt('o_x', 'nobody').viewing, [ANN, BEN])
  t.same(presence.view(1, ANN, 'o_y', 0), [{ openid: 'o_x', agentId: ANN.agentId }, { openid: 'o_y', agentId: ANN.agentId }])
  t.equal(presence.size, 2)
})

t.test('typing ends TYPING_MS after the last typing frame; another instance\'s entry goes REMOTE_TTL_MS after its last announcement', async (t) => {
  const presence = new Presence()
  presence.type(1, ANN, 'o_x', 1000)
  presence.applyRemote('other', { agent: BEN, openid: 'o_x', typing: true }, 1000)
  t.same(presence.lookAt('o_x', 'nobody').typing, [ANN, BEN])
  t.same(presence.sweep(1000 + TYPING_MS - 1).changes, [], 'not yet')
  const ended = presence.sweep(1000 + TYPING_MS)
  t.same(ended.changes.map((c) => c.agentId).sort(), [ANN.agentId, BEN.agentId])
  t.same(ended.ended, [ANN], 'only the agent here is announced (the other instance announces its own)')
  t.same(presence.lookAt('o_x', 'nobody'), { viewing: [ANN, BEN], typing: [] })

  presence.applyRemote('other', { agent: BEN, openid: 'o_x', typing: false }, 20_000)
  t.same(presence.sweep(20_000 + REMOTE_TTL_MS - 1).changes, [], 'refreshed at 20 s: still there')
  t.same(presence.sweep(20_000 + REMOTE_TTL_MS).changes, [{ openid: 'o_x', agentId: BEN.agentId }])
  t.same(presence.lookAt('o_x', 'nobody').viewing, [ANN], 'the agent here never expires while its socket is open')
  t.same(presence.drop(1, 100_000), [{ openid: 'o_x', agentId: ANN.agentId }])
  t.same(presence.openids(), [])
})
