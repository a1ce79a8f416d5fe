import { once } from 'node:events'
import { createServer, type AddressInfo, type Socket } from 'node:net'
import t from 'tap'
import { WechatClient } from '@weapp/wechat'
import { failedOutcome } from '../src/index.js'
import { TestClock, buildCs, testConfig } from './fixtures/harness.js'
import { SEND_PATH, calls, send, sendingEnv, startSim, userMessaged } from './fixtures/sim.js'

// A failed send is 'unknown' only when the WeChat client says the request may have reached WeChat
// (err.outcome); the service never reads socket or undici codes.

t.test('a send that may have reached WeChat is unknown and keeps its window place; one that never left is failed', async (t) => {
  const sim = await startSim(t)
  const clock = new TestClock()
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
  await sim.sim.close()
  const refused = await send(app, { touser: openid, msgtype: 'text', text: { content: 'refused' } })
  t.equal(refused.statusCode, 502, refused.body)
  t.equal(refused.json().code, 'WECHAT_UNAVAILABLE')
  const failed = await app.messagesRepository.findOutbound(String(refused.headers['x-cs-message-id']))
  t.equal(failed?.outcome, 'failed')
  t.equal(await remaining(), 4, 'its quota came back')
})

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
