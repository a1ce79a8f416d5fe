// Socket events batched per flush (src/event-batch.ts): one apply per scheduled flush with every event since,
// in arrival order; nothing scheduled twice; an explicit flush applies at once and the scheduled one is empty.
import t from 'tap'
import { EventBatch } from '../src/event-batch.js'

t.test('events arriving before the flush are applied together, in order; then a new batch starts', async (t) => {
  const applied: number[][] = []
  const scheduled: Array<() => void> = []
  const batch = new EventBatch<number>((events) => { applied.push(events) }, (flush) => { scheduled.push(flush) })
  for (let i = 1; i <= 5; i++) batch.add(i)
  t.equal(scheduled.length, 1, 'one flush scheduled for five events')
  t.same(applied, [], 'nothing applied before the flush')
  scheduled.shift()!()
  t.same(applied, [[1, 2, 3, 4, 5]])
  batch.add(6)
  t.equal(scheduled.length, 1, 'the next event schedules the next flush')
  scheduled.shift()!()
  t.same(applied, [[1, 2, 3, 4, 5], [6]])
})

t.test('flush now (before a resync) applies what is queued; the scheduled flush then has nothing', async (t) => {
  const applied: string[][] = []
  const scheduled: Array<() => void> = []
  const batch = new EventBatch<string>((events) => { applied.push(events) }, (flush) => { scheduled.push(flush) })
  batch.add('a')
  batch.add('b')
  batch.flush()
  t.same(applied, [['a', 'b']])
  scheduled.shift()!()
  t.same(applied, [['a', 'b']], 'no empty batch applied')
  batch.add('c')
  t.equal(scheduled.length, 1, 'scheduled again after the early flush ran')
  scheduled.shift()!()
  t.same(applied, [['a', 'b'], ['c']])
})
