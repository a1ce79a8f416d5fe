import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { BusChannels, type BusEvent } from '@weapp/common'
import { MsgCrypt } from '@weapp/wechat'
import { RealTimeClock, callPublic, redisTargets, waitFor, type TestClock } from '@weapp/test-kit'
import { AES_KEY, APP_ID, buildCs, busSubscribed, PUSH_TOKEN, testConfig } from './fixtures/harness.js'
import { BACKENDS } from './fixtures/backends.js'
import { buildPush, enterSession, textMessage, type Fields, type Format, type Mode } from './fixtures/push.js'
import { consoleCall } from './fixtures/console-agents.js'
import { redisScope } from './fixtures/redis-scope.js'
import { RedisHandoverRequests } from '../src/push/handover-requests.js'

/** What a push was answered: `success`, or the MsgType of the passive reply (decrypted in safe mode). */
function answered (body: string, format: Format, appId: string): string {
  if (body === 'success') return body
  const field = (text: string, name: string): string => format === 'json'
    ? String(JSON.parse(text)[name])
    : new RegExp(`<${name}><!\\[CDATA\\[(.*?)\\]\\]></${name}>`).exec(text)?.[1] ?? ''
  const encrypt = field(body, 'Encrypt')
  const inner = encrypt === '' || encrypt === 'undefined' ? body : new MsgCrypt({ token: PUSH_TOKEN, encodingAESKey: AES_KEY, appId }).decrypt(encrypt)
  return field(inner, 'MsgType')
}

async function push (app: FastifyInstance, fields: Fields, clock: TestClock, mode: Mode, format: Format, appId: string): Promise<string> {
  const p = buildPush(fields, { mode, format, timestamp: clock.seconds, appId })
  const res = await callPublic(app, { method: 'POST', url: p.url, payload: p.payload })
  if (res.statusCode !== 200) throw new Error(`push answered ${res.statusCode}: ${res.body}`)
  return answered(res.body, format, appId)
}

async function handoverOf (app: FastifyInstance, openid: string): Promise<string | undefined> {
  return (await app.conversationsRepository.get(openid))?.handover
}

for (const backend of BACKENDS) {
  t.test(`${backend.name}: a requested hand-over answers the next user message transfer_customer_service`, { skip: backend.skip }, async (t) => {
    const clock = new RealTimeClock()
    const env = backend.env(t)
    const appId = env.APP_ID ?? APP_ID
    const app = await buildCs(t, { config: testConfig(env), clock })
    const events: BusEvent[] = []
    await app.bus.subscribe(BusChannels.console, (e) => { events.push(e) })
    await busSubscribed(app, BusChannels.console)
    let n = 0
    const message = (openid: string): Fields => textMessage(openid, `hello ${n++}`, clock.seconds)

    for (const mode of ['plaintext', 'safe'] as const) {
      for (const format of ['xml', 'json'] as const) {
        const openid = `oHand_${mode}_${format}`
        t.equal(await push(app, message(openid), clock, mode, format, appId), 'success', `${mode} ${format}: an ordinary message`)
        await waitFor(async () => await handoverOf(app, openid) !== undefined, { timeoutMs: 5000, what: 'the conversation' })

        const asked = await consoleCall(app, 'POST', `/conversations/${openid}/handover`, {})
        t.equal(asked.statusCode, 200, asked.body)
        t.equal(asked.json().conversation.handover, 'requested')
        t.equal(asked.json().conversation.openid, openid)
        await waitFor(() => events.some((e) => e.type === 'console.event' && e.event.type === 'conversation' && e.event.conversation.openid === openid && e.event.conversation.handover === 'requested'), { timeoutMs: 10_000, what: 'the requested event' })

        // Entering the session is an event, not a message: not handed over, the request stays.
        t.equal(await push(app, enterSession(openid, clock.seconds), clock, mode, format, appId), 'success', `${mode} ${format}: an event`)
        const handedOver = message(openid)
        t.equal(await push(app, handedOver, clock, mode, format, appId), 'transfer_customer_service', `${mode} ${format}: the next message is handed over`)
        await waitFor(async () => await handoverOf(app, openid) === 'official', { timeoutMs: 10_000, what: 'official' })
        // WeChat retries a push whose answer it did not see: the retry must not lose the hand-over.
        t.equal(await push(app, handedOver, clock, mode, format, appId), 'transfer_customer_service', `${mode} ${format}: its retry is answered the same`)
        await waitFor(() => events.some((e) => e.type === 'console.event' && e.event.type === 'conversation' && e.event.conversation.openid === openid && e.event.conversation.handover === 'official'), { timeoutMs: 10_000, what: 'the official event' })
        t.equal(await push(app, message(openid), clock, mode, format, appId), 'success', `${mode} ${format}: once only`)
        t.equal((await consoleCall(app, 'GET', `/conversations/${openid}`)).json().conversation?.handover ?? await handoverOf(app, openid), 'official', 'the console shows official')
      }
    }
  })

  t.test(`${backend.name}: take back, unknown conversations, bad bodies`, { skip: backend.skip }, async (t) => {
    const clock = new RealTimeClock()
    const env = backend.env(t)
    const appId = env.APP_ID ?? APP_ID
    const app = await buildCs(t, { config: testConfig(env), clock })
    const openid = 'oHand_back'
    await push(app, textMessage(openid, 'hi', clock.seconds), clock, 'safe', 'json', appId)
    await waitFor(async () => await handoverOf(app, openid) !== undefined, { timeoutMs: 5000, what: 'the conversation' })

    // Requested, then taken back before the user wrote: the next message is ours.
    const bodiless = await consoleCall(app, 'POST', `/conversations/${openid}/handover`)
    t.equal(bodiless.statusCode, 200, bodiless.body)
    t.equal(bodiless.json().conversation?.handover, 'requested', 'no body at all')
    const back = await consoleCall(app, 'POST', `/conversations/${openid}/handover`, { release: true })
    t.equal(back.statusCode, 200)
    t.equal(back.json().conversation.handover, 'none')
    t.equal(await push(app, textMessage(openid, 'still there?', clock.seconds), clock, 'safe', 'xml', appId), 'success')

    // Handed over, then taken back (WeChat never says when its official session ends).
    await consoleCall(app, 'POST', `/conversations/${openid}/handover`, {})
    t.equal(await push(app, textMessage(openid, 'help', clock.seconds), clock, 'plaintext', 'json', appId), 'transfer_customer_service')
    await waitFor(async () => await handoverOf(app, openid) === 'official', { timeoutMs: 10_000, what: 'official' })
    t.equal((await consoleCall(app, 'POST', `/conversations/${openid}/handover`, { release: true })).json().conversation.handover, 'none')
    t.equal(await handoverOf(app, openid), 'none')

    const unknown = await consoleCall(app, 'POST', '/conversations/oNeverWrote/handover', {})
    t.equal(unknown.statusCode, 404)
    t.equal(unknown.json().code, 'CS_CONSOLE_NOT_FOUND')
    t.equal(await push(app, textMessage('oNeverWrote', 'hi', clock.seconds), clock, 'plaintext', 'xml', appId), 'success', 'nothing was requested for it')
    for (const [name, body] of [['release not a boolean', { release: 'yes' }], ['unknown field', { release: true, to: 'x' }]] as const) {
      const res = await consoleCall(app, 'POST', `/conversations/${openid}/handover`, body)
      t.equal(res.statusCode, 400, name)
      t.equal(res.json().code, 'VALIDATION_FAILED', name)
    }
    t.equal((await consoleCall(app, 'POST', '/conversations/bad%20id/handover', {})).statusCode, 400)
    t.equal(await handoverOf(app, openid), 'none', 'nothing changed')
    t.equal(await push(app, textMessage(openid, 'and now?', clock.seconds), clock, 'safe', 'json', appId), 'success')
  })
}

// On one server, behind Sentinel and on a three-master Cluster.
for (const target of redisTargets(t)) {
  t.test(`Redis hand-over requests (${target.name}): shared by instances, mirrored in each, taken once`, { skip: target.skip }, async (t) => {
    const { redis, newAppId } = redisScope(t, await target.topology())
    const appId = newAppId()
    const a = new RedisHandoverRequests({ redis, appId, refreshMs: 60_000 })
    const b = new RedisHandoverRequests({ redis, appId, refreshMs: 60_000 })
    t.teardown(() => { a.close(); b.close() })
    t.equal(a.mayHave('o1'), false, 'empty: answered from memory')
    await a.add('o1')
    t.equal(a.mayHave('o1'), true)
    t.equal(b.mayHave('o1'), false, 'B has not heard of it yet')
    await b.refresh()
    t.equal(b.mayHave('o1'), true, 'the refresh reads the shared set')
    const taken = await Promise.all([a.take('o1'), b.take('o1')])
    t.same(taken.sort(), [false, true], 'one instance takes it')
    t.equal(a.mayHave('o1') || b.mayHave('o1'), false)
    b.heard('o2')
    t.equal(await b.take('o2'), false, 'a stale hint costs one SREM and hands nothing over')
    await a.add('o3')
    await b.remove('o3')
    t.equal(await a.take('o3'), false, 'taken back through another instance')
  })
}
