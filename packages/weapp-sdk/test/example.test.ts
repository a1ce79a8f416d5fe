// The example mini-program's logic (app.js, pages/<page>/<page>.js with the committed utils/weapp-sdk.js) run
// against the real system: the home page logs in, shows and edits the profile; the socket page shows the
// greeting, the echo and pushed events (a customer-service message pushed by WeChat, through cs-messaging).
import { randomUUID } from 'node:crypto'
import t from 'tap'
import { SimControl } from '@weapp/wechat-sim'
import type { Teardown } from '@weapp/test-kit'
import { loadMiniprogram, type LoadedMiniprogram } from './fixtures/miniprogram.js'
import { startTestSystem } from './fixtures/system.js'
import { createWxBridge, type WxBridge } from './fixtures/wx-bridge.js'
import { until } from './fixtures/wait.js'
import { freePort } from '../../../scripts/redis-server.js'

const system = await startTestSystem(t)
const sim = new SimControl(system.urls.sim)

/** Launches the example for a fresh simulated user, config.js pointed at this system. */
async function launch (t: Teardown, overrides: { baseUrl?: string } = {}): Promise<{ mp: LoadedMiniprogram, wx: WxBridge, user: string }> {
  const user = `mp-${randomUUID()}`
  const wx = createWxBridge({ simUrl: system.urls.sim, user, requestTimeoutMs: 10_000 })
  t.teardown(wx.closeAll)
  const config = {
    host: new URL(system.urls.gateway).host,
    baseUrl: overrides.baseUrl ?? system.urls.gateway,
    wsUrl: system.wsUrl,
    requestTimeoutMs: 10_000,
    socket: { heartbeatIntervalMs: 100, heartbeatTimeoutMs: 2000, backoff: { baseMs: 50, maxMs: 500 } }
  }
  const mp = await loadMiniprogram({ wx, modules: { 'config.js': config } })
  return { mp, wx, user }
}

t.test('app.js logs in at launch; the home page shares that login and shows the profile', async (t) => {
  const { mp, wx } = await launch(t)
  const page = await mp.open('pages/index/index')
  t.equal(page.data.loading, false)
  t.equal(page.data.error, '')
  t.match(page.data.user, { openid: /^o/, firstSeenAt: String })
  t.equal(wx.counts.login, 1, 'one wx.login for app.js and the page')
  t.equal(wx.requestCount('/api/login', 'POST'), 1)
  t.equal(wx.requestCount('/api/me', 'GET'), 1)
  t.equal(mp.app.globalData.user.openid, page.data.user.openid)
  t.same(mp.loaded().sort(), ['app.js', 'pages/index/index.js', 'utils/weapp-sdk.js'], 'the committed SDK copy, config.js replaced')
})

t.test('home page: edit the nickname (PUT /api/me) and see it; a bad one shows the server\'s code', async (t) => {
  const { mp, wx } = await launch(t)
  const page = await mp.open('pages/index/index')
  page.onNicknameInput({ detail: { value: '小明' } })
  t.equal(page.data.nicknameDraft, '小明')
  await page.saveNickname({ detail: { value: { nickname: '  小明  ' } } })
  t.equal(page.data.user.nickname, '小明', 'trimmed by the server')
  t.equal(page.data.nicknameDraft, '小明')
  t.equal(page.data.notice, '已保存')
  t.equal(wx.requestCount('/api/me', 'PUT'), 1)

  // A reload shows what the server has.
  const again = await mp.open('pages/index/index')
  t.equal(again.data.user.nickname, '小明')

  await page.saveNickname({ detail: { value: { nickname: '' } } })
  t.match(page.data.error, /\(VALIDATION_FAILED\)$/)
  t.equal(page.data.user.nickname, '小明', 'the profile shown is unchanged')
  t.equal(page.data.saving, false)
})

t.test('home page: chooseAvatar saves an https avatar; a local temp file stays local', async (t) => {
  const { mp, wx } = await launch(t)
  const page = await mp.open('pages/index/index')
  await page.onChooseAvatar({ detail: { avatarUrl: 'http://tmp/wx1234.jpeg' } })
  t.equal(page.data.avatarUrl, 'http://tmp/wx1234.jpeg', 'shown at once')
  t.match(page.data.notice, /本机/)
  t.equal(wx.requestCount('/api/me', 'PUT'), 0, 'not sent: PUT /api/me takes https URLs only')
  await page.onChooseAvatar({ detail: { avatarUrl: 'https://cdn.example.com/a/alice.png' } })
  t.equal(page.data.user.avatarUrl, 'https://cdn.example.com/a/alice.png')
  t.equal(page.data.avatarUrl, 'https://cdn.example.com/a/alice.png')
  t.equal(wx.requestCount('/api/me', 'PUT'), 1)
})

t.test('home page: logout, then log in again', async (t) => {
  const { mp, wx } = await launch(t)
  const page = await mp.open('pages/index/index')
  const openid = page.data.user.openid
  await page.logout()
  t.equal(page.data.user, null)
  t.equal(wx.requestCount('/api/logout', 'POST'), 1)
  t.equal(wx.storage.size, 0, 'token forgotten')
  await page.refresh()
  t.equal(page.data.user.openid, openid, 'same WeChat user, new session')
  t.equal(wx.counts.login, 2)
})

t.test('home page: the backend unreachable shows a typed network error', async (t) => {
  const { mp } = await launch(t, { baseUrl: `http://127.0.0.1:${await freePort()}` })
  const page = await mp.open('pages/index/index')
  t.equal(page.data.user, null)
  t.equal(page.data.loading, false)
  t.match(page.data.error, /^request:fail .*\(SDK_NETWORK_ERROR\)$/)
})

t.test('socket page: greeting, echo, and the state', async (t) => {
  const { mp, wx } = await launch(t)
  const home = await mp.open('pages/index/index')
  await home.saveNickname({ detail: { value: { nickname: 'Echo Ed' } } })
  const page = await mp.open('pages/socket/socket')
  t.teardown(async () => { await mp.close(page) })
  await until(() => page.data.greeting !== '', 10_000, 'greeting', () => page.data)
  t.equal(page.data.greeting, 'Server: 恭喜，Echo Ed')
  t.equal(page.data.state, 'open')
  t.equal(page.data.stateText, '已连接')
  page.onDraftInput({ detail: { value: 'hello mini-program' } })
  page.sendEcho()
  t.equal(page.data.draft, '', 'input cleared')
  await until(() => page.data.messages.length === 2, 5000, 'echo', () => page.data)
  t.match(page.data.messages, [{ dir: 'in', text: 'Server: Received(hello mini-program)' }, { dir: 'out', text: 'hello mini-program' }])
  t.equal(wx.requestCount('/api/ws/tickets', 'POST'), 1)

  // The realtime service restarts: the page shows the reconnection and comes back by itself.
  await system.restart('realtime')
  await until(() => page.data.reconnects >= 1 && page.data.state === 'open', 20_000, 'reconnected', () => page.data)
  page.onDraftInput({ detail: { value: 'again' } })
  page.sendEcho()
  await until(() => page.data.messages[0]?.text === 'Server: Received(again)', 5000, 'echo after the restart')
  await mp.close(page)
  t.equal(page.data.state, 'closed', 'onUnload closed the socket')
  await until(() => wx.sockets.length === 0, 5000, 'socket closed on unload')
})

// Without Redis too: realtime-ws's bus hub carries cs-messaging's events (BUS_HUB_URL, scripts/system.ts).
t.test('socket page: a customer-service message pushed by WeChat shows up as an event', async (t) => {
  const { mp, user } = await launch(t)
  const page = await mp.open('pages/socket/socket')
  t.teardown(async () => { await mp.close(page) })
  await until(() => page.data.state === 'open' && page.data.greeting !== '', 10_000, 'open', () => page.data)
  // The user writes in the customer-service chat; WeChat pushes it to /wechat/callback (safe mode, XML).
  const pushed = await sim.push({ user, message: { MsgType: 'text', Content: '你好，客服' } })
  t.equal(pushed.acceptable, true, 'cs-messaging acknowledged the push')
  await until(() => page.data.events.length >= 1, 10_000, 'pushed event', () => page.data)
  t.match(page.data.events[0], { event: 'cs.inbound', summary: '客服消息：你好，客服' })
})
