import t from 'tap'
import { MsgCrypt } from '@weapp/wechat'
import { APP, classicToken, makeSim, postJson } from './fixtures/sim.js'
import { GET_MEDIA, SEND, csSetup, send, sent, startReceiver, text } from './fixtures/cs.js'

const TOKEN = 'pushToken123'
const AES_KEY = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG'
const crypt = new MsgCrypt({ token: TOKEN, encodingAESKey: AES_KEY, appId: APP.appId })

t.test('a user message push opens the window before it is delivered', async (t) => {
  const sim = await makeSim(t)
  const { token, openid } = await csSetup(sim)
  const answers: number[] = []
  // The receiver answers the user at once, as a backend would: the window must already be open.
  const { url, received } = await startReceiver(t, async () => {
    answers.push((await send(sim, token, text(openid, 'auto-reply'))).errcode)
    return { body: 'success' }
  })
  t.same(await postJson(sim, '/sim/push-config', { url, token: TOKEN, encodingAESKey: AES_KEY }), { ok: true })
  const result = await postJson(sim, '/sim/push', { user: 'alice', message: { MsgType: 'text', Content: 'hi' } })
  t.match(result, { acceptable: true, deliveries: 1, reply: { kind: 'success' }, userAction: { openid, kind: 'message', window: { remaining: 5 } } })
  t.same(answers, [0], 'the backend could answer while handling the push')
  t.match(result.message, { ToUserName: /^gh_[0-9a-f]{12}$/, FromUserName: openid, CreateTime: Math.floor(sim.simState.now() / 1000), MsgType: 'text', Content: 'hi', MsgId: /^\d{19}$/ })
  t.same(Object.keys(result.message), ['ToUserName', 'FromUserName', 'CreateTime', 'MsgType', 'Content', 'MsgId'], 'WeChat\'s field order')
  t.equal(result.message.ToUserName, sim.simState.originalId())

  // Default mode with a key is safe, default format JSON.
  const r = received[0]!
  t.equal(r.query.encrypt_type, 'aes')
  const envelope = JSON.parse(r.body)
  t.same(Object.keys(envelope), ['ToUserName', 'Encrypt'])
  const inner = crypt.decrypt(envelope.Encrypt)
  t.ok(inner.includes(`"MsgId":${result.message.MsgId as string}`), 'MsgId went out as a bare integer, exactly')
  t.match((await sent(sim, openid)).messages, [{ text: { content: 'auto-reply' } }])
})

t.test('user_enter_tempsession opens the one-minute window; other events and opted-out pushes open none', async (t) => {
  const sim = await makeSim(t)
  const { token, openid } = await csSetup(sim)
  const { url } = await startReceiver(t)
  await postJson(sim, '/sim/push-config', { url, token: TOKEN, mode: 'plaintext', format: 'xml' })

  const debug = await postJson(sim, '/sim/push', { user: 'alice', message: { MsgType: 'event', Event: 'debug_demo' } })
  t.equal(debug.acceptable, true)
  t.notOk('userAction' in debug)
  t.notOk('MsgId' in debug.message, 'events carry no MsgId')
  const optOut = await postJson(sim, '/sim/push', { user: 'alice', message: { MsgType: 'text', Content: 'x' }, userAction: false })
  t.notOk('userAction' in optOut)
  t.equal((await send(sim, token, text(openid))).errcode, 45015)

  const enter = await postJson(sim, '/sim/push', { user: 'alice', message: { MsgType: 'event', Event: 'user_enter_tempsession', SessionFrom: 'order-42' } })
  t.match(enter.userAction, { kind: 'enter_session', window: { allowance: 2, remaining: 2 } })
  t.equal((await send(sim, token, text(openid))).errcode, 0)
})

t.test('tampered pushes open no window; the receiver\'s refusal is reported per delivery', async (t) => {
  const sim = await makeSim(t)
  const { token, openid } = await csSetup(sim)
  const { url, received } = await startReceiver(t, (r) => ({ status: r.query.signature === undefined ? 401 : 200, body: r.query.signature === undefined ? 'no' : 'success' }))
  const result = await postJson(sim, '/sim/push', { url, token: TOKEN, user: 'alice', message: { MsgType: 'text', Content: 'x' }, tamper: 'missing-signature', deliveries: 2 })
  t.match(result, { acceptable: false, deliveries: 2, attempts: [{ status: 401, reason: 'HTTP 401' }, { status: 401 }] })
  t.notOk('userAction' in result)
  t.equal(received.length, 2)
  t.equal((await send(sim, token, text(openid))).errcode, 45015)
})

t.test('an image push brings a picture the backend can fetch with media/get', async (t) => {
  const sim = await makeSim(t)
  const { token } = await csSetup(sim)
  const { url } = await startReceiver(t)
  const result = await postJson(sim, '/sim/push', { url, token: TOKEN, user: 'alice', message: { MsgType: 'image' } })
  t.match(result.message, { MsgType: 'image', MediaId: /^[A-Za-z0-9_-]{64}$/, PicUrl: /^https:\/\//, MsgId: /^\d+$/ })
  const got = await sim.inject(`${GET_MEDIA}?access_token=${token}&media_id=${result.message.MediaId as string}`)
  t.equal(got.headers['content-type'], 'image/png')
  const own = await postJson(sim, '/sim/media', { contentType: 'image/png', data: Buffer.from('png!').toString('base64') })
  const given = await postJson(sim, '/sim/push', { url, token: TOKEN, user: 'alice', message: { MsgType: 'image', MediaId: own.mediaId, MsgId: '22923519871373703' } })
  t.match(given.message, { MediaId: own.mediaId, MsgId: '22923519871373703' })
  const page = await postJson(sim, '/sim/push', { url, token: TOKEN, user: 'alice', message: { MsgType: 'miniprogrampage', Title: 't', AppId: APP.appId, PagePath: 'pages/a' } })
  t.match(page.message, { ThumbMediaId: /^[A-Za-z0-9_-]{64}$/, ThumbUrl: /^https:/ })
})

t.test('push settings: per request over per app; errors are 400s', async (t) => {
  const sim = await makeSim(t, { apps: [{ ...APP, push: { url: 'http://127.0.0.1:9/never', token: TOKEN } }] })
  const { url, received } = await startReceiver(t)
  const result = await postJson(sim, '/sim/push', { url, user: 'alice', message: { MsgType: 'text', Content: 'x' }, format: 'xml' })
  t.equal(result.acceptable, true)
  t.equal(received[0]!.contentType, 'text/xml')
  t.equal(received[0]!.query.encrypt_type, undefined, 'no key: plaintext')

  const bare = await makeSim(t)
  const cases: Array<[object, RegExp]> = [
    [{ user: 'a', message: { MsgType: 'text' } }, /No push URL\/token/],
    [{ url, token: 'x', message: { MsgType: 'text' } }, /give user or message.FromUserName/],
    [{ url, token: 'x', user: 'a', message: { MsgType: 'text' }, mode: 'safe' }, /encodingAESKey/],
    [{ url, token: 'x', user: 'a', message: { MsgType: 'text' }, tamper: 'wrong-appid' }, /compatible or safe/],
    [{ url, token: 'x', user: 'a', message: {} }, /MsgType/],
    [{ url, token: 'x', user: 'a', message: { MsgType: 'text' }, timeoutMs: 60_000 }, /timeoutMs/],
    [{ url, token: 'x', user: 'a', message: { MsgType: 'text' }, deliveries: 4 }, /deliveries/],
    [{ url, token: 'x', user: 'a', message: { MsgType: 'text' }, tamper: 'sneaky' }, /tamper/],
    [{ url: 'ftp://x', token: 'x', user: 'a', message: { MsgType: 'text' } }, /url/]
  ]
  for (const [payload, message] of cases) {
    const res = await bare.inject({ method: 'POST', url: '/sim/push', payload: payload as Record<string, unknown> })
    t.equal(res.statusCode, 400, JSON.stringify(payload))
    t.match(res.json().message, message)
  }
  const badConfig = await bare.inject({ method: 'POST', url: '/sim/push-config', payload: { url, token: 'x', encodingAESKey: 'short' } })
  t.equal(badConfig.statusCode, 400)

  // reset goes back to the configuration the simulator was built with.
  await postJson(sim, '/sim/push-config', { url: 'http://127.0.0.1:9/other', token: 'y' })
  sim.simState.reset()
  const afterReset = await sim.inject({ method: 'POST', url: '/sim/push', payload: { user: 'alice', message: { MsgType: 'text' }, deliveries: 1, timeoutMs: 500 } })
  t.match(afterReset.json(), { acceptable: false, attempts: [{ error: 'network' }] }, 'the configured URL again (unreachable)')
})

t.test('stats count WeChat APIs only, not pushes', async (t) => {
  const sim = await makeSim(t)
  const { url } = await startReceiver(t)
  await postJson(sim, '/sim/push', { url, token: TOKEN, user: 'alice', message: { MsgType: 'text', Content: 'x' } })
  const token = await classicToken(sim)
  await postJson(sim, `${SEND}?access_token=${token}`, {})
  t.same((await sim.inject('/sim/stats')).json(), { calls: { '/cgi-bin/token': 1, [SEND]: 1 } })
})
