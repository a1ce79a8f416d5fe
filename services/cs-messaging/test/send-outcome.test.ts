import { once } from 'node:events'
import { createServer, type AddressInfo, type Socket } from 'node:net'
import t from 'tap'
import { WechatClient } from '@weapp/wechat'
import { failedOutcome } from '../src/index.js'
import { DEFAULT_SIM_APP } from '@weapp/wechat-sim'
import { RealTimeClock, callPublic, waitFor } from '@weapp/test-kit'
import { buildCs, callInternal, testConfig } from './fixtures/harness.js'
import { SEND_PATH, TOKEN_PATH, calls, send, sendingEnv, startSim, userMessaged } from './fixtures/sim.js'
import { buildPush, textMessage } from './fixtures/push.js'
import { BACKENDS } from './fixtures/backends.js'

// A failed send is 'unknown' only when the WeChat client says the request may have reached WeChat
// (err.outcome); the service never reads socket or undici codes. The admin API and the worker's
// auto-replies send through one path (CheckedSender), so they keep or give back the quota alike.

t.test('a send that may have reached WeChat is unknown and keeps its window place; one that never left is failed', async (t) => {
  const sim = await startSim(t)
  const clock = new RealTimeClock()
  const app = await buildCs(t, { config: testConfig({ ...sendingEnv(sim), WECHAT_TIMEOUT_MS: '300' }), clock, wechat: { retryBaseDelayMs: 1 } })
  const openid = await userMessaged(app, sim, clock, 'ivy')
  const remaining = async (): Promise<number | undefined> => (await app.sendWindows.peek(openid, clock.now()))?.remaining

  // WeChat takes the request and answers too late: it may have delivered the message.
  await sim.control.fault({ path: SEND_PATH, delayMs: 1000 })
  const late = await send(app, { touser: openid, msgtype: 'text', text: { content: 'late' } })
  t.equal(late.statusCode, 504, late.body)
  t.equal(late.json().code, 'WECHAT_TIMEOUT')
  const unknown = await app.messagesRepository.findOutbound(String(late.headers['x-cs-message-id']))
  t.same([unknown?.outcome, unknown?.errorCode], ['unknown', 'WECHAT_TIMEOUT'])
  t.equal(await remaining(), 4, 'it may have been delivered: its quota is kept')
  t.equal(await calls(sim, SEND_PATH), 1, 'not repeated')

  // WeChat is gone (the token is cached): nothing can have been delivered.
  await sim.app.close()
  const refused = await send(app, { touser: openid, msgtype: 'text', text: { content: 'refused' } })
  t.equal(refused.statusCode, 502, refused.body)
  t.equal(refused.json().code, 'WECHAT_UNAVAILABLE')
  const failed = await app.messagesRepository.findOutbound(String(refused.headers['x-cs-message-id']))
  t.equal(failed?.outcome, 'failed')
  t.equal(await remaining(), 4, 'its quota came back')
})

t.test('a send whose access_token could not be had never reached WeChat: failed, its quota given back', async (t) => {
  const sim = await startSim(t)
  const clock = new RealTimeClock()
  const app = await buildCs(t, { config: testConfig({ ...sendingEnv(sim), WECHAT_TIMEOUT_MS: '300' }), clock, wechat: { retryBaseDelayMs: 1 } })
  const openid = await userMessaged(app, sim, clock, 'kim')
  // The token endpoint takes every request and answers too late: the token call's outcome is unknown,
  // the message's is not (message/custom/send is never called).
  await sim.control.fault({ path: TOKEN_PATH, delayMs: 1000, count: 10 })
  const res = await send(app, { touser: openid, msgtype: 'text', text: { content: 'no token' } })
  t.equal(res.statusCode, 504, res.body)
  t.equal(res.json().code, 'WECHAT_TIMEOUT')
  const record = await app.messagesRepository.findOutbound(String(res.headers['x-cs-message-id']))
  t.same([record?.outcome, record?.errorCode], ['failed', 'WECHAT_TIMEOUT'])
  t.equal(await calls(sim, SEND_PATH), 0, 'never sent')
  t.equal((await app.sendWindows.peek(openid, clock.now()))?.remaining, 5, 'its quota came back')
  const closing = sim.app.close()
  sim.app.server.closeAllConnections()
  await closing
})

for (const backend of BACKENDS) {
  t.test(`${backend.name}: an auto-reply that may have reached WeChat is unknown and keeps its window place; one that never left gives it back`, { skip: backend.skip }, async (t) => {
    const env = backend.env(t)
    const sim = await startSim(t, env.APP_ID ?? DEFAULT_SIM_APP.appId)
    const clock = new RealTimeClock()
    const rules = JSON.stringify([{ match: 'contains', keyword: 'price', reply: 'Our prices: https://example.com/prices' }])
    // One attempt: the reply's record keeps the outcome of that attempt (no retry overwrites it).
    const config = testConfig({ ...env, ...sendingEnv(sim), WECHAT_TIMEOUT_MS: '300', AUTO_REPLY_RULES: rules, WORKER_MAX_ATTEMPTS: '1' })
    const app = await buildCs(t, { config, clock, wechat: { retryBaseDelayMs: 1 } })
    const { openid } = await sim.control.userAction({ user: 'jay', kind: 'message' })
    const remaining = async (): Promise<number | undefined> => (await app.sendWindows.peek(openid, clock.now()))?.remaining
    // Both messages at one CreateTime: the second does not reopen (reset) the window the first opened.
    const at = clock.seconds
    const userSays = async (content: string): Promise<string> => {
      const fields = textMessage(openid, content, at)
      const p = buildPush(fields, { mode: 'plaintext', format: 'json', timestamp: clock.seconds })
      t.equal((await callPublic(app, { method: 'POST', url: p.url, payload: p.payload })).body, 'success')
      return `out:auto:msg:${String(fields.MsgId)}`
    }

    // WeChat takes the reply and answers too late: it may have delivered it.
    await sim.control.fault({ path: SEND_PATH, delayMs: 1000 })
    const lateKey = await userSays('price?')
    await waitFor(async () => (await app.inboundQueue.stats()).deadLetters === 1, { timeoutMs: 5000, what: 'the late reply given up' })
    const late = await app.messagesRepository.findOutbound(lateKey)
    t.same([late?.outcome, late?.errorCode, late?.sentBy], ['unknown', 'WECHAT_TIMEOUT', 'auto:keyword'])
    t.equal(await remaining(), 4, 'it may have been delivered: its quota is kept')
    t.equal(await calls(sim, SEND_PATH), 1, 'not repeated by the client')

    // WeChat is gone (the token is cached): nothing can have been delivered. Its sockets are cut rather
    // than waited for (the given-up request, the client's kept-alive connection).
    const closing = sim.app.close()
    sim.app.server.closeAllConnections()
    await closing
    const refusedKey = await userSays('price, again?')
    await waitFor(async () => (await app.inboundQueue.stats()).deadLetters === 2, { timeoutMs: 5000, what: 'the refused reply given up' })
    const refused = await app.messagesRepository.findOutbound(refusedKey)
    t.same([refused?.outcome, refused?.errorCode], ['failed', 'WECHAT_UNAVAILABLE'])
    t.equal(await remaining(), 4, 'its quota came back')

    // Counted like the admin API's sends.
    const metrics = (await callInternal(app, { url: '/metrics' })).body
    t.match(metrics, /cs_sends_total\{outcome="unknown",errcode="none"\} 1/)
    t.match(metrics, /cs_sends_total\{outcome="failed",errcode="none"\} 1/)
    t.match(metrics, /cs_auto_replies_total\{result="failed"\} 2/)
  })
}

t.test('failedOutcome follows the client\'s outcome, not the error code', async (t) => {
  // Accepts TCP, never answers: over TLS the connect never completes, over HTTP the answer never comes.
  const sockets = new Set<Socket>()
  const server = createServer((socket) => { sockets.add(socket); socket.on('error', () => {}) })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(async () => {
    for (const s of sockets) s.destroy()
    await new Promise((resolve) => server.close(resolve))
  })
  const { port } = server.address() as AddressInfo
  const attempt = async (baseUrl: string): Promise<unknown> => {
    const client = new WechatClient({ appId: 'wx5f1c0d2e3b4a6978', appSecret: 'app-secret-for-outcome-tests-0123', baseUrl, timeoutMs: 200, retries: 0 })
    t.teardown(() => client.close())
    return await client.sendCustomMessage({ accessToken: 'TOKEN', touser: 'o1', message: { msgtype: 'text', text: { content: 'x' } } }).catch((err: unknown) => err)
  }
  const connecting = await attempt(`https://127.0.0.1:${port}`)
  const written = await attempt(`http://127.0.0.1:${port}`)
  t.match(connecting, { code: 'WECHAT_TIMEOUT' })
  t.match(written, { code: 'WECHAT_TIMEOUT' })
  t.equal(failedOutcome(connecting), 'failed', 'timed out while connecting: never sent')
  t.equal(failedOutcome(written), 'unknown', 'timed out after writing: may have been delivered')
  t.equal(failedOutcome(Object.assign(new Error('timeout'), { code: 'WECHAT_TIMEOUT' })), 'failed', 'not from the client: it never called WeChat')
})
