import t from 'tap'
import type { InboundMessage } from '@weapp/common'
import type { FastifyBaseLogger } from 'fastify'
import type { Teardown } from '@weapp/test-kit'
import { MemoryInboundQueue } from '../src/queue/memory.js'
import { CsMetrics } from '../src/metrics.js'
import { InboundWorker } from '../src/worker/worker.js'
import type { Delivery } from '../src/queue/types.js'

const silent = { info () {}, warn () {}, error () {}, debug () {}, trace () {}, fatal () {}, child () { return silent } } as unknown as FastifyBaseLogger

/** Net 'abort' listeners on AbortSignals (EventTarget.prototype patched; signals that fire are not tracked). */
function countAbortListeners (t: Teardown): { live: () => number, max: () => number } {
  const proto = EventTarget.prototype
  const add = proto.addEventListener
  const remove = proto.removeEventListener
  const live = new Set<unknown>()
  let max = 0
  proto.addEventListener = function (this: EventTarget, type: string, listener: unknown, ...rest: unknown[]) {
    if (this instanceof AbortSignal && type === 'abort' && listener != null) {
      live.add(listener)
      max = Math.max(max, live.size)
    }
    return (add as (...a: unknown[]) => void).call(this, type, listener, ...rest)
  } as typeof proto.addEventListener
  proto.removeEventListener = function (this: EventTarget, type: string, listener: unknown, ...rest: unknown[]) {
    if (this instanceof AbortSignal && type === 'abort') live.delete(listener)
    return (remove as (...a: unknown[]) => void).call(this, type, listener, ...rest)
  } as typeof proto.removeEventListener
  t.teardown(() => { proto.addEventListener = add; proto.removeEventListener = remove })
  return { live: () => live.size, max: () => max }
}

t.test('a busy worker leaves no pauses behind (no abort listener pile-up, no MaxListenersExceededWarning)', async (t) => {
  const warnings: Error[] = []
  const onWarning = (w: Error): void => { warnings.push(w) }
  process.on('warning', onWarning)
  t.teardown(() => { process.off('warning', onWarning) })

  const queue = new MemoryInboundQueue({ dedupTtlMs: 60_000 })
  t.teardown(() => queue.close())
  const TOTAL = 60
  for (let i = 0; i < TOTAL; i++) {
    const message = { ToUserName: 'gh', FromUserName: `o${i}`, CreateTime: 1, MsgType: 'text', Content: 'x', MsgId: String(i) } as unknown as InboundMessage
    await queue.enqueueOnce(`msg:${i}`, message, new Date())
  }
  const counter = countAbortListeners(t)
  let processed = 0
  const worker = new InboundWorker({
    queue,
    // Quick messages with a long blockMs: every busy iteration's pause loses the race to a message.
    processor: { process: async (_d: Delivery) => { await new Promise((resolve) => setImmediate(resolve)); processed++ } },
    consumer: 'c1',
    concurrency: 1,
    maxAttempts: 3,
    retryBaseMs: 100,
    retryMaxMs: 1000,
    claimIdleMs: 60_000,
    blockMs: 60_000,
    log: silent,
    metrics: new CsMetrics(async () => await queue.stats())
  })
  worker.start()
  const started = Date.now()
  while (Date.now() - started < 5000) {
    if (processed >= TOTAL) break
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  t.equal(processed, TOTAL, 'every message processed')
  t.ok(counter.max() <= 3, `at most a few abort listeners at once (max ${counter.max()})`)
  t.ok(counter.live() <= 2, `no listeners left behind while running (${counter.live()})`)
  await worker.stop()
  await new Promise((resolve) => setImmediate(resolve))
  t.same(warnings.filter((w) => w.name === 'MaxListenersExceededWarning').map((w) => w.message), [], 'no MaxListenersExceededWarning')
})
