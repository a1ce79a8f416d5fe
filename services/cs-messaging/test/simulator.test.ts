import t from 'tap'
import { DEFAULT_SIM_APP } from '@weapp/wechat-sim'
import { RealTimeClock, listenLocal, startSimulator, waitFor } from '@weapp/test-kit'
import { AES_KEY, PUSH_TOKEN, buildCs, testConfig } from './fixtures/harness.js'

// End to end with the WeChat simulator: it pushes to the app over HTTP as WeChat does (with its retries
// and tampered variants), and the worker's auto-replies go out through the real WechatClient to the
// simulator's message/custom/send, which enforces the send windows.

const RULES = JSON.stringify([{ match: 'contains', keyword: 'price', reply: 'Prices: see the menu' }])

t.test('simulated WeChat: pushes in every mode, auto-replies through message/custom/send', async (t) => {
  const { url: simUrl, control } = await startSimulator(t)
  const clock = new RealTimeClock()
  const app = await buildCs(t, {
    config: testConfig({ APP_ID: DEFAULT_SIM_APP.appId, APP_SECRET: DEFAULT_SIM_APP.appSecret, WECHAT_API_BASE: simUrl, WELCOME_TEXT: 'Welcome!', AUTO_REPLY_RULES: RULES }),
    clock
  })
  const appUrl = await listenLocal(app)

  let n = 0
  for (const mode of ['plaintext', 'compatible', 'safe'] as const) {
    for (const format of ['xml', 'json'] as const) {
      await control.pushConfig({ url: `${appUrl}/wechat/callback`, token: PUSH_TOKEN, encodingAESKey: AES_KEY, mode, format })
      const user = `user-${mode}-${format}`
      const entered = await control.push({ user, message: { MsgType: 'event', Event: 'user_enter_tempsession', SessionFrom: 'menu' } })
      t.ok(entered.acceptable, `${mode} ${format}: session entry acknowledged`)
      const asked = await control.push({ user, message: { MsgType: 'text', Content: `what is the price? ${n++}` } })
      t.ok(asked.acceptable, `${mode} ${format}: message acknowledged`)
      const openid = String(asked.message.FromUserName)
      await waitFor(async () => (await control.sent({ openid })).messages.length === 2, { timeoutMs: 5000, what: `${mode} ${format}: two replies` })
      const sent = await control.sent({ openid })
      t.same(sent.messages.map((m) => (m as { text?: { content?: string } }).text?.content), ['Welcome!', 'Prices: see the menu'], 'in the order the user acted')
      await waitFor(async () => (await app.messagesRepository.listConversation(openid, { limit: 10 })).length === 4, { timeoutMs: 3000, what: 'replies recorded' })
      const stored = await app.messagesRepository.listConversation(openid, { limit: 10 })
      t.same(stored.map((r) => r.direction === 'out' ? `out ${r.outcome}` : `in ${r.msgType}`).sort(), ['in event', 'in text', 'out sent', 'out sent'], 'the two pushes and the two replies')
      t.ok(stored.some((r) => (r.message as { MsgId?: string }).MsgId === (asked.message as { MsgId?: string }).MsgId), 'the MsgId WeChat sent, exactly')
    }
  }

  // WeChat's retries: the simulator delivers three times, re-signing each; one message, one reply.
  await control.pushConfig({ url: `${appUrl}/weapp/message`, token: PUSH_TOKEN, encodingAESKey: AES_KEY, mode: 'safe', format: 'json' })
  const retried = await control.push({ user: 'retry-user', message: { MsgType: 'text', Content: 'price please' }, deliveries: 3, retryDelayMs: 10, resignRetries: true })
  const openid = String(retried.message.FromUserName)
  await waitFor(async () => (await control.sent({ openid })).messages.length >= 1, { timeoutMs: 5000, what: 'reply' })
  await new Promise((resolve) => setTimeout(resolve, 200))
  t.equal((await control.sent({ openid })).messages.length, 1, 'one reply for any number of deliveries')
  await waitFor(async () => (await app.messagesRepository.listConversation(openid, { limit: 10 })).length === 2, { timeoutMs: 3000, what: 'reply recorded' })
  t.same((await app.messagesRepository.listConversation(openid, { limit: 10 })).map((r) => r.direction).sort(), ['in', 'out'], 'one message, one reply recorded')
})

t.test('simulated WeChat: every tampered push is refused and leaves nothing behind', async (t) => {
  const { control } = await startSimulator(t)
  const app = await buildCs(t, { config: testConfig({ APP_ID: DEFAULT_SIM_APP.appId }), clock: new RealTimeClock() })
  const appUrl = await listenLocal(app)
  const { PUSH_TAMPERS } = await import('@weapp/wechat-sim')
  const encryptedOnly = ['wrong-msg-signature', 'truncated-ciphertext', 'wrong-appid', 'wrong-aes-key']
  for (const mode of ['plaintext', 'compatible', 'safe'] as const) {
    await control.pushConfig({ url: `${appUrl}/wechat/callback`, token: PUSH_TOKEN, encodingAESKey: AES_KEY, mode, format: mode === 'safe' ? 'json' : 'xml' })
    for (const tamper of PUSH_TAMPERS) {
      if (mode === 'plaintext' && encryptedOnly.includes(tamper)) continue
      if (tamper === 'mismatched-plaintext') {
        if (mode !== 'compatible') continue
        // Only the ciphertext is signed: the forged plaintext copy is ignored, the genuine message recorded.
        const res = await control.push({ user: 'genuine', message: { MsgType: 'text', Content: 'genuine text' }, tamper, deliveries: 1 })
        t.ok(res.acceptable, 'compatible mode: answered from the verified ciphertext')
        const openid = String(res.message.FromUserName)
        await waitFor(async () => (await app.messagesRepository.listConversation(openid, { limit: 5 })).length === 1, { timeoutMs: 3000, what: 'genuine stored' })
        const [stored] = await app.messagesRepository.listConversation(openid, { limit: 5 })
        t.equal((stored?.message as { Content?: string }).Content, 'genuine text', 'the forged plaintext copy was ignored')
        continue
      }
      const res = await control.push({ user: `tamper-${mode}`, message: { MsgType: 'text', Content: 'x' }, tamper, deliveries: 1 })
      t.notOk(res.acceptable, `${mode} ${tamper}: refused`)
      const status = res.attempts[0]?.status ?? 0
      t.ok(status >= 400 && status < 500, `${mode} ${tamper}: a 4xx (${status})`)
    }
  }
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.equal((await app.inboundQueue.stats()).length, 0, 'nothing queued')
  for (const mode of ['plaintext', 'compatible', 'safe']) {
    const openid = String((await control.userAction({ user: `tamper-${mode}`, kind: 'message' })).openid)
    t.same(await app.messagesRepository.listConversation(openid, { limit: 5 }), [], `${mode}: no tampered push recorded`)
  }
})
