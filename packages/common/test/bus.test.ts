import t from 'tap'
import { InProcessBus, RedisBus, type BusEvent } from '@weapp/common'

const event: BusEvent = { type: 'user.push', openid: 'o1', event: 'hello', data: { n: 1 } }

t.test('in-process bus delivers asynchronously and unsubscribes', async (t) => {
  const bus = new InProcessBus()
  const seen: BusEvent[] = []
  const off = await bus.subscribe('c', (e) => seen.push(e))
  await bus.publish('c', event)
  t.equal(seen.length, 0, 'not delivered on the publisher stack')
  await new Promise((resolve) => setImmediate(resolve))
  t.same(seen, [event])
  await off()
  await bus.publish('c', event)
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(seen.length, 1)
  await bus.close()
})

t.test('redis bus crosses connections', { skip: process.env.REDIS_URL === undefined ? 'REDIS_URL not set' : false }, async (t) => {
  const url = process.env.REDIS_URL as string
  const a = new RedisBus(url)
  const b = new RedisBus(url)
  t.teardown(async () => { await a.close(); await b.close() })
  const channel = `test:${Math.random()}`
  // Subscribed before publishing (a fixed pause lost the event on a loaded machine).
  let subscribed: Promise<unknown> | undefined
  const received = new Promise<BusEvent>((resolve) => { subscribed = b.subscribe(channel, resolve) })
  await subscribed
  await a.publish(channel, event)
  t.same(await received, event)
})
