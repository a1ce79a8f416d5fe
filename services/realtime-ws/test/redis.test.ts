import t from 'tap'
import { BusChannels, RedisBus, createRedis } from '@weapp/common'
import { redisKeys, redisTargets } from '@weapp/test-kit'
import { ALICE, AGENT, Client, gatewayHeaders, issueTicket, refusal, start, testConfig } from './fixtures/harness.js'

// On one server, behind Sentinel and on a three-master Cluster: the instances get the topology's REDIS_* variables.
for (const target of redisTargets(t)) {
  t.test(`two instances on one Redis (${target.name})`, { skip: target.skip }, async (t) => {
    const topology = await target.topology()
    const config = testConfig({ ...await target.env() })
    const r1 = await start(t, { config })
    const r2 = await start(t, { config })
    const publisher = new RedisBus(topology)
    t.teardown(() => publisher.close())

    t.test('a ticket issued on one instance opens a socket on the other, once', async (t) => {
      const issued = await issueTicket(r1, ALICE)
      const redis = createRedis(topology)
      t.teardown(async () => { await redis.quit(); redis.disconnect() })
      t.equal((await redisKeys(redis, `ws:ticket:*${issued.ticket}*`)).length, 0, 'the ticket itself is not a key')
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
}
