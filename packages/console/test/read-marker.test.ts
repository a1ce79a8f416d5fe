// The open conversation's mark-read (src/read-marker.ts): the first read at once, then at most one in flight
// and one per interval however many messages arrive, a switch of conversation not held back, cancel drops
// what is pending. Time and timers are the test's own.
import t from 'tap'
import { ReadMarker, type Timers } from '../src/read-marker.js'

class FakeTimers implements Timers {
  time = 0
  private pending: Array<{ at: number, run: () => void, id: number }> = []
  private ids = 0
  set = (run: () => void, ms: number): unknown => {
    const id = ++this.ids
    this.pending.push({ at: this.time + ms, run, id })
    return id
  }

  clear = (handle: unknown): void => { this.pending = this.pending.filter((p) => p.id !== handle) }
  now = (): number => this.time

  /** Moves time on, running what falls due. */
  advance (ms: number): void {
    this.time += ms
    for (const due of this.pending.filter((p) => p.at <= this.time)) {
      this.pending = this.pending.filter((p) => p !== due)
      due.run()
    }
  }

  get scheduled (): number { return this.pending.length }
}

function harness (): { timers: FakeTimers, sent: string[], answer: () => Promise<void>, marker: ReadMarker } {
  const timers = new FakeTimers()
  const sent: string[] = []
  const answers: Array<() => void> = []
  const marker = new ReadMarker(async (openid) => {
    sent.push(openid)
    await new Promise<void>((resolve) => { answers.push(resolve) })
  }, 500, timers)
  const answer = async (): Promise<void> => {
    answers.shift()?.()
    // Lets the send's promise chain (then, finally) run.
    for (let i = 0; i < 5; i++) await Promise.resolve()
  }
  return { timers, sent, answer, marker }
}

t.test('first read at once; messages while it is in flight make one more, after the interval', async (t) => {
  const { timers, sent, answer, marker } = harness()
  marker.want('o1')
  t.same(sent, ['o1'], 'read on open, not held back')
  for (let i = 0; i < 50; i++) marker.want('o1')
  t.same(sent, ['o1'], 'one in flight: the rest wait')
  timers.advance(100)
  await answer()
  t.same(sent, ['o1'], 'the answer came 100 ms in: the next waits for the interval')
  t.equal(timers.scheduled, 1)
  timers.advance(399)
  t.same(sent, ['o1'])
  timers.advance(1)
  t.same(sent, ['o1', 'o1'], 'one read for the 50 messages')
  await answer()
  timers.advance(10_000)
  t.same(sent, ['o1', 'o1'], 'nothing more wanted: nothing more sent')
})

t.test('a steady stream read to zero each time still reads at most once per interval', async (t) => {
  const { timers, sent, answer, marker } = harness()
  // Each message: wanted, and the answer of each read brings the count to 0 (the app cancels).
  for (let ms = 0; ms < 2000; ms += 10) {
    marker.want('o1')
    await answer()
    marker.cancel()
    timers.advance(10)
  }
  t.ok(sent.length <= 5, `2 s of messages every 10 ms: ${sent.length} reads`)
  t.ok(sent.length >= 4, 'but it keeps reading')
})

t.test('another conversation reads at once, after the one in flight; cancel drops a pending read', async (t) => {
  const { timers, sent, answer, marker } = harness()
  marker.want('o1')
  marker.want('o2')
  t.same(sent, ['o1'], 'one in flight at a time')
  await answer()
  t.same(sent, ['o1', 'o2'], 'o2 as soon as o1 answered, not after the interval')
  await answer()
  marker.want('o2')
  t.equal(timers.scheduled, 1, 'held for the interval')
  marker.cancel()
  t.equal(timers.scheduled, 0)
  timers.advance(1000)
  t.same(sent, ['o1', 'o2'], 'the cancelled read never went')
  marker.want('o2')
  t.same(sent, ['o1', 'o2', 'o2'], 'wanted again after the interval: at once')
})

t.test('a failed read does not stop later ones', async (t) => {
  const timers = new FakeTimers()
  let calls = 0
  const marker = new ReadMarker(async () => { calls++; throw new Error('offline') }, 500, timers)
  marker.want('o1')
  for (let i = 0; i < 5; i++) await Promise.resolve()
  timers.advance(500)
  marker.want('o1')
  t.equal(calls, 2)
})
