import t from 'tap'
import { waitFor } from '../src/index.js'

t.test('a wait that times out says what it waited for, and how long', async (t) => {
  const started = Date.now()
  await t.rejects(waitFor(() => false, { timeoutMs: 50, what: 'the queue to drain' }), { message: 'timed out after 50 ms waiting for the queue to drain' })
  t.ok(Date.now() - started >= 50, 'it kept polling until the deadline')
})

t.test('without `what`, the message still says it was a timed-out wait', async (t) => {
  await t.rejects(waitFor(() => false, { timeoutMs: 20 }), { message: 'timed out after 20 ms waiting for a condition' })
})

t.test('polls until the condition holds, and returns what it returned', async (t) => {
  let polls = 0
  const found = await waitFor(() => ++polls >= 3 ? `after ${polls}` : undefined, { timeoutMs: 1000 })
  t.equal(found, 'after 3')
})

t.test('an async condition is awaited', async (t) => {
  let ready = false
  setTimeout(() => { ready = true }, 30)
  t.equal(await waitFor(async () => await Promise.resolve(ready), { timeoutMs: 1000, what: 'ready' }), true)
})

t.test('a condition that throws ends the wait with its error', async (t) => {
  await t.rejects(waitFor(() => { throw new Error('probe broke') }, { timeoutMs: 1000 }), { message: 'probe broke' })
})

t.test('a step of the wall clock does not end a wait early (it waits on the monotonic clock)', async (t) => {
  const realNow = Date.now
  // The wall clock jumps 10 s ahead at the first poll (a VM's clock corrected), then runs on from there.
  let offset = 0
  Date.now = () => realNow() + offset
  t.teardown(() => { Date.now = realNow })
  let polls = 0
  const started = performance.now()
  const value = await waitFor(() => { polls++; offset = 10_000; return performance.now() - started >= 150 && 'done' }, { timeoutMs: 1000 })
  t.equal(value, 'done', `still polling after the step (${polls} polls)`)
})
