import t from 'tap'
import type { FastifyInstance } from 'fastify'
import type { InboundText } from '@weapp/common'
import { RealTimeClock } from '@weapp/test-kit'
import { ADMIN, buildCs, callInternal, testConfig } from './fixtures/harness.js'
import { send, sendingEnv, startSim, userMessaged } from './fixtures/sim.js'

interface Item { id: string, direction: 'in' | 'out', openid: string, createdAt: string, outcome?: string, message: Record<string, unknown> }
interface Page<T> { items: T[], next: string | null }

async function get<T> (app: FastifyInstance, url: string): Promise<Page<T>> {
  const res = await callInternal(app, { url, identity: ADMIN })
  if (res.statusCode !== 200) throw new Error(`${url}: ${res.statusCode} ${res.body}`)
  return res.json() as Page<T>
}

/** Every page, following `next`. */
async function walk<T> (app: FastifyInstance, path: string, limit: number): Promise<{ items: T[], pages: number }> {
  const items: T[] = []
  let next: string | null = null
  let pages = 0
  do {
    const page: Page<T> = await get<T>(app, `${path}?limit=${limit}${next === null ? '' : `&before=${next}`}`)
    items.push(...page.items)
    next = page.next
    pages++
  } while (next !== null && pages < 100)
  return { items, pages }
}

const base = Date.UTC(2025, 5, 1)
function inbound (openid: string, s: number, n: number): InboundText {
  return { ToUserName: 'gh_x', FromUserName: openid, CreateTime: Math.floor((base + s * 1000) / 1000), MsgType: 'text', Content: `m${n}`, MsgId: '1' + String(n).padStart(18, '0') }
}

t.test('conversation history: both directions, newest first, cursor pages', async (t) => {
  const sim = await startSim(t)
  const clock = new RealTimeClock(base + 100_000)
  const app = await buildCs(t, { config: testConfig(sendingEnv(sim)), clock })
  const openid = await userMessaged(app, sim, clock, 'kim')
  // Seven user messages, several within one second (CreateTime has second precision), then our replies.
  for (const [n, s] of [0, 0, 0, 1, 1, 2, 3].entries()) {
    const message = inbound(openid, s, n)
    await app.messagesRepository.insertInbound({ key: `msg:${message.MsgId}`, openid, msgType: 'text', message, createdAt: new Date(message.CreateTime * 1000), receivedAt: clock.now(), storedAt: clock.now() })
  }
  const sent: string[] = []
  for (let i = 0; i < 3; i++) {
    const res = await send(app, { touser: openid, msgtype: 'text', text: { content: `reply ${i}` } })
    t.equal(res.statusCode, 201)
    sent.push((res.json() as { id: string }).id)
  }
  const refused = await send(app, { touser: 'oUNKNOWN', msgtype: 'text', text: { content: 'x' } })
  t.equal(refused.statusCode, 409)

  const everything = await get<Item>(app, `/api/cs/conversations/${openid}/messages`)
  t.equal(everything.items.length, 10)
  t.equal(everything.next, null, 'one page holds it all: no next')
  const times = everything.items.map((i) => Date.parse(i.createdAt))
  t.same(times, [...times].sort((a, b) => b - a), 'newest first')
  t.same(everything.items.slice(0, 3).map((i) => [i.direction, i.outcome, (i.message as { text?: { content?: string } }).text?.content]),
    [['out', 'sent', 'reply 2'], ['out', 'sent', 'reply 1'], ['out', 'sent', 'reply 0']])
  t.equal(everything.items[3]?.direction, 'in')
  t.equal(everything.items[3]?.message.Content, 'm6')

  for (const limit of [1, 2, 3, 4]) {
    const { items, pages } = await walk<Item>(app, `/api/cs/conversations/${openid}/messages`, limit)
    t.same(items.map((i) => i.id), everything.items.map((i) => i.id), `pages of ${limit}: every message once, in order`)
    t.ok(pages >= Math.ceil(10 / limit), `${pages} pages`)
  }

  const others = await get<Item>(app, '/api/cs/conversations/oUNKNOWN/messages')
  t.same(others.items.map((i) => [i.direction, i.outcome]), [['out', 'refused']], 'refused sends are history too')

  const bad = await callInternal(app, { url: `/api/cs/conversations/${openid}/messages?before=bm90LWEtY3Vyc29y`, identity: ADMIN })
  t.equal(bad.statusCode, 400)
  t.equal(bad.json().code, 'CS_CURSOR_INVALID')
  const tooMany = await callInternal(app, { url: `/api/cs/conversations/${openid}/messages?limit=1000`, identity: ADMIN })
  t.equal(tooMany.statusCode, 400)
  const badOpenid = await callInternal(app, { url: '/api/cs/conversations/o%20x/messages', identity: ADMIN })
  t.equal(badOpenid.statusCode, 400)
})

t.test('conversation list: one entry per user with the last message, most recent first, paged (the conversations collection)', async (t) => {
  const clock = new RealTimeClock(base + 1_000_000)
  const app = await buildCs(t, { config: testConfig(), clock })
  // u0..u5; u1 and u2 share their last second; u3's last message is ours.
  const lastSecond = [10, 20, 20, 5, 30, 1]
  for (const [i, s] of lastSecond.entries()) {
    for (const k of [0, 1]) {
      const message = inbound(`u${i}`, s - k, i * 10 + k)
      // As the worker does: the message log, then the conversation (its `published` step).
      const key = `msg:${message.MsgId}`
      await app.messagesRepository.insertInbound({ key, openid: `u${i}`, msgType: 'text', message, createdAt: new Date(message.CreateTime * 1000), receivedAt: clock.now(), storedAt: clock.now() })
      await app.conversationTracker.inbound((await app.messagesRepository.findByKey(key))!, true)
    }
  }
  const reply = { key: 'out:u3', openid: 'u3', msgType: 'text' as const, message: { msgtype: 'text' as const, text: { content: 'hi' } }, createdAt: new Date(base + 25_000), sentBy: 'ops', forced: false, outcome: 'sent' as const }
  await app.messagesRepository.insertOutbound(reply)
  await app.conversationTracker.recorded(reply)

  const all = await get<{ openid: string, lastAt: string, last: Item }>(app, '/api/cs/conversations')
  t.same(all.items.map((c) => c.openid), ['u4', 'u3', 'u2', 'u1', 'u0', 'u5'], 'by the time of the last message (ties by openid)')
  t.same(all.items.map((c) => c.last.id), ['msg:1000000000000000040', 'out:u3', 'msg:1000000000000000020', 'msg:1000000000000000010', 'msg:1000000000000000000', 'msg:1000000000000000050'])
  t.equal(all.items[1]?.last.direction, 'out')
  t.equal(all.items[0]?.lastAt, new Date(base + 30_000).toISOString())
  for (const limit of [1, 2, 4]) {
    const { items } = await walk<{ openid: string }>(app, '/api/cs/conversations', limit)
    t.same(items.map((c) => c.openid), ['u4', 'u3', 'u2', 'u1', 'u0', 'u5'], `pages of ${limit}`)
  }
  const bad = await callInternal(app, { url: '/api/cs/conversations?before=!!', identity: ADMIN })
  t.equal(bad.statusCode, 400)

  // Read from the conversations collection, not by grouping the log: a message only in the log lists nothing.
  const orphan = inbound('u9', 99, 99)
  await app.messagesRepository.insertInbound({ key: `msg:${orphan.MsgId}`, openid: 'u9', msgType: 'text', message: orphan, createdAt: new Date(orphan.CreateTime * 1000), receivedAt: clock.now(), storedAt: clock.now() })
  t.notOk((await get<{ openid: string }>(app, '/api/cs/conversations')).items.some((c) => c.openid === 'u9'))
})
