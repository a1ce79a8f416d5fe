// The footprint bench's peer: the tutorial's own server (bench/peers/seed) runs here, its hard-coded
// jscode2session call redirected to the project's simulator (wechat-redirect.js), and a wafer gen-1 login
// and /me work against it as the tutorial's mini-program would do them.
import { DEFAULT_SIM_APP } from '@weapp/wechat-sim'
import { startSimulator } from '@weapp/test-kit'
import t from 'tap'
import { stopAll } from '../lib/processes.js'
import { startSeed, waferLogin, waferMe } from '../lib/seed-peer.js'
import { freePort } from '../../scripts/redis-server.js'

const { url: simUrl, control } = await startSimulator(t)

const seed = await startSeed('seed', await freePort(), { wechatApiBase: simUrl, appId: DEFAULT_SIM_APP.appId, appSecret: DEFAULT_SIM_APP.appSecret })
t.teardown(() => stopAll([seed]))

t.test('a wafer login reaches the simulator instead of api.weixin.qq.com, and /me answers the user', async (t) => {
  const before = (await control.stats()).calls['/sns/jscode2session'] ?? 0
  const session = await waferLogin(seed.url, control, 'alice')
  t.match(session.id, /^[0-9a-f]{64}$/)
  t.match(session.skey, /^[0-9a-f]{40}$/)
  t.equal((await control.stats()).calls['/sns/jscode2session'], before + 1, 'jscode2session answered by the simulator')
  const me = await waferMe(seed.url, session)
  t.equal(me.nickName, 'alice', 'the userInfo decrypted with the simulator’s session_key')
})

t.test('the tutorial’s answers without a session', async (t) => {
  t.same(await (await fetch(`${seed.url}/me`)).json(), { noBody: true })
  t.equal(await (await fetch(`${seed.url}/`)).text(), 'Response from express')
  const refused = await (await fetch(`${seed.url}/login`, { headers: { 'x-wx-code': 'not-a-code', 'x-wx-encrypted-data': 'AAAA', 'x-wx-iv': 'AAAA' } })).json()
  t.equal(refused.type, 'ERR_LOGIN_FAILED', 'a code the simulator refuses fails the login')
})
