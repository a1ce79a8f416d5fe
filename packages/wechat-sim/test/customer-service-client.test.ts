import t, { type Test } from 'tap'
import { MsgCrypt, WechatClient } from '@weapp/wechat'
import { listenLocal } from '@weapp/test-kit'
import { buildSimulator, DEFAULT_SIM_APP, SimControl } from '../src/index.js'
import { PNG, startReceiver } from './fixtures/cs.js'

const AES_KEY = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG'

/** A listening simulator on a frozen clock, the typed control client and a WechatClient pointed at it. */
async function setup (t: Test): Promise<{ control: SimControl, client: WechatClient, accessToken: string, sim: Awaited<ReturnType<typeof buildSimulator>> }> {
  const now = Date.UTC(2025, 0, 15, 4)
  const sim = await buildSimulator({ now: () => now, tokenTtlSec: 10 * 86_400 })
  t.teardown(() => sim.close())
  const base = await listenLocal(sim)
  const client = new WechatClient({ ...DEFAULT_SIM_APP, baseUrl: base, retryBaseDelayMs: 1 })
  t.teardown(() => client.close())
  const { accessToken } = await client.getStableAccessToken()
  return { control: new SimControl(base), client, accessToken, sim }
}

t.test('sendCustomMessage through the windows, with typed errors', async (t) => {
  const { control, client, accessToken } = await setup(t)
  const { openid } = await control.loginCode({ user: 'alice' })
  const hello = { msgtype: 'text', text: { content: 'hello' } } as const

  await t.rejects(client.sendCustomMessage({ accessToken, touser: openid, message: hello }), { code: 'WECHAT_SEND_WINDOW_CLOSED', statusCode: 409, errcode: 45015, errmsg: /response out of time limit/ })
  t.match(await control.userAction({ user: 'alice', kind: 'enter_session' }), { openid, window: { remaining: 2 } })
  await client.sendCustomMessage({ accessToken, touser: openid, message: hello })
  await client.sendCustomMessage({ accessToken, touser: openid, message: { msgtype: 'text', text: { content: 'shop' } }, businessId: 7 })
  await t.rejects(client.sendCustomMessage({ accessToken, touser: openid, message: hello }), { code: 'WECHAT_SEND_QUOTA_EXCEEDED', statusCode: 429, errcode: 45047 })
  await t.rejects(client.sendCustomMessage({ accessToken, touser: 'oNeverSeenxxxxxxxxxxxxxxxxxx', message: hello }), { code: 'WECHAT_OPENID_INVALID', errcode: 40003 })
  await control.userAction({ openid, kind: 'message' })
  await t.rejects(client.sendCustomMessage({ accessToken, touser: openid, message: { msgtype: 'image', image: { media_id: 'gone' } } }), { code: 'WECHAT_MEDIA_INVALID', errcode: 40007 })
  await control.fault({ path: '/cgi-bin/message/custom/send', errcode: 48001 })
  await t.rejects(client.sendCustomMessage({ accessToken, touser: openid, message: hello }), { code: 'WECHAT_API_UNAUTHORIZED', errcode: 48001 })

  const view = await control.sent(openid)
  t.same(view.messages.map((m) => [m.msgtype, (m.text as { content: string }).content, m.businessid]), [['text', 'hello', undefined], ['text', 'shop', '7']])
  t.match(view.window, { kind: 'message', remaining: 5 })
  t.same((await control.sent({ user: 'alice' })).openid, openid)
})

t.test('a -1 on send is retried; a slow send is not repeated', async (t) => {
  const { control, client, accessToken, sim } = await setup(t)
  const { openid } = await control.userAction({ user: 'alice', kind: 'message' })
  await control.fault({ path: '/cgi-bin/message/custom/send', errcode: -1 })
  await client.sendCustomMessage({ accessToken, touser: openid, message: { msgtype: 'text', text: { content: 'once' } } })
  t.equal((await control.sent(openid)).messages.length, 1, '-1 means WeChat did nothing: sent once after the retry')

  const slow = new WechatClient({ ...DEFAULT_SIM_APP, baseUrl: control.baseUrl, timeoutMs: 100, retryBaseDelayMs: 1 })
  t.teardown(() => slow.close())
  await control.fault({ path: '/cgi-bin/message/custom/send', delayMs: 300 })
  await t.rejects(slow.sendCustomMessage({ accessToken, touser: openid, message: { msgtype: 'text', text: { content: 'slow' } } }), { code: 'WECHAT_TIMEOUT' })
  await new Promise((resolve) => setTimeout(resolve, 400))
  t.equal((await control.stats()).calls['/cgi-bin/message/custom/send'], 3, 'the timed-out send went out once, never repeated')
  t.equal(sim.simState.faults.pending(), 0)
})

t.test('setTyping rules through the client', async (t) => {
  const { control, client, accessToken } = await setup(t)
  const { openid } = await control.loginCode({ user: 'alice' })
  await t.rejects(client.setTyping({ accessToken, touser: openid, command: 'Typing' }), { code: 'WECHAT_TYPING_NO_INTERACTION', errcode: 45080 })
  await control.userAction({ openid, kind: 'message' })
  await client.setTyping({ accessToken, touser: openid, command: 'Typing' })
  t.equal((await control.sent(openid)).typing, true)
  await t.rejects(client.setTyping({ accessToken, touser: openid, command: 'Typing' }), { code: 'WECHAT_TYPING_ALREADY_ACTIVE', errcode: 45081 })
  await client.setTyping({ accessToken, touser: openid, command: 'CancelTyping' })
  await t.rejects(client.setTyping({ accessToken, touser: openid, command: 'typing' as never }), { code: 'WECHAT_TYPING_COMMAND_INVALID', errcode: 45072 })
  await control.advanceClock(31_000)
  await t.rejects(client.setTyping({ accessToken, touser: openid, command: 'Typing' }), { code: 'WECHAT_TYPING_NO_INTERACTION' })
})

t.test('uploadTempMedia and getTempMedia round trip; expiry and errors are typed', async (t) => {
  const { control, client, accessToken } = await setup(t)
  const uploaded = await client.uploadTempMedia({ accessToken, filename: 'pixel.png', contentType: 'image/png', data: PNG })
  t.match(uploaded, { type: 'image', mediaId: /^[A-Za-z0-9_-]{64}$/, createdAt: Math.floor(Date.UTC(2025, 0, 15, 4) / 1000) })
  const media = await client.getTempMedia({ accessToken, mediaId: uploaded.mediaId })
  t.equal(media.contentType, 'image/png')
  t.equal(media.filename, `${uploaded.mediaId}.png`)
  t.ok(media.body.equals(PNG))

  const { openid } = await control.userAction({ user: 'alice', kind: 'message' })
  await client.sendCustomMessage({ accessToken, touser: openid, message: { msgtype: 'image', image: { media_id: uploaded.mediaId } } })
  await client.sendCustomMessage({ accessToken, touser: openid, message: { msgtype: 'miniprogrampage', miniprogrampage: { title: 'Order', pagepath: 'pages/order/index?id=1', thumb_media_id: uploaded.mediaId } } })

  await t.rejects(client.uploadTempMedia({ accessToken, filename: 'a.png', contentType: 'image/png', data: PNG, type: 'voice' }), { code: 'WECHAT_MEDIA_TYPE_INVALID', errcode: 40004 })
  await t.rejects(client.getTempMedia({ accessToken, mediaId: 'nope' }), { code: 'WECHAT_MEDIA_INVALID', errcode: 40007 })
  await t.rejects(client.getTempMedia({ accessToken, mediaId: uploaded.mediaId, maxBytes: 10 }), { code: 'WECHAT_RESPONSE_INVALID', message: /larger than 10 bytes/ })

  const jpeg = Buffer.from([0xff, 0xd8, 0xff, 0xd9])
  const user = await control.userMedia({ contentType: 'image/jpeg', data: jpeg })
  t.ok((await client.getTempMedia({ accessToken, mediaId: user.mediaId })).body.equals(jpeg), 'a picture the user sent')

  await control.advanceClock(3 * 86_400_000)
  await t.rejects(client.getTempMedia({ accessToken, mediaId: uploaded.mediaId }), { code: 'WECHAT_MEDIA_INVALID' }, 'three days later')
  await t.rejects(client.sendCustomMessage({ accessToken, touser: openid, message: { msgtype: 'image', image: { media_id: uploaded.mediaId } } }), { code: 'WECHAT_MEDIA_INVALID' })
})

t.test('SimControl.push and pushConfig', async (t) => {
  const { control, client, accessToken } = await setup(t)
  const { url, received } = await startReceiver(t, (_r, n) => n === 1 ? { delayMs: 300 } : { body: 'success' })
  await control.pushConfig({ url, token: 'pushToken', encodingAESKey: AES_KEY, mode: 'compatible', format: 'xml' })
  const result = await control.push({ user: 'alice', message: { MsgType: 'text', Content: 'where is my order?' }, timeoutMs: 100 })
  t.match(result, { acceptable: true, deliveries: 2, attempts: [{ error: 'timeout' }, { status: 200 }], userAction: { kind: 'message' } })
  t.equal(received.length, 2)
  const crypt = new MsgCrypt({ token: 'pushToken', encodingAESKey: AES_KEY, appId: DEFAULT_SIM_APP.appId })
  const encrypt = /<Encrypt><!\[CDATA\[(.*?)\]\]><\/Encrypt>/.exec(received[1]!.body)![1]!
  t.match(crypt.decrypt(encrypt), new RegExp(`<MsgId>${result.message.MsgId as string}</MsgId>`))
  await client.sendCustomMessage({ accessToken, touser: result.message.FromUserName as string, message: { msgtype: 'text', text: { content: 'on its way' } } })
  t.equal((await control.sent({ user: 'alice' })).messages.length, 1)
})
