import t from 'tap'
import { BusChannels, RedisBus, createRedis } from '@weapp/common'
import { ALICE, AGENT, Client, gatewayHeaders, issueTicket, refusal, start, testConfig } from './fixtures/harness.js'

const redisUrl = process.env.REDIS_URL
const needsRedis = { skip: redisUrl === undefined ? 'REDIS_URL is not set' : false }

t.test('two instances on one Redis', needsRedis, async (t) => {
  const config = testConfig({ REDIS_URL: redisUrl! })
  const r1 = await start(t, { config })
  const r2 = await start(t, { config })
  const publisher = new RedisBus(redisUrl!)
  t.teardown(() => publisher.close())

  t.test('a ticket issued on one instance opens a socket on the other, once', async (t) => {
    const issued = await issueTicket(r1, ALICE)
    const redis = createRedis(redisUrl!)
    t.teardown(() => redis.quit())
    t.equal((await redis.keys(`ws:ticket:*${issued.ticket}*`)).length, 0, 'the ticket itself is not a key')
    const ttl = await redis.pttl(`ws:ticket:${(await import('../src/hub/tickets.js')).ticketHash(issued.ticket)}`)
    t.ok(ttl > 0 && ttl <= 60_000, 'stored with an expiry')
    const c = await Client.open(t, `${r2.ws}${issued.url}`)
    t.equal(await c.next(), 'Server: 恭喜，小爱')
    const again = await refusal(`${r1.ws}${issued.url}`)
    t.equal(again.status, 401)
  })

  t.test('an event published once reaches the user on both instances; agents get cs events', async (t) => {
    const a1 = await Client.open(t, `${r1.ws}/ws`, gatewayHeaders(ALICE))
    const a2 = await Client.open(t, `${r2.ws}/ws`, gatewayHeaders(ALICE))
    const agent = await Client.open(t, `${r2.ws}/ws`, gatewayHeaders(AGENT))
    await Promise.all([a1.next(), a2.next(), agent.next()])
    await publisher.publish(BusChannels.users, { type: 'user.push', openid: ALICE.openid, event: 'ping', data: 1 })
    t.same(await a1.nextJson(), { type: 'event', event: 'ping', data: 1 })
    t.same(await a2.nextJson(), { type: 'event', event: 'ping', data: 1 })
    const message = { ToUserName: 'gh', FromUserName: ALICE.openid, CreateTime: 1, MsgType: 'text' as const, Content: 'help', MsgId: '9' }
    await publisher.publish(BusChannels.cs, { type: 'cs.inbound', openid: ALICE.openid, message, receivedAt: 't' })
    t.match(await agent.nextJson(), { type: 'event', event: 'cs.inbound', data: { openid: ALICE.openid, message } })
    t.match(await a1.nextJson(), { event: 'cs.inbound' })
    t.match(await a2.nextJson(), { event: 'cs.inbound' })
    t.equal(agent.received.length, 0, 'delivered once per socket')
  })
})
