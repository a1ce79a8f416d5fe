import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { DEFAULT_CLOCK_START, ManualClock, RealTimeClock } from '../src/index.js'

t.test('ManualClock starts where told and moves only by advance()', async (t) => {
  const clock = new ManualClock(1_000_000)
  await sleep(20)
  t.equal(clock.ms, 1_000_000, 'real time passing does not move it')
  clock.advance(1500)
  t.equal(clock.ms, 1_001_500)
  t.equal(clock.seconds, 1001)
  t.same(clock.now(), new Date(1_001_500))
  t.equal(clock.nowMs(), 1_001_500)
  clock.ms = 2_000_000
  t.equal(clock.nowMs(), 2_000_000, 'or is set outright')
})

t.test('ManualClock hands over bound functions (`() => Date` and `() => number`)', async (t) => {
  const clock = new ManualClock()
  const { now, nowMs } = clock
  clock.advance(60_000)
  t.equal(nowMs(), DEFAULT_CLOCK_START + 60_000)
  t.equal(now().toISOString(), '2025-01-01T12:01:00.000Z')
})

t.test('RealTimeClock runs with real time from its start, and advance() jumps it forward', async (t) => {
  const clock = new RealTimeClock(5_000_000)
  const { nowMs } = clock
  await sleep(30)
  t.ok(nowMs() >= 5_000_030 && nowMs() < 5_005_000, `real time passed: ${nowMs()}`)
  const before = clock.ms
  clock.advance(3_600_000)
  t.ok(clock.ms - before >= 3_600_000 && clock.ms - before < 3_605_000, 'an hour later')
  t.equal(clock.now().getTime(), Math.floor(clock.now().getTime()), 'a Date of the same time')
})

t.test('RealTimeClock starts at the current time by default', async (t) => {
  const clock = new RealTimeClock()
  t.ok(Math.abs(clock.ms - Date.now()) < 1000)
})
